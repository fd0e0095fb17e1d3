//! Event labels for the Mordor captures, derived from per-capture attack *seeds*.
//!
//! Mordor labels are per capture, not per event: each capture records one technique on a live
//! lab, and almost every event in it is background. [`derive_labels`] turns a capture's seeds
//! (content/models/endpoint-labels.yaml) into event labels:
//!
//! 1. A process is an *attack process* when a seed matches it (image path and/or command-line
//!    substrings, case-insensitive, on a launched process or on any event's actor process); with
//!    `parent: true` the seed's launching process (the C2 agent or attacker shell) is one too.
//! 2. Attack status flows to descendants by process lineage: `process.uid` / `actor.process.uid`
//!    (Sysmon), with the pid on the same host as a fallback for events without a uid (Security
//!    log). An attack process's uid marks its pid (so its Security-log events count), never the
//!    other way round, so a pid reused by another process cannot taint that process's Sysmon
//!    events.
//! 3. **Positive**: the launch of an attack process, and every event whose actor (or, with no
//!    actor, whose process) is an attack process: its registry writes, process access, file
//!    writes, module loads, network connections, script blocks, exit.
//! 4. **Excluded** (weight 0): events that touch an attack process as the *target* while their
//!    actor is not one (reactions of other processes), and events with no process attribution at
//!    all on a host and log that has positives within ±10 s (logons, handle closes, service
//!    control records caused by the attack that lineage cannot attribute).
//! 5. **Negative**: everything else in the capture (background).
//!
//! Limits: pid reuse inside a capture could merge two processes (captures last minutes, so this
//! is rare); lateral-movement effects on a *remote* host are only positive when lineage reaches
//! them (a WMI or service launch there is a new root unless a seed names it).
//!
//! [`load_capture`] reads one archive (decode + the bundled mappings), for training and tests
//! only; detection itself does no I/O.

use std::collections::{HashMap, HashSet, VecDeque};
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use shrike_normalize::decode::{decode_path, DecodeOptions};
use shrike_normalize::{DecodeItem, Engine};

use super::features::image_of;

/// The label seed file (content/models/endpoint-labels.yaml).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LabelFile {
    /// File format version (1).
    pub version: u32,
    /// Seeded captures.
    pub captures: Vec<CaptureSeeds>,
    /// Captures left out, with the reason.
    #[serde(default)]
    pub left_out: Vec<LeftOut>,
}

/// One capture and its seeds.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaptureSeeds {
    /// Archive path relative to the Mordor directory.
    pub file: String,
    /// Upstream metadata id (`SDWIN-...`), when there is one.
    #[serde(default)]
    pub metadata: Option<String>,
    /// Capture date (`YYYY-MM-DD`, from the data's time range): what the split orders by.
    pub date: String,
    /// The capture's time range as written in the data (documentation).
    #[serde(default)]
    pub window: Option<String>,
    /// The attack seeds.
    pub seeds: Vec<Seed>,
    /// Why these seeds (evidence in the metadata or the data).
    #[serde(default)]
    pub note: Option<String>,
}

/// One seed: every given condition must hold (at least one must be given).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Seed {
    /// Substring of the process image path (case-insensitive).
    #[serde(default)]
    pub image: Option<String>,
    /// Substring of the process command line (case-insensitive).
    #[serde(default)]
    pub cmd: Option<String>,
    /// Also mark the process that launched the seed (the attacker's shell or C2 agent).
    #[serde(default)]
    pub parent: bool,
}

/// A capture left out of training.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LeftOut {
    /// Archive path relative to the Mordor directory.
    pub file: String,
    /// Why it cannot be seeded honestly.
    pub reason: String,
}

/// Label of one event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventLabel {
    /// Part of the attack.
    Positive,
    /// Background.
    Negative,
    /// Not attributable with confidence (weight 0).
    Excluded,
}

/// Counts per capture.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct LabelCounts {
    /// Positive events.
    pub positives: usize,
    /// Negative events.
    pub negatives: usize,
    /// Excluded events.
    pub excluded: usize,
    /// Attack processes (distinct process keys after lineage, uid and pid aliases counted once
    /// per key).
    pub attack_process_keys: usize,
}

impl LabelFile {
    /// Parses the YAML seed file and checks every capture has a usable seed.
    pub fn parse(text: &str) -> Result<LabelFile, String> {
        let f: LabelFile = serde_yaml_ng::from_str(text).map_err(|e| e.to_string())?;
        if f.version != 1 {
            return Err(format!("unsupported label file version {}", f.version));
        }
        for c in &f.captures {
            if c.seeds.is_empty() {
                return Err(format!("{}: no seeds", c.file));
            }
            for s in &c.seeds {
                let empty = |o: &Option<String>| o.as_deref().is_none_or(str::is_empty);
                if empty(&s.image) && empty(&s.cmd) {
                    return Err(format!("{}: a seed needs image or cmd", c.file));
                }
            }
            if parse_date_ms(&c.date).is_none() {
                return Err(format!("{}: date {:?} is not YYYY-MM-DD", c.file, c.date));
            }
        }
        Ok(f)
    }
}

