//! Every bundled playbook's own test cases pass (the same check as `shrike test playbooks`).

use std::path::Path;

use shrike_triage::playbook::testing::run_all;
use shrike_triage::playbook::Engine;

#[tokio::test]
async fn bundled_playbook_cases_pass() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../content");
    let engine = Engine::load(
        Some(&root.join("playbooks")),
        Some(&root.join("routing.yaml")),
    )
    .expect("bundled playbooks load");
    let reports = run_all(&engine, None).await;
    assert!(reports.len() >= 10, "only {} cases", reports.len());
    let failed: Vec<String> = reports
        .iter()
        .filter(|r| !r.passed())
        .map(|r| {
            format!(
                "{} / {}: {}\n  trace: {:?}",
                r.playbook,
                r.name,
                r.failures.join("; "),
                r.decision.as_ref().map(|d| &d.trace)
            )
        })
        .collect();
    assert!(failed.is_empty(), "{}", failed.join("\n"));
}
