//! Per-feature quantile binning: the trainer's view of the features.
//!
//! Each feature gets at most [`MAX_VALUE_BINS`] value bins plus one missing bin (code
//! [`MISSING`]). Bin boundaries ("cuts") are thresholds strictly between two distinct training
//! values `a < b`, chosen with `a < cut <= b`, and a value's bin is the number of cuts `<=` it. So
//! for every value `x`, `bin(x) <= k` exactly when `x < cuts[k]`: a split "bins `0..=k` left" is
//! the serving rule `x < cuts[k]`, bit for bit, on training and unseen data alike.
//!
//! `-0.0` and `0.0` compare equal under `<`, so they are one distinct value here too.

use crate::Dataset;

/// Code of the missing (NaN) bin in [`Binned::column`].
pub(crate) const MISSING: u8 = 255;
/// Most value bins per feature (codes `0..=254`).
pub(crate) const MAX_VALUE_BINS: usize = 255;

/// A dataset's features as bin codes, feature-major.
#[derive(Debug, Clone)]
pub(crate) struct Binned {
    pub(crate) n_rows: usize,
    pub(crate) n_features: usize,
    /// `codes[f * n_rows + r]`: bin of row `r`'s feature `f`, or [`MISSING`].
    codes: Vec<u8>,
    /// Per feature: strictly increasing cuts; the feature has `cuts.len() + 1` value bins.
    cuts: Vec<Vec<f32>>,
    /// Per feature: smallest non-missing training value (`None` when all are missing). The
    /// threshold of the "missing vs everything else" split.
    min_value: Vec<Option<f32>>,
}

impl Binned {
    /// Bins every feature of `data` with at most `max_bins` value bins (clamped to
    /// `2..=MAX_VALUE_BINS`), using up to `n_threads` threads (by feature; the result does not
    /// depend on the thread count).
    pub(crate) fn new(data: &Dataset, max_bins: usize, n_threads: usize) -> Binned {
        let max_bins = max_bins.clamp(2, MAX_VALUE_BINS);
        let (n, nf) = (data.n_rows, data.n_features);
        let mut codes = vec![MISSING; n * nf];
        let mut cuts = vec![Vec::new(); nf];
        let mut min_value = vec![None; nf];
        let threads = n_threads.clamp(1, nf.max(1));
        let per = nf.div_ceil(threads).max(1);
        let work =
            |f0: usize, codes: &mut [u8], cuts: &mut [Vec<f32>], mins: &mut [Option<f32>]| {
                let mut values = Vec::with_capacity(n);
                for (k, ((col, c), m)) in codes
                    .chunks_mut(n.max(1))
                    .zip(cuts.iter_mut())
                    .zip(mins.iter_mut())
                    .enumerate()
                {
                    let f = f0 + k;
                    values.clear();
                    values.extend(
                        (0..n)
                            .map(|r| data.x[r * nf + f])
                            .filter(|v| !v.is_nan())
                            // Adding 0.0 turns -0.0 into 0.0: one distinct value under `<`.
                            .map(|v| v + 0.0),
                    );
                    *c = cuts_for(&mut values, max_bins);
                    *m = values.first().copied();
                    for (r, code) in col.iter_mut().enumerate() {
                        *code = bin_of(c, data.x[r * nf + f]);
                    }
                }
            };
        std::thread::scope(|s| {
            let mut rest_codes = codes.as_mut_slice();
            let mut rest_cuts = cuts.as_mut_slice();
            let mut rest_mins = min_value.as_mut_slice();
            let mut f0 = 0;
            let mut handles = Vec::new();
            while !rest_cuts.is_empty() {
                let k = per.min(rest_cuts.len());
                let (c, rc) = std::mem::take(&mut rest_codes).split_at_mut(k * n);
                let (u, ru) = std::mem::take(&mut rest_cuts).split_at_mut(k);
                let (m, rm) = std::mem::take(&mut rest_mins).split_at_mut(k);
                (rest_codes, rest_cuts, rest_mins) = (rc, ru, rm);
                let start = f0;
                f0 += k;
                if rest_cuts.is_empty() {
                    // The last chunk runs on this thread.
                    work(start, c, u, m);
                } else {
                    handles.push(s.spawn(move || work(start, c, u, m)));
                }
            }
            for h in handles {
                // A panic in a worker is a bug in this module; re-raise it here.
                if let Err(p) = h.join() {
                    std::panic::resume_unwind(p);
                }
            }
        });
        Binned {
            n_rows: n,
            n_features: nf,
            codes,
            cuts,
            min_value,
        }
    }

