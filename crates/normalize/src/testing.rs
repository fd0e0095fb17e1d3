//! `shrike test mappings`: every mapping folder under `content/mappings` holds its `mapping.yaml`
//! and sample pairs `NAME.input.EXT` (raw records in any format the decoders read) with
//! `NAME.expected.json` (the OCSF events, a JSON array). A sample passes when decoding and
//! mapping the input gives exactly the expected events, each produced by the folder's own
//! mapping, and each expected event validates against OCSF 1.8.0.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::decode::{decode_bytes, DecodeOptions};
use crate::mapping::Engine;
use crate::{DecodeItem, Source};

/// One sample pair.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sample {
    /// The mapping folder.
    pub dir: PathBuf,
    /// `NAME.input.EXT`.
    pub input: PathBuf,
    /// `NAME.expected.json`.
    pub expected: PathBuf,
}

/// What running one sample found.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// The input file, relative to the content root.
    pub name: String,
    /// Events produced.
    pub events: usize,
    /// Problems; empty means the sample passed.
    pub problems: Vec<String>,
}

/// Every sample under `root`, sorted. Folders with a `mapping.yaml` but no sample are reported
/// as a problem by [`missing_samples`].
pub fn find_samples(root: &Path) -> Vec<Sample> {
    let mut out = Vec::new();
    walk(root, &mut |dir| {
        let Ok(rd) = std::fs::read_dir(dir) else {
            return;
        };
        let mut names: Vec<PathBuf> = rd.flatten().map(|e| e.path()).collect();
        names.sort();
        for p in names {
            let Some(name) = p.file_name().and_then(|n| n.to_str()) else {
                continue;
            };
            if let Some(i) = name.find(".input.") {
                let expected = dir.join(format!("{}.expected.json", &name[..i]));
                out.push(Sample {
                    dir: dir.to_path_buf(),
                    input: p.clone(),
                    expected,
                });
            }
        }
    });
    out
}

/// Mapping folders (holding `mapping.yaml`) without any sample input.
pub fn missing_samples(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    walk(root, &mut |dir| {
        if dir.join("mapping.yaml").is_file() {
            let has = std::fs::read_dir(dir)
                .map(|rd| {
                    rd.flatten()
                        .any(|e| e.file_name().to_string_lossy().contains(".input."))
                })
                .unwrap_or(false);
            if !has {
                out.push(dir.to_path_buf());
            }
        }
    });
    out.sort();
    out
}

fn walk(dir: &Path, f: &mut dyn FnMut(&Path)) {
    f(dir);
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    let mut subs: Vec<PathBuf> = rd
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    subs.sort();
    for s in subs {
        walk(&s, f);
    }
}