/// `YYYY-MM-DD` → ms since the epoch (UTC midnight).
pub fn parse_date_ms(s: &str) -> Option<i64> {
    let mut it = s.trim().splitn(3, '-');
    let y: i64 = it.next()?.parse().ok()?;
    let m: i64 = it.next()?.parse().ok()?;
    let d: i64 = it.next()?.parse().ok()?;
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    // Days from civil (H. Hinnant).
    let y2 = if m <= 2 { y - 1 } else { y };
    let era = if y2 >= 0 { y2 } else { y2 - 399 } / 400;
    let yoe = y2 - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    Some((era * 146_097 + doe - 719_468) * 86_400_000)
}

/// Reads one capture archive: decodes it, maps every record with `engine`, and returns the
/// events sorted by time (stable) and the number of records that did not map or decode.
pub fn load_capture(path: &Path, engine: &Engine) -> std::io::Result<(Vec<Value>, u64)> {
    let mut events = Vec::new();
    let mut rejected = 0u64;
    let mut sink = |item: DecodeItem| match item {
        DecodeItem::Record(rec) => match engine.normalize(rec) {
            Ok(n) => events.push(n.event),
            Err(_) => rejected += 1,
        },
        DecodeItem::Quarantined(_) => rejected += 1,
    };
    decode_path(path, &DecodeOptions::default(), &mut sink)?;
    events.sort_by_key(time_of);
    Ok((events, rejected))
}

/// Event time in ms (0 when absent).
pub fn time_of(e: &Value) -> i64 {
    e.get("time").and_then(Value::as_i64).unwrap_or(0)
}

/// Host part of a host name, lower-cased (`WORKSTATION5.theshire.local` → `workstation5`), so the
/// Sysmon and Security spellings of one host agree. Used for label keys only.
fn host_of(e: &Value) -> String {
    let h = e
        .get("device")
        .and_then(|d| d.get("hostname"))
        .and_then(Value::as_str)
        .unwrap_or("");
    h.split('.').next().unwrap_or("").to_ascii_lowercase()
}

#[derive(Clone, Copy, PartialEq, Eq, Hash)]
enum Key<'a> {
    Uid(&'a str),
    Pid(u64),
}

type HostKey<'a> = (&'a str, Key<'a>);

fn keys_of<'a>(host: &'a str, p: &'a Value) -> Vec<HostKey<'a>> {
    let mut v = Vec::with_capacity(2);
    if let Some(uid) = p
        .get("uid")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
    {
        v.push((host, Key::Uid(uid)));
    }
    // pid 0 (Idle) and 4 (System) are never attack processes and would alias everything.
    if let Some(pid) = p.get("pid").and_then(Value::as_u64).filter(|&p| p > 4) {
        v.push((host, Key::Pid(pid)));
    }
    v
}

fn contains_ci(hay: &str, needle: &str) -> bool {
    if needle.is_empty() {
        return true;
    }
    let n = needle.as_bytes();
    hay.as_bytes()
        .windows(n.len())
        .any(|w| w.eq_ignore_ascii_case(n))
}

fn seed_matches(seed: &Seed, image: Option<&str>, cmd: Option<&str>) -> bool {
    let img_ok = match seed.image.as_deref().filter(|s| !s.is_empty()) {
        Some(s) => image.is_some_and(|i| contains_ci(i, s)),
        None => true,
    };
    let cmd_ok = match seed.cmd.as_deref().filter(|s| !s.is_empty()) {
        Some(s) => cmd.is_some_and(|c| contains_ci(c, s)),
        None => true,
    };
    img_ok && cmd_ok
}

fn is_launch(e: &Value) -> bool {
    e.get("class_uid").and_then(Value::as_u64) == Some(1007)
        && e.get("activity_id").and_then(Value::as_u64) == Some(1)
}

