//! MITRE ATT&CK Enterprise names and tactics, from a table compiled from the ATT&CK STIX bundle
//! (`../shared/data/attack/enterprise-attack.json.gz`, ATT&CK v18.1) and bundled with the binary
//! (`content/attack/enterprise-attack.tsv`; regenerate with
//! `SHRIKE_BLESS=1 cargo test -p shrike-detect --test attack_table`).
//!
//! Tactics are in kill-chain order (the Enterprise matrix order, reconnaissance … impact); fusion
//! measures kill-chain progression by these positions. ATT&CK® is a trademark of The MITRE
//! Corporation; the data's license is in `content/attack/LICENSE.txt`.

use std::collections::HashMap;
use std::sync::OnceLock;

/// The bundled table.
pub const EMBEDDED_TSV: &str = include_str!("../../../content/attack/enterprise-attack.tsv");

/// One tactic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tactic {
    /// `TA0006`.
    pub id: String,
    /// `credential-access`.
    pub shortname: String,
    /// `Credential Access`.
    pub name: String,
    /// Position in the kill chain, 0 = reconnaissance.
    pub order: u8,
}

/// One technique or sub-technique.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Technique {
    /// `T1003.001`.
    pub id: String,
    /// `LSASS Memory`.
    pub name: String,
    /// Tactic short names, in the bundle's order.
    pub tactics: Vec<String>,
    /// Neither revoked nor deprecated.
    pub active: bool,
}

/// ATT&CK techniques and tactics.
#[derive(Debug, Clone, Default)]
pub struct AttackTable {
    tactics: Vec<Tactic>,
    by_short: HashMap<String, usize>,
    techniques: HashMap<String, Technique>,
}

impl AttackTable {
    /// The bundled table, parsed once.
    pub fn embedded() -> &'static AttackTable {
        static TABLE: OnceLock<AttackTable> = OnceLock::new();
        TABLE.get_or_init(|| AttackTable::parse(EMBEDDED_TSV))
    }

    /// Parses the TSV layout (`tactic\tTA…\tshort\tName` and
    /// `technique\tT…\tName\ttactic,tactic\tactive|inactive`); malformed lines are skipped.
    pub fn parse(tsv: &str) -> AttackTable {
        let mut t = AttackTable::default();
        for line in tsv.lines() {
            if line.starts_with('#') || line.trim().is_empty() {
                continue;
            }
            let f: Vec<&str> = line.split('\t').collect();
            match f.as_slice() {
                ["tactic", id, short, name] => {
                    let order = u8::try_from(t.tactics.len()).unwrap_or(u8::MAX);
                    t.by_short.insert((*short).to_string(), t.tactics.len());
                    t.tactics.push(Tactic {
                        id: (*id).to_string(),
                        shortname: (*short).to_string(),
                        name: (*name).to_string(),
                        order,
                    });
                }
                ["technique", id, name, tactics, status] => {
                    t.techniques.insert(
                        (*id).to_string(),
                        Technique {
                            id: (*id).to_string(),
                            name: (*name).to_string(),
                            tactics: tactics
                                .split(',')
                                .filter(|s| !s.is_empty())
                                .map(str::to_string)
                                .collect(),
                            active: *status == "active",
                        },
                    );
                }
                _ => {}
            }
        }
        t
    }

    /// Renders the TSV layout [`AttackTable::parse`] reads (the bundled file's body).
    pub fn to_tsv(&self) -> String {
        let mut out = String::new();
        for t in &self.tactics {
            out.push_str(&format!("tactic\t{}\t{}\t{}\n", t.id, t.shortname, t.name));
        }
        let mut ids: Vec<&String> = self.techniques.keys().collect();
        ids.sort();
        for id in ids {
            let t = &self.techniques[id];
            out.push_str(&format!(
                "technique\t{}\t{}\t{}\t{}\n",
                t.id,
                t.name.replace(['\t', '\n'], " "),
                t.tactics.join(","),
                if t.active { "active" } else { "inactive" }
            ));
        }
        out
    }

    /// Builds a table from parts (the compiler in the tests uses it).
    pub fn from_parts(tactics: Vec<(String, String, String)>, techniques: Vec<Technique>) -> Self {
        let mut t = AttackTable::default();
        for (id, shortname, name) in tactics {
            let order = u8::try_from(t.tactics.len()).unwrap_or(u8::MAX);
            t.by_short.insert(shortname.clone(), t.tactics.len());
            t.tactics.push(Tactic {
                id,
                shortname,
                name,
                order,
            });
        }
        for tech in techniques {
            t.techniques.insert(tech.id.clone(), tech);
        }
        t
    }

    /// A technique by id (`T1059.001`, case-insensitive).
    pub fn technique(&self, id: &str) -> Option<&Technique> {
        self.techniques
            .get(id)
            .or_else(|| self.techniques.get(&id.to_ascii_uppercase()))
    }

    /// A tactic by short name (`credential-access`) or by id (`TA0006`).
    pub fn tactic(&self, name: &str) -> Option<&Tactic> {
        if let Some(&i) = self.by_short.get(name) {
            return self.tactics.get(i);
        }
        self.tactics
            .iter()
            .find(|t| t.id.eq_ignore_ascii_case(name) || t.name.eq_ignore_ascii_case(name))
    }

    /// Tactics in kill-chain order.
    pub fn kill_chain(&self) -> &[Tactic] {
        &self.tactics
    }

    /// Number of techniques (including sub-techniques and inactive ones).
    pub fn n_techniques(&self) -> usize {
        self.techniques.len()
    }

    /// The tactics of the given techniques (sub-techniques inherit their parent's when they list
    /// none), sorted and unique.
    pub fn tactics_of<'a>(&self, techniques: impl IntoIterator<Item = &'a str>) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for id in techniques {
            let tech = self.technique(id).or_else(|| {
                id.split_once('.')
                    .and_then(|(parent, _)| self.technique(parent))
            });
            if let Some(t) = tech {
                out.extend(t.tactics.iter().cloned());
            }
        }
        out.sort();
        out.dedup();
        out
    }

    /// Kill-chain position of a tactic short name.
    pub fn order_of(&self, tactic: &str) -> Option<u8> {
        self.tactic(tactic).map(|t| t.order)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_table_has_the_enterprise_kill_chain() {
        let t = AttackTable::embedded();
        let names: Vec<&str> = t
            .kill_chain()
            .iter()
            .map(|t| t.shortname.as_str())
            .collect();
        assert_eq!(names.first(), Some(&"reconnaissance"));
        assert_eq!(names.last(), Some(&"impact"));
        assert_eq!(names.len(), 14);
        let lsass = t.technique("T1003.001").expect("T1003.001");
        assert_eq!(lsass.name, "LSASS Memory");
        assert_eq!(lsass.tactics, vec!["credential-access"]);
        assert!(t.order_of("execution") < t.order_of("credential-access"));
        assert_eq!(
            t.tactics_of(["t1059.001", "T1071"]),
            vec!["command-and-control", "execution"]
        );
    }
}