/// Runs one sample. With `bless`, writes the produced events as the expected file instead of
/// comparing (the events must still be valid and come from the folder's mapping).
pub fn run_sample(engine: &Engine, root: &Path, sample: &Sample, bless: bool) -> Outcome {
    let name = sample
        .input
        .strip_prefix(root)
        .unwrap_or(&sample.input)
        .display()
        .to_string();
    let mut problems = Vec::new();
    let (mapping_id, source) = match folder_mapping(engine, &sample.dir) {
        Ok(x) => x,
        Err(e) => {
            return Outcome {
                name,
                events: 0,
                problems: vec![e],
            }
        }
    };
    let bytes = match std::fs::read(&sample.input) {
        Ok(b) => b,
        Err(e) => {
            return Outcome {
                name,
                events: 0,
                problems: vec![format!("cannot read input: {e}")],
            }
        }
    };
    let opts = DecodeOptions {
        source: Some(source),
        ..DecodeOptions::default()
    };
    let file_name = sample
        .input
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut events = Vec::new();
    decode_bytes(&file_name, &bytes, &opts, &mut |item| match item {
        DecodeItem::Record(rec) => match engine.normalize(rec) {
            Ok(n) => {
                if n.mapping != mapping_id {
                    problems.push(format!(
                        "record mapped by {} instead of this folder's {mapping_id}",
                        n.mapping
                    ));
                }
                events.push(n.event);
            }
            Err(r) => problems.push(format!("rejected ({}): {}", r.reason, r.detail)),
        },
        DecodeItem::Quarantined(q) => {
            problems.push(format!("decoder quarantined ({}): {}", q.reason, q.detail))
        }
    });
    if events.is_empty() && problems.is_empty() {
        problems.push("the input holds no record".into());
    }
    let produced = Value::Array(events);
    if bless {
        match serde_json::to_string_pretty(&produced) {
            Ok(text) => {
                if let Err(e) = std::fs::write(&sample.expected, text + "\n") {
                    problems.push(format!("cannot write {}: {e}", sample.expected.display()));
                }
            }
            Err(e) => problems.push(format!("cannot render events: {e}")),
        }
    } else {
        match std::fs::read(&sample.expected)
            .map_err(|e| e.to_string())
            .and_then(|b| serde_json::from_slice::<Value>(&b).map_err(|e| e.to_string()))
        {
            Err(e) => problems.push(format!("expected file {}: {e}", sample.expected.display())),
            Ok(expected) => {
                let expected = match expected {
                    Value::Array(a) => Value::Array(a),
                    one => Value::Array(vec![one]),
                };
                if let Value::Array(evs) = &expected {
                    for (i, ev) in evs.iter().enumerate() {
                        for e in shrike_ocsf::Schema::shared().validate(ev).iter().take(3) {
                            problems.push(format!(
                                "expected event {i} is invalid OCSF: {} {}: {}",
                                e.path,
                                e.rule.as_str(),
                                e.message
                            ));
                        }
                    }
                }
                let mut diffs = Vec::new();
                diff("", &expected, &produced, &mut diffs);
                for d in diffs.into_iter().take(10) {
                    problems.push(d);
                }
            }
        }
    }
    let events = produced.as_array().map_or(0, Vec::len);
    Outcome {
        name,
        events,
        problems,
    }
}

/// The folder's mapping id (read from its `mapping.yaml`) and source (from the engine, since
/// it may come from an `extends:` base).
fn folder_mapping(engine: &Engine, dir: &Path) -> Result<(String, Source), String> {
    let p = dir.join("mapping.yaml");
    let text = std::fs::read_to_string(&p).map_err(|e| format!("{}: {e}", p.display()))?;
    let v: Value = serde_yaml_ng::from_str(&text).map_err(|e| format!("{}: {e}", p.display()))?;
    let id = v
        .get("id")
        .and_then(Value::as_str)
        .ok_or_else(|| format!("{}: no id", p.display()))?;
    let source = engine
        .mappings()
        .find(|(mid, ..)| *mid == id)
        .map(|(_, _, src, _)| src)
        .ok_or_else(|| format!("{}: mapping {id} is not loaded by the engine", p.display()))?;
    Ok((id.to_owned(), source))
}

/// Differences between `want` and `got`, as `path: want X, got Y` lines.
pub fn diff(path: &str, want: &Value, got: &Value, out: &mut Vec<String>) {
    match (want, got) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, va) in a {
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                match b.get(k) {
                    Some(vb) => diff(&p, va, vb, out),
                    None => out.push(format!("{p}: expected {}, missing", short(va))),
                }
            }
            for (k, vb) in b {
                if !a.contains_key(k) {
                    let p = if path.is_empty() {
                        k.clone()
                    } else {
                        format!("{path}.{k}")
                    };
                    out.push(format!("{p}: not expected, got {}", short(vb)));
                }
            }
        }
        (Value::Array(a), Value::Array(b)) => {
            if a.len() != b.len() {
                out.push(format!(
                    "{}: expected {} elements, got {}",
                    if path.is_empty() { "events" } else { path },
                    a.len(),
                    b.len()
                ));
            }
            for (i, (x, y)) in a.iter().zip(b).enumerate() {
                diff(&format!("{path}[{i}]"), x, y, out);
            }
        }
        _ if want == got => {}
        _ => out.push(format!(
            "{path}: expected {}, got {}",
            short(want),
            short(got)
        )),
    }
}

fn short(v: &Value) -> String {
    let s = v.to_string();
    if s.len() > 120 {
        let mut cut = 117;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        format!("{}...", &s[..cut])
    } else {
        s
    }
}