/// Derives event labels for one capture's events (in any order) from its seeds.
pub fn derive_labels(events: &[Value], seeds: &[Seed]) -> (Vec<EventLabel>, LabelCounts) {
    let hosts: Vec<String> = events.iter().map(host_of).collect();
    let null = Value::Null;
    // Graph: alias edges (both ways) and parent -> child edges.
    let mut edges: HashMap<HostKey<'_>, Vec<HostKey<'_>>> = HashMap::new();
    let mut marked: HashSet<HostKey<'_>> = HashSet::new();
    for (e, host) in events.iter().zip(&hosts) {
        let actor = e
            .get("actor")
            .and_then(|a| a.get("process"))
            .unwrap_or(&null);
        let proc_ = e.get("process").unwrap_or(&null);
        let ak = keys_of(host, actor);
        let pk = keys_of(host, proc_);
        // uid -> pid only: an attack process's pid finds its pid-only (Security log) events,
        // but a pid never leads back to a uid, so a pid reused by another process cannot taint
        // that process's Sysmon events.
        for ks in [&ak, &pk] {
            if let [u @ (_, Key::Uid(_)), p @ (_, Key::Pid(_))] = ks.as_slice() {
                edges.entry(*u).or_default().push(*p);
            }
        }
        let launch = is_launch(e);
        if launch {
            // Parent identity (uid, else pid) -> child identity.
            if let (Some(a), Some(p)) = (ak.first(), pk.first()) {
                edges.entry(*a).or_default().push(*p);
            }
        }
        for s in seeds {
            // The launched process.
            if launch {
                let cmd = proc_
                    .get("cmd_line")
                    .and_then(Value::as_str)
                    .or_else(|| e.get("cmd_line").and_then(Value::as_str));
                if seed_matches(s, image_of(proc_), cmd) {
                    marked.extend(pk.first().copied());
                    if s.parent {
                        marked.extend(ak.first().copied());
                    }
                }
            }
            // The actor of any event.
            let acmd = actor.get("cmd_line").and_then(Value::as_str);
            if !actor.is_null() && seed_matches(s, image_of(actor), acmd) {
                marked.extend(ak.first().copied());
            }
        }
    }
    // Lineage closure.
    let mut attack: HashSet<HostKey<'_>> = HashSet::new();
    let mut queue: VecDeque<HostKey<'_>> = marked.into_iter().collect();
    while let Some(k) = queue.pop_front() {
        if !attack.insert(k) {
            continue;
        }
        if let Some(next) = edges.get(&k) {
            queue.extend(next.iter().copied().filter(|n| !attack.contains(n)));
        }
    }
    // Seed matches on events without any process key (PowerShell 800 carries only the host
    // application's command line) are positive directly.
    let direct = |e: &Value| -> bool {
        let actor = e
            .get("actor")
            .and_then(|a| a.get("process"))
            .unwrap_or(&null);
        !actor.is_null()
            && seeds.iter().any(|s| {
                seed_matches(
                    s,
                    image_of(actor),
                    actor.get("cmd_line").and_then(Value::as_str),
                )
            })
    };
    let mut labels = Vec::with_capacity(events.len());
    let mut unattributed = Vec::new();
    let mut pos_times: HashMap<(&str, &str), Vec<i64>> = HashMap::new();
    for (i, (e, host)) in events.iter().zip(&hosts).enumerate() {
        let actor = e
            .get("actor")
            .and_then(|a| a.get("process"))
            .unwrap_or(&null);
        let proc_ = e.get("process").unwrap_or(&null);
        let ak = keys_of(host, actor);
        let pk = keys_of(host, proc_);
        // A process is identified by its uid when it has one, else by its pid.
        let hit = |ks: &[HostKey<'_>]| ks.first().is_some_and(|k| attack.contains(k));
        let label = if is_launch(e) {
            if hit(&pk) {
                EventLabel::Positive
            } else {
                EventLabel::Negative
            }
        } else if hit(&ak) || (ak.is_empty() && direct(e)) {
            EventLabel::Positive
        } else if ak.is_empty() && hit(&pk) && actor.is_null() {
            // No actor: the event is about the process itself (Security 4689 exit).
            EventLabel::Positive
        } else if hit(&pk) {
            EventLabel::Excluded
        } else if ak.is_empty() && pk.is_empty() {
            unattributed.push(i);
            EventLabel::Negative
        } else {
            EventLabel::Negative
        };
        if label == EventLabel::Positive {
            let log = e
                .get("metadata")
                .and_then(|m| m.get("log_name"))
                .and_then(Value::as_str)
                .unwrap_or("");
            pos_times
                .entry((host.as_str(), log))
                .or_default()
                .push(time_of(e));
        }
        labels.push(label);
    }
    for v in pos_times.values_mut() {
        v.sort_unstable();
    }
    for i in unattributed {
        let e = &events[i];
        let log = e
            .get("metadata")
            .and_then(|m| m.get("log_name"))
            .and_then(Value::as_str)
            .unwrap_or("");
        if let Some(times) = pos_times.get(&(hosts[i].as_str(), log)) {
            let t = time_of(e);
            let j = times.partition_point(|&x| x < t - 10_000);
            if times.get(j).is_some_and(|&x| x <= t + 10_000) {
                labels[i] = EventLabel::Excluded;
            }
        }
    }
    let mut counts = LabelCounts {
        attack_process_keys: attack.len(),
        ..LabelCounts::default()
    };
    for l in &labels {
        match l {
            EventLabel::Positive => counts.positives += 1,
            EventLabel::Negative => counts.negatives += 1,
            EventLabel::Excluded => counts.excluded += 1,
        }
    }
    (labels, counts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(parse_date_ms("1970-01-01"), Some(0));
        assert_eq!(parse_date_ms("2020-10-18"), Some(1_602_979_200_000));
        assert_eq!(parse_date_ms("2020-13-01"), None);
        assert_eq!(parse_date_ms("x"), None);
    }
}
