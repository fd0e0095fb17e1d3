//! ATT&CK Enterprise names (`../shared/data/attack/enterprise-attack.json.gz`, read in place)
//! against the counts in its `SOURCES.md`, and the kill-chain order issue 5 relies on.

use std::path::PathBuf;

use shrike_intel::attack::Attack;

fn bundle() -> Option<PathBuf> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/data/attack/enterprise-attack.json.gz");
    p.is_file().then_some(p)
}

#[test]
fn enterprise_attack_v18() {
    let Some(path) = bundle() else {
        eprintln!("skipping: ../shared/data/attack not found");
        return;
    };
    let a = Attack::load(&path).unwrap_or_else(|e| panic!("{e}"));
    let order: Vec<&str> = a
        .kill_chain()
        .iter()
        .map(|t| t.shortname.as_str())
        .collect();
    assert_eq!(
        order,
        vec![
            "reconnaissance",
            "resource-development",
            "initial-access",
            "execution",
            "persistence",
            "privilege-escalation",
            "defense-evasion",
            "credential-access",
            "discovery",
            "lateral-movement",
            "collection",
            "command-and-control",
            "exfiltration",
            "impact",
        ]
    );
    let c2 = a
        .tactic("command-and-control")
        .unwrap_or_else(|| panic!("c2 tactic"));
    assert_eq!(
        (c2.id.as_str(), c2.name.as_str(), c2.order),
        ("TA0011", "Command and Control", 11)
    );
    assert_eq!(a.tactic_by_id("TA0043").map(|t| t.order), Some(0));

    // SOURCES.md: active techniques 216, active sub-techniques 475.
    let active_tech = a
        .techniques()
        .filter(|t| t.is_active() && !t.is_subtechnique)
        .count();
    let active_sub = a
        .techniques()
        .filter(|t| t.is_active() && t.is_subtechnique)
        .count();
    assert_eq!((active_tech, active_sub), (216, 475));

    let ps = a
        .technique("T1059.001")
        .unwrap_or_else(|| panic!("T1059.001"));
    assert_eq!(ps.name, "PowerShell");
    assert_eq!(ps.tactics, vec!["execution"]);
    assert!(ps.is_subtechnique && ps.is_active());
    let t1071 = a.technique("T1071").unwrap_or_else(|| panic!("T1071"));
    assert_eq!(t1071.name, "Application Layer Protocol");
    assert_eq!(t1071.tactics, vec!["command-and-control"]);
    let phishing = a.technique("T1566").unwrap_or_else(|| panic!("T1566"));
    assert_eq!(phishing.tactics, vec!["initial-access"]);
    assert!(a.technique("T9999").is_none());
    // Every technique's tactics are known tactics.
    assert!(a
        .techniques()
        .all(|t| t.tactics.iter().all(|s| a.tactic(s).is_some())));
}
