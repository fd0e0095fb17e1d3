//! `shrike scenario eval`: triage output measured against a scenario's ground truth.
//!
//! Reads `truth.json` and, per triage output directory, `entities.ndjson` (fusion entity
//! reports), `tickets.ndjson`, `alerts.ndjson` and `summary.json`. Computes, per attacked
//! entity, its rank by fused score among all entities (pessimistic ranking: the number of
//! entities scoring at least as high, itself included, so ties count against it; the score is
//! the peak fused score when reports carry it) and percentile (rank / entities × 100), whether it
//! crossed the routing threshold and the time from its first attack event to crossing; per
//! output, the alerts-to-tickets reduction (1 − tickets / alerts) and ticket precision/recall
//! (a ticket whose entity is attacked is a hit, one whose entity is incidental is ignored, any
//! other is a false positive; recall counts attacked entities with a ticket).

use std::collections::{BTreeMap, BTreeSet};
use std::io::BufRead;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::Serialize;
use serde_json::Value;

use super::build::Truth;

/// Canonical entity kind spelling (`CloudPrincipal`, `cloud-principal` → `cloud_principal`).
pub fn canon_kind(k: &str) -> String {
    let mut out = String::new();
    for (i, c) in k.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 && !out.ends_with('_') {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else if c == '-' || c == ' ' {
            out.push('_');
        } else {
            out.push(c);
        }
    }
    out
}

/// One attacked entity's result in one triage output.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct EntityResult {
    /// Kind.
    pub kind: String,
    /// Key.
    pub key: String,
    /// Fused score (None: no entity report, i.e. no alert on it).
    pub score: Option<f64>,
    /// Rank by score (1 = highest).
    pub rank: Option<usize>,
    /// rank / entities × 100.
    pub percentile: Option<f64>,
    /// Crossed the routing threshold.
    pub crossed: bool,
    /// crossed_ms − first attack event time.
    pub time_to_threshold_ms: Option<i64>,
    /// Has a ticket.
    pub ticketed: bool,
}

/// One triage output's evaluation.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RunResult {
    /// Label (strategy).
    pub label: String,
    /// The directory.
    pub dir: PathBuf,
    /// Entities in entities.ndjson.
    pub entities: usize,
    /// Alerts.
    pub alerts: u64,
    /// Tickets.
    pub tickets: u64,
    /// 1 − tickets / alerts (None without alerts).
    pub reduction: Option<f64>,
    /// Tickets for attacked entities.
    pub tickets_true: u64,
    /// Tickets for neither attacked nor incidental entities.
    pub tickets_false: u64,
    /// Tickets for incidental entities (not counted).
    pub tickets_incidental: u64,
    /// tickets_true / (tickets_true + tickets_false).
    pub precision: Option<f64>,
    /// Attacked entities with a ticket / attacked entities.
    pub recall: Option<f64>,
    /// Stories with at least one ticketed attacked entity / stories.
    pub story_recall: Option<f64>,
    /// Attacked entities ranked in the top 1 %.
    pub in_top_1pct: usize,
    /// Attacked entities that crossed the threshold.
    pub crossed: usize,
    /// Per attacked entity.
    pub per_entity: Vec<EntityResult>,
}

/// The whole evaluation.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Evaluation {
    /// Attacked entities in the truth.
    pub attacked: usize,
    /// Per triage output.
    pub runs: Vec<RunResult>,
}

fn read_ndjson(path: &Path) -> Result<Vec<Value>> {
    let f = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut out = Vec::new();
    for (i, line) in std::io::BufReader::new(f).lines().enumerate() {
        let line = line.with_context(|| format!("reading {}", path.display()))?;
        if line.trim().is_empty() {
            continue;
        }
        let v: Value = serde_json::from_str(&line)
            .with_context(|| format!("{}:{}: invalid JSON", path.display(), i + 1))?;
        out.push(v);
    }
    Ok(out)
}

fn count_lines(path: &Path) -> Result<u64> {
    let f = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut n = 0;
    for line in std::io::BufReader::new(f).lines() {
        if !line?.trim().is_empty() {
            n += 1;
        }
    }
    Ok(n)
}

fn entity_of(v: &Value) -> Option<(String, String)> {
    let e = v.get("entity").unwrap_or(v);
    let kind = e
        .get("kind")
        .or_else(|| v.get("entity_kind"))
        .and_then(Value::as_str)?;
    let key = e
        .get("key")
        .or_else(|| v.get("entity_key"))
        .and_then(Value::as_str)?;
    Some((canon_kind(kind), key.to_owned()))
}