    /// Bin codes of feature `f` for every row.
    pub(crate) fn column(&self, f: usize) -> &[u8] {
        &self.codes[f * self.n_rows..(f + 1) * self.n_rows]
    }

    /// Number of value bins of feature `f` (0 when the feature is always missing).
    pub(crate) fn n_value_bins(&self, f: usize) -> usize {
        if self.min_value[f].is_none() {
            0
        } else {
            self.cuts[f].len() + 1
        }
    }

    /// The float threshold of split "bins `0..=bin` go left" on feature `f`; `bin == -1` means no
    /// value goes left (only missing values can), whose threshold is the smallest training value.
    pub(crate) fn threshold(&self, f: usize, bin: i32) -> f32 {
        match usize::try_from(bin) {
            Ok(b) => self.cuts[f][b],
            Err(_) => self.min_value[f].unwrap_or(f32::NEG_INFINITY),
        }
    }

    /// Cuts of feature `f`.
    #[cfg(test)]
    pub(crate) fn cuts(&self, f: usize) -> &[f32] {
        &self.cuts[f]
    }
}

/// Whether a row with bin `code` goes left at a split on bin `bin`.
#[inline]
pub(crate) fn goes_left(code: u8, bin: i32, default_left: bool) -> bool {
    if code == MISSING {
        default_left
    } else {
        i32::from(code) <= bin
    }
}

/// The bin of `x` given a feature's cuts: the number of cuts `<= x`, or [`MISSING`] for NaN.
pub(crate) fn bin_of(cuts: &[f32], x: f32) -> u8 {
    if x.is_nan() {
        return MISSING;
    }
    // At most MAX_VALUE_BINS - 1 = 254 cuts, so the count fits below MISSING.
    cuts.partition_point(|&t| t <= x) as u8
}

/// Cuts for one feature's non-missing values (sorted in place), at most `max_bins - 1` of them.
///
/// With at most `max_bins` distinct values every value gets its own bin. Otherwise bins are
/// greedy quantiles of the value counts: walking up the distinct values, a bin closes once it
/// holds at least `remaining rows / remaining bins` rows, so a heavy value (say, thousands of
/// zeros) fills its own bin and the rest are shared evenly.
pub(crate) fn cuts_for(values: &mut [f32], max_bins: usize) -> Vec<f32> {
    values.sort_unstable_by(f32::total_cmp);
    let mut distinct: Vec<(f32, usize)> = Vec::new();
    for &v in values.iter() {
        match distinct.last_mut() {
            Some((last, count)) if *last == v => *count += 1,
            _ => distinct.push((v, 1)),
        }
    }
    let mut cuts = Vec::new();
    if distinct.len() <= 1 {
        return cuts;
    }
    if distinct.len() <= max_bins {
        for w in distinct.windows(2) {
            cuts.push(cut_between(w[0].0, w[1].0));
        }
        return cuts;
    }
    let mut remaining_rows = values.len() as f64;
    let mut remaining_bins = max_bins as f64;
    let mut in_bin = 0usize;
    for (i, &(_, count)) in distinct.iter().enumerate().take(distinct.len() - 1) {
        in_bin += count;
        if in_bin as f64 >= remaining_rows / remaining_bins {
            cuts.push(cut_between(distinct[i].0, distinct[i + 1].0));
            remaining_rows -= in_bin as f64;
            remaining_bins -= 1.0;
            in_bin = 0;
            if remaining_bins <= 1.0 {
                break;
            }
        }
    }
    cuts
}

