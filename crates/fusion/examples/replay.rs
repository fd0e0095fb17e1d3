//! Replays the candidate alerts of a `shrike triage` run (`alerts.ndjson`) through a [`Fuser`]
//! and measures the ranking against a scenario's ground truth (`truth.json`).
//!
//! Run: `cargo run -p shrike-fusion --example replay -- <alerts.ndjson> <truth.json>
//! [assets.csv] [strategy]`
//!
//! Asset criticality and static IPs come from `assets.csv` (columns `hostname`, `ips`,
//! `criticality`), intel matches from each alert's `intel` field, as `shrike triage` does.
//! DHCP leases are not replayed (they are events, not alerts).

#![allow(missing_docs)]

use std::collections::{HashMap, HashSet};

use serde_json::Value;
use shrike_detect::Alert;
use shrike_fusion::{EntityId, Fuser, FusionConfig, StrategyKind};

fn main() {
    if let Err(e) = run() {
        eprintln!("replay: {e}");
        std::process::exit(2);
    }
}

fn run() -> Result<(), String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(alerts_path), Some(truth_path)) = (args.first(), args.get(1)) else {
        return Err("usage: replay <alerts.ndjson> <truth.json> [assets.csv] [strategy]".into());
    };
    let mut cfg = FusionConfig::default();
    if let Some(s) = args.get(3) {
        cfg.strategy = serde_json::from_value::<StrategyKind>(Value::String(s.clone()))
            .map_err(|e| format!("strategy {s}: {e}"))?;
    }
    if let Some(a) = std::env::var("REPLAY_ALPHA")
        .ok()
        .and_then(|a| a.parse().ok())
    {
        cfg.prevalence_alpha = a;
    }
    let mut crit: HashMap<String, u8> = HashMap::new();
    let mut statics: Vec<(String, String)> = Vec::new();
    if let Some(p) = args.get(2) {
        let text = std::fs::read_to_string(p).map_err(|e| format!("{p}: {e}"))?;
        let mut lines = text.lines();
        let header: Vec<&str> = lines.next().unwrap_or("").split(',').collect();
        let col = |name: &str| header.iter().position(|h| *h == name);
        let (h, ips, c) = (col("hostname"), col("ips"), col("criticality"));
        for line in lines {
            let f: Vec<&str> = line.split(',').collect();
            let Some(host) = h.and_then(|i| f.get(i)).filter(|x| !x.is_empty()) else {
                continue;
            };
            if let Some(v) = c.and_then(|i| f.get(i)).and_then(|x| x.parse::<u8>().ok()) {
                crit.insert((*host).to_owned(), v);
            }
            if let Some(list) = ips.and_then(|i| f.get(i)) {
                for ip in list.split(';').filter(|x| !x.is_empty()) {
                    statics.push((ip.to_owned(), (*host).to_owned()));
                }
            }
        }
    }
    let mut fuser = Fuser::new(cfg).map_err(|e| e.to_string())?;
    fuser = fuser.with_criticality(Box::new(move |id: &EntityId| crit.get(&id.key).copied()));
    for (ip, host) in &statics {
        fuser.resolver_mut().add_static(ip, host);
    }
    let text = std::fs::read_to_string(alerts_path).map_err(|e| format!("{alerts_path}: {e}"))?;
    let (mut crossings, mut alerts, mut bad) = (0usize, 0usize, 0usize);
    let mut routed: HashSet<EntityId> = HashSet::new();
    for line in text.lines() {
        let Ok(mut v) = serde_json::from_str::<Value>(line) else {
            bad += 1;
            continue;
        };
        let intel = v.get("intel").and_then(|i| {
            Some((
                i.get("confidence")?.as_f64()?,
                i.get("match")?.as_str()?.to_owned(),
            ))
        });
        // Reasons are not used by fusion; a NaN feature value is written as `null`, which
        // `Reason` does not read back.
        if let Some(s) = v.get_mut("score").and_then(Value::as_object_mut) {
            s.remove("reasons");
        }
        let Ok(alert) = serde_json::from_value::<Alert>(v) else {
            bad += 1;
            continue;
        };
        alerts += 1;
        let o = fuser.observe(&alert, intel.as_ref().map(|(c, m)| (*c, m.as_str())));
        crossings += o.crossings.len();
        routed.extend(o.crossings.into_iter().map(|r| r.entity));
    }
    let truth: Value = serde_json::from_str(
        &std::fs::read_to_string(truth_path).map_err(|e| format!("{truth_path}: {e}"))?,
    )
    .map_err(|e| format!("{truth_path}: {e}"))?;
    let attacked: Vec<(String, String)> = truth
        .get("attacked")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|x| {
                    Some((
                        x.get("kind")?.as_str()?.to_owned(),
                        x.get("key")?.as_str()?.to_owned(),
                    ))
                })
                .collect()
        })
        .unwrap_or_default();
    let reports = fuser.reports();
    let above = reports.iter().filter(|r| r.above_threshold).count();
    let rank_of = |list: &[(String, String)]| -> Vec<(String, Option<usize>)> {
        attacked
            .iter()
            .map(|(k, key)| {
                let r = list.iter().position(|(a, b)| a == k && b == key);
                (format!("{k} {key}"), r.map(|i| i + 1))
            })
            .collect()
    };
    let by_report: Vec<(String, String)> = reports
        .iter()
        .map(|r| (r.entity.kind_str().to_owned(), r.entity.key.clone()))
        .collect();
    let mut by_live = reports.clone();
    by_live.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then_with(|| a.entity.cmp(&b.entity))
    });
    let by_live: Vec<(String, String)> = by_live
        .iter()
        .map(|r| (r.entity.kind_str().to_owned(), r.entity.key.clone()))
        .collect();
    for (k, key) in &attacked {
        if !routed.iter().any(|e| e.kind_str() == k && &e.key == key) {
            println!("attacked, not routed: {k} {key}");
        }
    }
    let attacked_routed = attacked
        .iter()
        .filter(|(k, key)| routed.iter().any(|e| e.kind_str() == k && &e.key == key))
        .count();
    println!(
        "alerts {alerts} (unreadable {bad}); entities {}; above threshold at the end {above}; \
         crossings (tickets) {crossings}; entities routed {} ({} of {} attacked)",
        reports.len(),
        routed.len(),
        attacked_routed,
        attacked.len()
    );
    let show = |name: &str, ranks: Vec<(String, Option<usize>)>| {
        let mut r: Vec<usize> = ranks.iter().filter_map(|x| x.1).collect();
        r.sort_unstable();
        println!("ranks of attacked entities by {name}: {r:?}");
        for (e, k) in ranks {
            println!(
                "  {e}: {}",
                k.map_or("absent".to_owned(), |x| x.to_string())
            );
        }
    };
    show("reports() order", rank_of(&by_report));
    show("live score", rank_of(&by_live));
    println!("top 15 by reports() order:");
    for r in reports.iter().take(15) {
        let top = r
            .contributions
            .first()
            .map(|c| format!("{} [{}]", c.title, c.source))
            .unwrap_or_default();
        println!(
            "  {:<45} score {:.4} alerts {:>5}  top: {top}",
            r.entity.to_string(),
            r.score,
            r.alerts
        );
    }
    if let Ok(who) = std::env::var("REPLAY_SHOW") {
        for r in reports.iter().filter(|r| r.entity.to_string() == who) {
            println!("{}", serde_json::to_string_pretty(r).unwrap_or_default());
        }
    }
    let s = fuser.stats();
    println!("{}", serde_json::to_string(&s).unwrap_or_default());
    Ok(())
}