/// The label of a triage output: the fusion strategy named in its summary or config, else the
/// directory name.
fn label_of(dir: &Path, summary: Option<&Value>) -> String {
    let from_summary = summary.and_then(|s| {
        s.get("strategy")
            .or_else(|| s.pointer("/fusion/strategy"))
            .or_else(|| s.pointer("/config/fusion/strategy"))
            .and_then(Value::as_str)
            .map(str::to_owned)
    });
    from_summary.unwrap_or_else(|| {
        dir.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| dir.display().to_string())
    })
}

/// Evaluates one triage output directory against the truth.
pub fn evaluate_dir(truth: &Truth, dir: &Path) -> Result<RunResult> {
    evaluate_dir_with(truth, dir, &BTreeMap::new())
}

/// The estate's IP-to-host pairs from the scenario's `assets.csv` (columns `hostname` and
/// `ips`, `;`- or space-separated): fusion folds an IP the inventory knows into its host, so an
/// attacked IP is measured through its host's report.
pub fn ip_hosts(assets_csv: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let Ok(text) = std::fs::read_to_string(assets_csv) else {
        return out;
    };
    let mut lines = text.lines();
    let Some(header) = lines.next() else {
        return out;
    };
    let cols: Vec<&str> = header.split(',').collect();
    let (Some(h), Some(i)) = (
        cols.iter().position(|c| *c == "hostname"),
        cols.iter().position(|c| *c == "ips"),
    ) else {
        return out;
    };
    for l in lines {
        let f: Vec<&str> = l.split(',').collect();
        if let (Some(host), Some(ips)) = (f.get(h), f.get(i)) {
            for ip in ips.split([';', ' ', '|']).filter(|s| !s.is_empty()) {
                out.insert(ip.to_string(), host.to_ascii_lowercase());
            }
        }
    }
    out
}

/// [`evaluate_dir`] with the estate's IP-to-host pairs.
pub fn evaluate_dir_with(
    truth: &Truth,
    dir: &Path,
    ip_hosts: &BTreeMap<String, String>,
) -> Result<RunResult> {
    let summary: Option<Value> = match std::fs::read_to_string(dir.join("summary.json")) {
        Ok(s) => Some(serde_json::from_str(&s).context("parsing summary.json")?),
        Err(_) => None,
    };
    let reports = read_ndjson(&dir.join("entities.ndjson"))?;
    let tickets = read_ndjson(&dir.join("tickets.ndjson"))?;
    let alerts = match summary
        .as_ref()
        .and_then(|s| s.get("alerts"))
        .and_then(Value::as_u64)
    {
        Some(n) => n,
        None => count_lines(&dir.join("alerts.ndjson"))?,
    };
    let mut scores: Vec<f64> = Vec::with_capacity(reports.len());
    let mut by_entity: BTreeMap<(String, String), &Value> = BTreeMap::new();
    for r in &reports {
        let s = rank_score(r).unwrap_or(0.0);
        scores.push(s);
        if let Some(k) = entity_of(r) {
            by_entity.entry(k).or_insert(r);
        }
    }
    let n = reports.len();
    let attacked: BTreeSet<(String, String)> = truth
        .attacked
        .iter()
        .map(|e| (canon_kind(&e.kind), e.key.clone()))
        .collect();
    let incidental: BTreeSet<(String, String)> = truth
        .incidental
        .iter()
        .map(|e| (canon_kind(&e.kind), e.key.clone()))
        .collect();
    let mut ticketed: BTreeSet<(String, String)> = BTreeSet::new();
    let (mut tt, mut tf, mut ti) = (0u64, 0u64, 0u64);
    for t in &tickets {
        let Some(k) = entity_of(t) else {
            tf += 1;
            continue;
        };
        if attacked.contains(&k) {
            tt += 1;
        } else if incidental.contains(&k) {
            ti += 1;
        } else {
            tf += 1;
        }
        ticketed.insert(k);
    }
    // Time to threshold runs from the story's first attack event (any of its entities).
    let mut story_first: BTreeMap<&String, i64> = BTreeMap::new();
    for e in &truth.attacked {
        for st in &e.stories {
            let v = story_first.entry(st).or_insert(e.first_ms);
            *v = (*v).min(e.first_ms);
        }
    }
    let mut per_entity = Vec::new();
    for e in &truth.attacked {
        let k = (canon_kind(&e.kind), e.key.clone());
        let first_ms = e
            .stories
            .iter()
            .filter_map(|st| story_first.get(st).copied())
            .min()
            .unwrap_or(e.first_ms);
        let rep = by_entity.get(&k).or_else(|| {
            (k.0 == "ip")
                .then(|| ip_hosts.get(&k.1))
                .flatten()
                .and_then(|h| by_entity.get(&("host".to_string(), h.clone())))
        });
        let score = rep.and_then(|r| rank_score(r));
        let rank = score.map(|s| scores.iter().filter(|&&x| x >= s).count().max(1));
        let percentile = rank.map(|r| r as f64 / n.max(1) as f64 * 100.0);
        let crossed_ms = rep
            .and_then(|r| r.get("crossed_ms"))
            .and_then(Value::as_i64);
        let crossed = rep
            .and_then(|r| r.get("above_threshold"))
            .and_then(Value::as_bool)
            .unwrap_or(false)
            || crossed_ms.is_some();
        per_entity.push(EntityResult {
            kind: k.0.clone(),
            key: k.1.clone(),
            score,
            rank,
            percentile,
            crossed,
            time_to_threshold_ms: crossed_ms.map(|c| c - first_ms),
            ticketed: ticketed.contains(&k),
        });
    }
    let stories: BTreeSet<&String> = truth.attacked.iter().flat_map(|e| &e.stories).collect();
    let stories_hit: BTreeSet<&String> = truth
        .attacked
        .iter()
        .filter(|e| ticketed.contains(&(canon_kind(&e.kind), e.key.clone())))
        .flat_map(|e| &e.stories)
        .collect();
    let ratio = |a: usize, b: usize| (b > 0).then(|| a as f64 / b as f64);
    let n_tickets = tickets.len() as u64;
    Ok(RunResult {
        label: label_of(dir, summary.as_ref()),
        dir: dir.to_path_buf(),
        entities: n,
        alerts,
        tickets: n_tickets,
        reduction: (alerts > 0).then(|| 1.0 - n_tickets as f64 / alerts as f64),
        tickets_true: tt,
        tickets_false: tf,
        tickets_incidental: ti,
        precision: ratio(tt as usize, (tt + tf) as usize),
        recall: ratio(
            per_entity.iter().filter(|e| e.ticketed).count(),
            per_entity.len(),
        ),
        story_recall: ratio(stories_hit.len(), stories.len()),
        in_top_1pct: per_entity
            .iter()
            .filter(|e| e.percentile.is_some_and(|p| p <= 1.0))
            .count(),
        crossed: per_entity.iter().filter(|e| e.crossed).count(),
        per_entity,
    })
}

