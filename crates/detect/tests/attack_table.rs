//! The bundled ATT&CK table (`content/attack/enterprise-attack.tsv`) is what the ATT&CK bundle in
//! `../shared/data/attack` compiles to. `SHRIKE_BLESS=1` rewrites it.

use std::path::Path;

use shrike_detect::attack::{AttackTable, Technique, EMBEDDED_TSV};

const HEADER: &str =
    "# MITRE ATT&CK Enterprise v18.1: tactics in kill-chain order, then techniques.\n\
# Compiled from ../shared/data/attack/enterprise-attack.json.gz (mitre/cti STIX 2.0) by\n\
# `SHRIKE_BLESS=1 cargo test -p shrike-detect --test attack_table`. ATT&CK is a trademark of\n\
# The MITRE Corporation; license in content/attack/LICENSE.txt.\n";

#[test]
fn bundled_table_matches_the_attack_bundle() {
    let bundle = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/data/attack/enterprise-attack.json.gz");
    if !bundle.exists() {
        eprintln!(
            "skipped: {} is absent (the shared data is not mounted)",
            bundle.display()
        );
        return;
    }
    let attack = shrike_intel::attack::Attack::load(&bundle).expect("reading the ATT&CK bundle");
    let tactics = attack
        .kill_chain()
        .iter()
        .map(|t| (t.id.clone(), t.shortname.clone(), t.name.clone()))
        .collect();
    let techniques = attack
        .techniques()
        .map(|t| Technique {
            id: t.id.clone(),
            name: t.name.clone(),
            tactics: t.tactics.clone(),
            active: t.is_active(),
        })
        .collect();
    let compiled = format!(
        "{HEADER}{}",
        AttackTable::from_parts(tactics, techniques).to_tsv()
    );
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../content/attack/enterprise-attack.tsv");
    if std::env::var_os("SHRIKE_BLESS").is_some() {
        std::fs::write(&path, &compiled).expect("writing the table");
        return;
    }
    assert!(
        compiled == EMBEDDED_TSV,
        "{} is stale: run SHRIKE_BLESS=1 cargo test -p shrike-detect --test attack_table",
        path.display()
    );
}
