//! `shrike validate`: checks OCSF events (NDJSON files or stdin) against the pinned OCSF 1.8.0
//! schema table (`shrike-ocsf`), prints a summary per input and the first errors with line numbers.

use anyhow::{Context, Result};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::io::BufRead;
use std::path::PathBuf;
use std::process::ExitCode;

/// `shrike validate` arguments.
#[derive(clap::Args, Debug)]
pub struct ValidateArgs {
    /// How many error messages to print per input (on stderr).
    #[arg(long, default_value_t = 20)]
    pub show: usize,
    /// NDJSON files of OCSF events, or - for stdin.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
}

/// Runs `shrike validate`: exit 0 when every event is valid, 1 otherwise, 2 on I/O errors.
pub fn run_validate(args: ValidateArgs) -> Result<ExitCode> {
    let schema = shrike_ocsf::Schema::embedded();
    let mut any_invalid = false;
    for path in &args.paths {
        let reader: Box<dyn BufRead> = if path.as_os_str() == "-" {
            Box::new(std::io::stdin().lock())
        } else {
            let f =
                std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
            Box::new(std::io::BufReader::new(f))
        };
        let (mut lines, mut valid, mut invalid, mut shown) = (0u64, 0u64, 0u64, 0usize);
        let mut by_rule: BTreeMap<String, u64> = BTreeMap::new();
        for (n, line) in reader.lines().enumerate() {
            let line = line.with_context(|| format!("reading {}", path.display()))?;
            if line.trim().is_empty() {
                continue;
            }
            lines += 1;
            let errors = match serde_json::from_str::<Value>(&line) {
                Ok(v) => schema
                    .validate(&v)
                    .into_iter()
                    .map(|e| (e.rule.as_str().to_string(), e.to_string()))
                    .collect(),
                Err(e) => vec![("invalid_json".to_string(), format!("not JSON: {e}"))],
            };
            if errors.is_empty() {
                valid += 1;
                continue;
            }
            invalid += 1;
            for (rule, msg) in errors {
                *by_rule.entry(rule).or_default() += 1;
                if shown < args.show {
                    eprintln!("{}:{}: {msg}", path.display(), n + 1);
                    shown += 1;
                }
            }
        }
        any_invalid |= invalid > 0;
        let summary = json!({"path": path.display().to_string(), "ocsf_version": "1.8.0", "events": lines, "valid": valid, "invalid": invalid, "errors_by_rule": by_rule});
        println!("{summary}");
    }
    Ok(crate::finished(u64::from(any_invalid)))
}