/// Loads the truth and evaluates every directory.
pub fn evaluate(truth_path: &Path, dirs: &[PathBuf]) -> Result<Evaluation> {
    let text = std::fs::read_to_string(truth_path)
        .with_context(|| format!("reading {}", truth_path.display()))?;
    let truth: Truth =
        serde_json::from_str(&text).with_context(|| format!("parsing {}", truth_path.display()))?;
    let ips = ip_hosts(&truth_path.with_file_name("assets.csv"));
    let mut runs = Vec::new();
    for d in dirs {
        runs.push(
            evaluate_dir_with(&truth, d, &ips)
                .with_context(|| format!("evaluating {}", d.display()))?,
        );
    }
    Ok(Evaluation {
        attacked: truth.attacked.len(),
        runs,
    })
}

/// The score an entity is ranked by: its peak fused score over the run when the report has it
/// (an attack early in the run must not rank low just because its evidence decayed by the
/// end), else its final score.
fn rank_score(r: &Value) -> Option<f64> {
    r.get("peak_score")
        .and_then(Value::as_f64)
        .or_else(|| r.get("score").and_then(Value::as_f64))
}

fn pct(x: Option<f64>) -> String {
    x.map_or("–".to_owned(), |v| format!("{:.1}%", v * 100.0))
}

fn median(mut v: Vec<i64>) -> Option<i64> {
    if v.is_empty() {
        return None;
    }
    v.sort_unstable();
    Some(v[v.len() / 2])
}

fn fmt_ms(ms: Option<i64>) -> String {
    match ms {
        None => "–".to_owned(),
        Some(m) if m.abs() < 60_000 => format!("{:.1} s", m as f64 / 1000.0),
        Some(m) => format!("{:.1} min", m as f64 / 60_000.0),
    }
}

