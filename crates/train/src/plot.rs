//! Evaluation plots as plain, hand-written SVG (no plotting dependency).
//!
//! Each function returns a complete, fixed-size (640 × 480) standalone SVG document: axes from 0
//! to 1 with ticks every 0.2, light grid lines, a title and a legend. Labels are XML-escaped.
//! Curves are `<polyline>`s with coordinates rounded to 0.1 px; consecutive points that round to
//! the same position are written once, which keeps curves over tens of thousands of scores small.
//! PNG output is deliberately absent: it would need a rasteriser dependency; browsers, report
//! viewers and `rsvg-convert` all read SVG.

use std::fmt::Write as _;

use crate::metrics::{PrCurve, ReliabilityBin, RocCurve};

const WIDTH: f64 = 640.0;
const HEIGHT: f64 = 480.0;
const LEFT: f64 = 64.0;
const RIGHT: f64 = 24.0;
const TOP: f64 = 40.0;
const BOTTOM: f64 = 56.0;
const PALETTE: [&str; 10] = [
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
    "#bcbd22", "#17becf",
];

/// Escapes text for XML content and attribute values.
pub fn escape_xml(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // Control characters other than tab/newline are not allowed in XML 1.0.
            c if c.is_control() && c != '\t' && c != '\n' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// Pixel x of a value in [0, 1].
fn px(v: f64) -> f64 {
    LEFT + v.clamp(0.0, 1.0) * (WIDTH - LEFT - RIGHT)
}

/// Pixel y of a value in [0, 1].
fn py(v: f64) -> f64 {
    HEIGHT - BOTTOM - v.clamp(0.0, 1.0) * (HEIGHT - TOP - BOTTOM)
}

/// Document head, frame, grid, ticks, axis labels and title.
fn frame(title: &str, x_label: &str, y_label: &str) -> String {
    let mut s = String::new();
    let _ = write!(
        s,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{WIDTH}\" height=\"{HEIGHT}\" \
         viewBox=\"0 0 {WIDTH} {HEIGHT}\" font-family=\"sans-serif\" font-size=\"12\">\n\
         <rect width=\"{WIDTH}\" height=\"{HEIGHT}\" fill=\"white\"/>\n"
    );
    for k in 0..=5 {
        let v = f64::from(k) / 5.0;
        let (x, y) = (px(v), py(v));
        let _ = write!(
            s,
            "<line x1=\"{x:.1}\" y1=\"{:.1}\" x2=\"{x:.1}\" y2=\"{:.1}\" stroke=\"#e5e5e5\"/>\n\
             <line x1=\"{:.1}\" y1=\"{y:.1}\" x2=\"{:.1}\" y2=\"{y:.1}\" stroke=\"#e5e5e5\"/>\n\
             <line x1=\"{x:.1}\" y1=\"{:.1}\" x2=\"{x:.1}\" y2=\"{:.1}\" stroke=\"black\"/>\n\
             <text x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{v:.1}</text>\n\
             <line x1=\"{:.1}\" y1=\"{y:.1}\" x2=\"{:.1}\" y2=\"{y:.1}\" stroke=\"black\"/>\n\
             <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{v:.1}</text>\n",
            py(0.0),
            py(1.0),
            px(0.0),
            px(1.0),
            py(0.0),
            py(0.0) + 5.0,
            py(0.0) + 18.0,
            px(0.0) - 5.0,
            px(0.0),
            px(0.0) - 8.0,
            y + 4.0,
        );
    }
    let _ = write!(
        s,
        "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"none\" stroke=\"black\"/>\n\
         <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>\n\
         <text x=\"16\" y=\"{:.1}\" text-anchor=\"middle\" transform=\"rotate(-90 16 {:.1})\">{}</text>\n\
         <text x=\"{:.1}\" y=\"24\" text-anchor=\"middle\" font-size=\"15\">{}</text>\n",
        px(0.0),
        py(1.0),
        px(1.0) - px(0.0),
        py(0.0) - py(1.0),
        (px(0.0) + px(1.0)) / 2.0,
        HEIGHT - 14.0,
        escape_xml(x_label),
        (py(0.0) + py(1.0)) / 2.0,
        (py(0.0) + py(1.0)) / 2.0,
        escape_xml(y_label),
        WIDTH / 2.0,
        escape_xml(title),
    );
    s
}

/// A polyline through `(x, y)` data points (each in [0, 1]), skipping points that round to the
/// previous pixel position. Nothing when fewer than one point remains.
fn polyline(out: &mut String, pts: impl Iterator<Item = (f64, f64)>, style: &str) {
    let mut coords = String::new();
    let mut last = String::new();
    let mut n = 0;
    for (x, y) in pts {
        let c = format!("{:.1},{:.1}", px(x), py(y));
        if c != last {
            if n > 0 {
                coords.push(' ');
            }
            coords.push_str(&c);
            last = c;
            n += 1;
        }
    }
    if n > 0 {
        let _ = writeln!(out, "<polyline fill=\"none\" {style} points=\"{coords}\"/>");
    }
}

/// A legend box listing `(label, colour)` in the lower-left (`low`) or upper-left corner.
fn legend(out: &mut String, entries: &[(String, &str)], low: bool) {
    if entries.is_empty() {
        return;
    }
    let h = 18.0 * entries.len() as f64 + 8.0;
    let longest = entries
        .iter()
        .map(|(l, _)| l.chars().count())
        .max()
        .unwrap_or(0);
    let w = (7.0 * longest as f64 + 40.0).min(WIDTH - LEFT - RIGHT - 20.0);
    let x0 = px(0.0) + 10.0;
    let y0 = if low {
        py(0.0) - 10.0 - h
    } else {
        py(1.0) + 10.0
    };
    let _ = writeln!(
        out,
        "<rect x=\"{x0:.1}\" y=\"{y0:.1}\" width=\"{w:.1}\" height=\"{h:.1}\" fill=\"white\" fill-opacity=\"0.85\" stroke=\"#999\"/>"
    );
    for (i, (label, colour)) in entries.iter().enumerate() {
        let y = y0 + 16.0 + 18.0 * i as f64;
        let _ = writeln!(
            out,
            "<line x1=\"{:.1}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\" stroke=\"{colour}\" stroke-width=\"2\"/>\n\
             <text x=\"{:.1}\" y=\"{y:.1}\">{}</text>",
            x0 + 6.0,
            y - 4.0,
            x0 + 26.0,
            y - 4.0,
            x0 + 32.0,
            escape_xml(label)
        );
    }
}

/// Precision–recall curves, one per `(label, curve)` (e.g. one per data source), drawn as steps
/// whose area is the average precision; the legend shows each curve's AP. Recall on x,
/// precision on y.
pub fn pr_curve_svg<S: AsRef<str>>(curves: &[(S, PrCurve)]) -> String {
    let mut s = frame("Precision–recall", "Recall", "Precision");
    let mut entries = Vec::new();
    for (i, (label, curve)) in curves.iter().enumerate() {
        let colour = PALETTE[i % PALETTE.len()];
        // Steps: from (R_{k-1}, P_k) to (R_k, P_k), with R_0 = 0.
        let mut prev_recall = 0.0;
        let steps = curve.points.iter().flat_map(|p| {
            let from = (prev_recall, p.precision);
            prev_recall = p.recall;
            [from, (p.recall, p.precision)]
        });
        polyline(
            &mut s,
            steps,
            &format!("stroke=\"{colour}\" stroke-width=\"1.5\""),
        );
        let text = match curve.average_precision() {
            Some(ap) => format!("{} (AP {ap:.3})", label.as_ref()),
            None => format!("{} (no positives)", label.as_ref()),
        };
        entries.push((text, colour));
    }
    legend(&mut s, &entries, true);
    s.push_str("</svg>\n");
    s
}

/// ROC curves, one per `(label, curve)`, with the chance diagonal; the legend shows each AUC.
pub fn roc_svg<S: AsRef<str>>(curves: &[(S, RocCurve)]) -> String {
    let mut s = frame("ROC", "False-positive rate", "True-positive rate");
    let _ = writeln!(
        s,
        "<line x1=\"{:.1}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\" stroke=\"#999\" stroke-dasharray=\"4 4\"/>",
        px(0.0),
        py(0.0),
        px(1.0),
        py(1.0)
    );
    let mut entries = Vec::new();
    for (i, (label, curve)) in curves.iter().enumerate() {
        let colour = PALETTE[i % PALETTE.len()];
        polyline(
            &mut s,
            curve.points.iter().map(|p| (p.fpr, p.tpr)),
            &format!("stroke=\"{colour}\" stroke-width=\"1.5\""),
        );
        let text = match curve.auc() {
            Some(auc) => format!("{} (AUC {auc:.3})", label.as_ref()),
            None => format!("{} (one class)", label.as_ref()),
        };
        entries.push((text, colour));
    }
    legend(&mut s, &entries, false);
    s.push_str("</svg>\n");
    s
}

/// Reliability diagram: per non-empty bin, a bar up to the observed positive fraction with the
/// row count above it, and a point at (mean predicted, observed) joined by a line; the diagonal
/// is perfect calibration. `ece` goes in the title (`NaN` prints as "n/a").
pub fn reliability_svg(bins: &[ReliabilityBin], ece: f64) -> String {
    let title = if ece.is_finite() {
        format!("Reliability (ECE {ece:.4})")
    } else {
        "Reliability (ECE n/a)".to_string()
    };
    let mut s = frame(
        &title,
        "Mean predicted probability",
        "Observed positive fraction",
    );
    let _ = writeln!(
        s,
        "<line x1=\"{:.1}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\" stroke=\"#999\" stroke-dasharray=\"4 4\"/>",
        px(0.0),
        py(0.0),
        px(1.0),
        py(1.0)
    );
    let filled: Vec<(&ReliabilityBin, f64, f64)> = bins
        .iter()
        .filter_map(|b| Some((b, b.mean_predicted?, b.observed_fraction?)))
        .collect();
    for &(b, _, obs) in &filled {
        let (x0, x1) = (px(b.lower), px(b.upper));
        let _ = writeln!(
            s,
            "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"#1f77b4\" fill-opacity=\"0.25\" stroke=\"#1f77b4\"/>\n\
             <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" font-size=\"10\">n={}</text>",
            x0 + 1.0,
            py(obs),
            (x1 - x0 - 2.0).max(0.0),
            py(0.0) - py(obs),
            (x0 + x1) / 2.0,
            (py(obs) - 4.0).max(TOP + 10.0),
            b.count
        );
    }
    polyline(
        &mut s,
        filled.iter().map(|&(_, m, o)| (m, o)),
        "stroke=\"#d62728\" stroke-width=\"1.5\"",
    );
    for &(_, m, o) in &filled {
        let _ = writeln!(
            s,
            "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"3\" fill=\"#d62728\"/>",
            px(m),
            py(o)
        );
    }
    legend(
        &mut s,
        &[
            ("observed fraction per bin".to_string(), "#1f77b4"),
            ("mean predicted vs observed".to_string(), "#d62728"),
        ],
        false,
    );
    s.push_str("</svg>\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::{pr_curve, reliability_bins, roc_curve};

    /// Minimal well-formedness check: every tag closes in order, attribute values are quoted
    /// without raw `<`, and every `&` starts a known entity.
    fn assert_well_formed(svg: &str) {
        let mut stack: Vec<String> = Vec::new();
        let mut rest = svg;
        while let Some(i) = rest.find('<') {
            let text = &rest[..i];
            assert_entities(text);
            let end = rest[i..].find('>').expect("tag closes") + i;
            let tag = &rest[i + 1..end];
            assert!(!tag.contains('<'), "raw < inside tag: {tag}");
            if let Some(name) = tag.strip_prefix('/') {
                assert_eq!(stack.pop().as_deref(), Some(name.trim()), "tag nesting");
            } else if !tag.ends_with('/') {
                let name = tag.split_whitespace().next().expect("tag name");
                stack.push(name.to_string());
            }
            assert_entities(tag);
            rest = &rest[end + 1..];
        }
        assert!(rest.trim().is_empty());
        assert!(stack.is_empty(), "unclosed: {stack:?}");
        assert!(svg.starts_with("<svg "));
    }

    fn assert_entities(s: &str) {
        for (i, _) in s.match_indices('&') {
            let ent = &s[i..];
            assert!(
                ["&amp;", "&lt;", "&gt;", "&quot;", "&apos;"]
                    .iter()
                    .any(|e| ent.starts_with(e)),
                "bare & in {s}"
            );
        }
    }

    /// Number of points of each polyline, in document order.
    fn polyline_points(svg: &str) -> Vec<usize> {
        svg.match_indices("<polyline")
            .map(|(i, _)| {
                let p = &svg[i..];
                let start = p.find("points=\"").expect("points") + 8;
                let end = p[start..].find('"').expect("closing quote") + start;
                p[start..end].split(' ').count()
            })
            .collect()
    }

    #[test]
    fn pr_svg_has_steps_legend_and_escaped_labels() {
        // Points (R, P): (.5, 1), (.5, .5), (1, 2/3), (1, .5).
        // Steps: (0,1)(.5,1) | (.5,.5)(.5,.5) | (.5,2/3)(1,2/3) | (1,.5)(1,.5) -> 6 distinct.
        let c = pr_curve(&[0.1, 0.4, 0.35, 0.8], &[0.0, 0.0, 1.0, 1.0]);
        let empty = pr_curve(&[0.1], &[0.0]);
        let svg = pr_curve_svg(&[
            ("phish <kit> & co", c.clone()),
            ("\"quoted\" 'src'", c),
            ("none", empty),
        ]);
        assert_well_formed(&svg);
        assert_eq!(polyline_points(&svg), vec![6, 6]);
        assert!(svg.contains("phish &lt;kit&gt; &amp; co (AP 0.833)"));
        assert!(svg.contains("&quot;quoted&quot; &apos;src&apos;"));
        assert!(svg.contains("none (no positives)"));
        assert!(svg.contains(">0.4</text>"), "tick labels");
    }

    #[test]
    fn roc_and_reliability_svgs() {
        let roc = roc_curve(&[0.1, 0.4, 0.35, 0.8], &[0.0, 0.0, 1.0, 1.0], &[]);
        let svg = roc_svg(&[("all", roc)]);
        assert_well_formed(&svg);
        assert_eq!(polyline_points(&svg), vec![5]);
        assert!(svg.contains("all (AUC 0.750)"));

        let s = [0.1, 0.1, 0.15, 0.15, 0.9, 1.0, 0.55];
        let y = [0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 1.0];
        let bins = reliability_bins(&s, &y, 10);
        let svg = reliability_svg(&bins, 0.1234);
        assert_well_formed(&svg);
        // Three non-empty bins: one polyline with three points, three bars and counts.
        assert_eq!(polyline_points(&svg), vec![3]);
        assert_eq!(svg.matches("<circle").count(), 3);
        assert!(svg.contains(">n=4</text>") && svg.contains(">n=2</text>"));
        assert!(svg.contains("Reliability (ECE 0.1234)"));
        let empty = reliability_svg(&[], f64::NAN);
        assert_well_formed(&empty);
        assert!(empty.contains("ECE n/a"));
        assert!(polyline_points(&empty).is_empty());
    }

    #[test]
    fn dense_curves_are_thinned_to_pixels() {
        let n = 50_000;
        let s: Vec<f64> = (0..n).map(|i| f64::from(i) / f64::from(n)).collect();
        let y: Vec<f32> = (0..n).map(|i| f32::from(u8::from(i % 3 == 0))).collect();
        let svg = pr_curve_svg(&[("dense", pr_curve(&s, &y))]);
        assert_well_formed(&svg);
        let pts = polyline_points(&svg);
        assert_eq!(pts.len(), 1);
        assert!(pts[0] < 20_000, "{} points", pts[0]);
    }
}