/// A threshold `t` with `a < t <= b` for `a < b`: the midpoint when it lands strictly above `a`
/// after rounding to `f32`, else `b` itself.
fn cut_between(a: f32, b: f32) -> f32 {
    let mid = ((f64::from(a) + f64::from(b)) / 2.0) as f32;
    if mid > a && mid <= b {
        mid
    } else {
        b
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn column_dataset(values: &[f32]) -> Dataset {
        let n = values.len();
        Dataset::new(values.to_vec(), n, 1, vec![0.0; n], vec![1.0; n]).expect("valid")
    }

    /// The defining property: code <= k exactly when x < cuts[k], for every value and cut.
    fn assert_exact(values: &[f32], b: &Binned) {
        let cuts = b.cuts(0);
        assert!(cuts.windows(2).all(|w| w[0] < w[1]), "cuts increase");
        for (r, &x) in values.iter().enumerate() {
            let code = b.column(0)[r];
            if x.is_nan() {
                assert_eq!(code, MISSING);
                continue;
            }
            for (k, &t) in cuts.iter().enumerate() {
                assert_eq!(goes_left(code, k as i32, false), x < t, "x={x} t={t}");
            }
            assert!(!goes_left(code, -1, false));
            assert!(x >= b.threshold(0, -1));
        }
    }

    #[test]
    fn few_distinct_values_get_one_bin_each_with_midpoint_cuts() {
        let v = [3.0, 1.0, 2.0, 1.0, f32::NAN, 3.0];
        let b = Binned::new(&column_dataset(&v), 255, 1);
        assert_eq!(b.cuts(0), &[1.5, 2.5]);
        assert_eq!(b.column(0), &[2, 0, 1, 0, MISSING, 2]);
        assert_eq!(b.n_value_bins(0), 3);
        assert_eq!(b.threshold(0, -1), 1.0);
        assert_eq!(b.threshold(0, 1), 2.5);
        assert_exact(&v, &b);
    }

    #[test]
    fn adjacent_floats_negative_zero_and_infinities_split_exactly() {
        let a = 1.0f32;
        let next = f32::from_bits(a.to_bits() + 1);
        let v = [
            a,
            next,
            -0.0,
            0.0,
            f32::INFINITY,
            f32::NEG_INFINITY,
            f32::MAX,
            f32::MIN,
        ];
        let b = Binned::new(&column_dataset(&v), 255, 1);
        // -0.0 and 0.0 are one value: 7 distinct values, 6 cuts.
        assert_eq!(b.cuts(0).len(), 6);
        assert_eq!(b.column(0)[2], b.column(0)[3]);
        // Between 1.0 and its successor the midpoint rounds to 1.0, so the cut is the successor.
        assert!(b.cuts(0).contains(&next));
        assert_exact(&v, &b);
    }

    #[test]
    fn many_distinct_values_are_quantile_binned_within_limit() {
        let v: Vec<f32> = (0..10_000)
            .map(|i| ((i * 7919) % 10_000) as f32 * 0.37)
            .collect();
        let b = Binned::new(&column_dataset(&v), 255, 2);
        assert_eq!(b.n_value_bins(0), 255);
        let mut counts = [0usize; 256];
        for &c in b.column(0) {
            counts[c as usize] += 1;
        }
        // Even quantiles: 10,000 / 255 ≈ 39 rows per bin.
        assert!(
            counts[..255].iter().all(|&c| (39..=40).contains(&c)),
            "{counts:?}"
        );
        assert_exact(&v, &b);
        let b16 = Binned::new(&column_dataset(&v), 16, 1);
        assert_eq!(b16.n_value_bins(0), 16);
        assert_exact(&v, &b16);
    }

    #[test]
    fn heavy_value_gets_its_own_bin() {
        let mut v = vec![0.0f32; 5000];
        v.extend((1..=1000).map(|i| i as f32));
        let b = Binned::new(&column_dataset(&v), 10, 1);
        assert_eq!(b.cuts(0)[0], 0.5);
        assert!(b.n_value_bins(0) <= 10);
        assert_exact(&v, &b);
    }

    #[test]
    fn all_missing_or_constant_features_have_no_cuts() {
        let nan = Binned::new(&column_dataset(&[f32::NAN; 4]), 255, 1);
        assert_eq!(nan.n_value_bins(0), 0);
        assert_eq!(nan.column(0), &[MISSING; 4]);
        let constant = Binned::new(&column_dataset(&[2.0, 2.0, f32::NAN]), 255, 1);
        assert_eq!(constant.n_value_bins(0), 1);
        assert_eq!(constant.threshold(0, -1), 2.0);
    }

    #[test]
    fn thread_count_does_not_change_bins() {
        let n = 500;
        let nf = 7;
        let mut rng = crate::rng::Rng::new(9);
        let x: Vec<f32> = (0..n * nf)
            .map(|i| {
                if i % 11 == 0 {
                    f32::NAN
                } else {
                    (rng.normal() * 10.0).round() as f32
                }
            })
            .collect();
        let d = Dataset::new(x, n, nf, vec![0.0; n], vec![1.0; n]).expect("valid");
        let a = Binned::new(&d, 20, 1);
        let b = Binned::new(&d, 20, 2);
        let c = Binned::new(&d, 20, 5);
        assert_eq!(a.codes, b.codes);
        assert_eq!(a.codes, c.codes);
        assert_eq!(a.cuts, c.cuts);
    }
}