/// The markdown report: a comparison table across runs, then per-entity detail.
pub fn report_markdown(ev: &Evaluation) -> String {
    let mut s = String::new();
    s.push_str(&format!(
        "## Scenario evaluation\n\n{} attacked entities in the ground truth.\n\n",
        ev.attacked
    ));
    s.push_str("| strategy | entities | attacked in top 1% | worst rank (pct) | crossed | median time to threshold | alerts | tickets | reduction | ticket precision | recall | story recall |\n");
    s.push_str("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    for r in &ev.runs {
        let worst = r
            .per_entity
            .iter()
            .map(|e| e.rank.unwrap_or(usize::MAX))
            .max();
        let worst_txt = match worst {
            None => "–".to_owned(),
            Some(usize::MAX) => "missing".to_owned(),
            Some(w) => format!("{w} ({:.2}%)", w as f64 / r.entities.max(1) as f64 * 100.0),
        };
        let ttt = median(
            r.per_entity
                .iter()
                .filter_map(|e| e.time_to_threshold_ms)
                .collect(),
        );
        s.push_str(&format!(
            "| {} | {} | {}/{} | {} | {}/{} | {} | {} | {} | {} | {} ({}/{}) | {} | {} |\n",
            r.label,
            r.entities,
            r.in_top_1pct,
            r.per_entity.len(),
            worst_txt,
            r.crossed,
            r.per_entity.len(),
            fmt_ms(ttt),
            r.alerts,
            r.tickets,
            pct(r.reduction),
            pct(r.precision),
            r.tickets_true,
            r.tickets_true + r.tickets_false,
            pct(r.recall),
            pct(r.story_recall),
        ));
    }
    for r in &ev.runs {
        s.push_str(&format!(
            "\n### {} ({})\n\n| entity | score | rank | percentile | crossed | time to threshold | ticket |\n|---|---:|---:|---:|---|---:|---|\n",
            r.label,
            r.dir.display()
        ));
        for e in &r.per_entity {
            s.push_str(&format!(
                "| {}:{} | {} | {} | {} | {} | {} | {} |\n",
                e.kind,
                e.key,
                e.score.map_or("–".to_owned(), |v| format!("{v:.4}")),
                e.rank.map_or("–".to_owned(), |v| v.to_string()),
                e.percentile.map_or("–".to_owned(), |v| format!("{v:.2}%")),
                if e.crossed { "yes" } else { "no" },
                fmt_ms(e.time_to_threshold_ms),
                if e.ticketed { "yes" } else { "no" },
            ));
        }
    }
    s
}

/// Writes one simulated disposition per ticket of `triage_dir/tickets.ndjson`, in the case
/// store's feedback export shape (`ticket_id`, `disposition`, `reason`, `analyst`, `at_ms`,
/// `entity_kind`, `entity_key`, `alerts[].uid`): `true_positive` when the ticket's entity is
/// attacked or incidental in the truth, `false_positive` otherwise. Returns (true, false).
pub fn simulate_feedback(truth_path: &Path, triage_dir: &Path, out: &Path) -> Result<(u64, u64)> {
    use std::io::Write;
    let text = std::fs::read_to_string(truth_path)
        .with_context(|| format!("reading {}", truth_path.display()))?;
    let truth: Truth =
        serde_json::from_str(&text).with_context(|| format!("parsing {}", truth_path.display()))?;
    let bad: BTreeSet<(String, String)> = truth
        .attacked
        .iter()
        .chain(&truth.incidental)
        .map(|e| (canon_kind(&e.kind), e.key.clone()))
        .collect();
    let tickets = read_ndjson(&triage_dir.join("tickets.ndjson"))?;
    let mut w = std::io::BufWriter::new(
        std::fs::File::create(out).with_context(|| format!("creating {}", out.display()))?,
    );
    let (mut tp, mut fp) = (0u64, 0u64);
    for t in &tickets {
        let Some(k) = entity_of(t) else { continue };
        let is_tp = bad.contains(&k);
        if is_tp {
            tp += 1;
        } else {
            fp += 1;
        }
        let alerts: Vec<Value> = t
            .get("alerts")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|a| a.get("uid").cloned())
            .map(|uid| serde_json::json!({"uid": uid}))
            .collect();
        let row = serde_json::json!({
            "ticket_id": t.get("id"),
            "disposition": if is_tp { "true_positive" } else { "false_positive" },
            "reason": "simulated from the scenario ground truth",
            "analyst": "scenario-truth",
            "at_ms": t.get("created_ms"),
            "entity_kind": k.0,
            "entity_key": k.1,
            "alerts": alerts,
        });
        writeln!(w, "{row}")?;
    }
    w.flush()?;
    Ok((tp, fp))
}
