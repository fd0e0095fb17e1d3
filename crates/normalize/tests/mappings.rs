//! Every mapping's sample pairs (`content/mappings/**/NAME.input.*` → `NAME.expected.json`).
//! `SHRIKE_BLESS=1` rewrites the expected files; `SHRIKE_MAPPINGS_FILTER=microsoft/sysmon` runs
//! only the samples under that prefix.

use std::path::PathBuf;

use shrike_normalize::{testing, Engine};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../content/mappings")
}

#[test]
fn bundled_mappings_compile_and_match_the_directory() {
    let from_dir = Engine::load_dir(&root()).unwrap_or_else(|e| panic!("{e}"));
    let embedded = Engine::embedded().unwrap_or_else(|e| panic!("{e}"));
    let a: Vec<_> = from_dir.mappings().map(|m| m.0.to_owned()).collect();
    let b: Vec<_> = embedded.mappings().map(|m| m.0.to_owned()).collect();
    assert_eq!(a, b, "the embedded mappings are stale: rebuild");
    assert!(!a.is_empty());
}

#[test]
fn every_mapping_folder_has_a_sample() {
    let missing = testing::missing_samples(&root());
    assert!(
        missing.is_empty(),
        "mapping folders without NAME.input.* samples: {missing:?}"
    );
}

#[test]
fn every_sample_pair_matches() {
    let root = root();
    let engine = Engine::load_dir(&root).unwrap_or_else(|e| panic!("{e}"));
    let bless = std::env::var_os("SHRIKE_BLESS").is_some();
    let filter = std::env::var("SHRIKE_MAPPINGS_FILTER").unwrap_or_default();
    let mut failed = Vec::new();
    let mut ran = 0;
    for s in testing::find_samples(&root) {
        let rel = s
            .input
            .strip_prefix(&root)
            .unwrap_or(&s.input)
            .display()
            .to_string();
        if !rel.starts_with(&filter) {
            continue;
        }
        ran += 1;
        let o = testing::run_sample(&engine, &root, &s, bless);
        if !o.problems.is_empty() {
            failed.push(format!("{}:\n    {}", o.name, o.problems.join("\n    ")));
        }
    }
    assert!(ran > 0, "no samples ran (filter {filter:?})");
    assert!(
        failed.is_empty(),
        "{} of {ran} samples failed:\n{}",
        failed.len(),
        failed.join("\n")
    );
}
