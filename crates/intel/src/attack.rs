//! MITRE ATT&CK Enterprise names: techniques (with their tactics) and tactics in kill-chain
//! order, read from a STIX bundle (`attack/enterprise-attack.json.gz`: STIX 2.0 from
//! `mitre/cti`, ATT&CK v18.1; gzip or plain JSON).
//!
//! - Techniques are keyed by ATT&CK id (`T1059`, `T1059.001`); revoked and deprecated ones are
//!   kept (old alerts still name them) and flagged. When two objects share an id, the active one
//!   wins.
//! - Tactics are keyed by their short name (`command-and-control`), the `phase_name` used in
//!   techniques' `kill_chain_phases`; their order is the Enterprise matrix's `tactic_refs`
//!   order (reconnaissance … impact), which issue 5 uses for kill-chain progression. Without a
//!   matrix object, tactics are ordered by their TA id.
//!
//! Only the `mitre-attack` kill chain is read. Nothing here does any network I/O.
//! ATT&CK® is a trademark of The MITRE Corporation; the data's license is in
//! `attack/LICENSE.txt`.

use std::collections::HashMap;
use std::io::Read;
use std::path::Path;

use serde::Deserialize;

/// Why ATT&CK data could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AttackError {
    /// The file could not be read or decompressed.
    #[error("reading ATT&CK data: {0}")]
    Io(#[from] std::io::Error),
    /// It is not a STIX bundle.
    #[error("parsing ATT&CK bundle: {0}")]
    Json(#[from] serde_json::Error),
}

/// One technique or sub-technique.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Technique {
    /// ATT&CK id (`T1059.001`).
    pub id: String,
    /// Name (`PowerShell`).
    pub name: String,
    /// Tactic short names (`execution`), in the order the object lists them.
    pub tactics: Vec<String>,
    /// Whether it is a sub-technique.
    pub is_subtechnique: bool,
    /// `x_mitre_deprecated`.
    pub is_deprecated: bool,
    /// `revoked`.
    pub is_revoked: bool,
}

impl Technique {
    /// Neither revoked nor deprecated.
    pub fn is_active(&self) -> bool {
        !self.is_deprecated && !self.is_revoked
    }
}

/// One tactic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tactic {
    /// ATT&CK id (`TA0011`).
    pub id: String,
    /// Name (`Command and Control`).
    pub name: String,
    /// Short name (`command-and-control`).
    pub shortname: String,
    /// Position in the kill chain, from 0 (`reconnaissance`).
    pub order: usize,
}

/// ATT&CK techniques and tactics.
#[derive(Debug, Clone, Default)]
pub struct Attack {
    techniques: HashMap<String, Technique>,
    tactics: Vec<Tactic>,
    by_shortname: HashMap<String, usize>,
}

#[derive(Deserialize)]
struct Bundle {
    #[serde(default)]
    objects: Vec<Obj>,
}

#[derive(Deserialize)]
struct ExtRef {
    #[serde(default)]
    source_name: String,
    #[serde(default)]
    external_id: Option<String>,
}

#[derive(Deserialize)]
struct Phase {
    #[serde(default)]
    kill_chain_name: String,
    #[serde(default)]
    phase_name: String,
}

#[derive(Deserialize)]
struct Obj {
    #[serde(rename = "type", default)]
    kind: String,
    #[serde(default)]
    id: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    external_references: Vec<ExtRef>,
    #[serde(default)]
    kill_chain_phases: Vec<Phase>,
    #[serde(default)]
    x_mitre_is_subtechnique: bool,
    #[serde(default)]
    x_mitre_deprecated: bool,
    #[serde(default)]
    revoked: bool,
    #[serde(default)]
    x_mitre_shortname: Option<String>,
    #[serde(default)]
    tactic_refs: Vec<String>,
}

impl Obj {
    fn attack_id(&self) -> Option<&str> {
        self.external_references
            .iter()
            .find(|r| r.source_name == "mitre-attack")
            .and_then(|r| r.external_id.as_deref())
    }
}

impl Attack {
    /// Reads a bundle file; `.gz` files are gunzipped.
    pub fn load(path: &Path) -> Result<Attack, AttackError> {
        let file = std::fs::File::open(path)?;
        let reader = std::io::BufReader::new(file);
        if path.extension().is_some_and(|e| e == "gz") {
            Attack::from_reader(flate2::read::GzDecoder::new(reader))
        } else {
            Attack::from_reader(reader)
        }
    }

    /// Reads a bundle (plain JSON) from `reader`.
    pub fn from_reader(mut reader: impl Read) -> Result<Attack, AttackError> {
        let mut text = Vec::new();
        reader.read_to_end(&mut text)?;
        Attack::from_json(&text)
    }

    /// Parses a bundle.
    pub fn from_json(json: &[u8]) -> Result<Attack, AttackError> {
        let bundle: Bundle = serde_json::from_slice(json)?;
        let mut techniques: HashMap<String, Technique> = HashMap::new();
        let mut tactics_by_stix: HashMap<String, Tactic> = HashMap::new();
        let mut matrix_order: Option<Vec<String>> = None;
        for o in bundle.objects {
            match o.kind.as_str() {
                "attack-pattern" => {
                    let Some(id) = o.attack_id() else { continue };
                    let t = Technique {
                        id: id.to_string(),
                        name: o.name.clone(),
                        tactics: o
                            .kill_chain_phases
                            .iter()
                            .filter(|p| p.kill_chain_name == "mitre-attack")
                            .map(|p| p.phase_name.clone())
                            .collect(),
                        is_subtechnique: o.x_mitre_is_subtechnique || id.contains('.'),
                        is_deprecated: o.x_mitre_deprecated,
                        is_revoked: o.revoked,
                    };
                    let keep_old = techniques
                        .get(id)
                        .is_some_and(|old| old.is_active() && !t.is_active());
                    if !keep_old {
                        techniques.insert(t.id.clone(), t);
                    }
                }
                "x-mitre-tactic" => {
                    let (Some(id), Some(short)) = (o.attack_id(), o.x_mitre_shortname.as_deref())
                    else {
                        continue;
                    };
                    tactics_by_stix.insert(
                        o.id.clone(),
                        Tactic {
                            id: id.to_string(),
                            name: o.name.clone(),
                            shortname: short.to_string(),
                            order: 0,
                        },
                    );
                }
                "x-mitre-matrix" if !o.tactic_refs.is_empty() && !o.revoked => {
                    matrix_order = Some(o.tactic_refs);
                }
                _ => {}
            }
        }
        let mut tactics: Vec<Tactic> = Vec::new();
        if let Some(order) = matrix_order {
            for r in order {
                if let Some(t) = tactics_by_stix.remove(&r) {
                    tactics.push(t);
                }
            }
        }
        // Tactics the matrix does not list (or no matrix): after, by TA id.
        let mut rest: Vec<Tactic> = tactics_by_stix.into_values().collect();
        rest.sort_by(|a, b| a.id.cmp(&b.id));
        tactics.extend(rest);
        let mut by_shortname = HashMap::new();
        for (i, t) in tactics.iter_mut().enumerate() {
            t.order = i;
            by_shortname.insert(t.shortname.clone(), i);
        }
        Ok(Attack {
            techniques,
            tactics,
            by_shortname,
        })
    }

    /// A technique by ATT&CK id (`T1059.001`; case-insensitive).
    pub fn technique(&self, id: &str) -> Option<&Technique> {
        self.techniques
            .get(id)
            .or_else(|| self.techniques.get(&id.trim().to_ascii_uppercase()))
    }

    /// A tactic by short name (`command-and-control`).
    pub fn tactic(&self, shortname: &str) -> Option<&Tactic> {
        self.by_shortname
            .get(shortname)
            .and_then(|&i| self.tactics.get(i))
    }

    /// A tactic by ATT&CK id (`TA0011`).
    pub fn tactic_by_id(&self, id: &str) -> Option<&Tactic> {
        self.tactics.iter().find(|t| t.id.eq_ignore_ascii_case(id))
    }

    /// Tactics in kill-chain order (reconnaissance … impact).
    pub fn kill_chain(&self) -> &[Tactic] {
        &self.tactics
    }

    /// All techniques, in no particular order.
    pub fn techniques(&self) -> impl Iterator<Item = &Technique> {
        self.techniques.values()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_bundle() {
        let json = br#"{"type":"bundle","objects":[
          {"type":"x-mitre-tactic","id":"x-mitre-tactic--2","name":"Execution","x_mitre_shortname":"execution",
           "external_references":[{"source_name":"mitre-attack","external_id":"TA0002"}]},
          {"type":"x-mitre-tactic","id":"x-mitre-tactic--1","name":"Initial Access","x_mitre_shortname":"initial-access",
           "external_references":[{"source_name":"mitre-attack","external_id":"TA0001"}]},
          {"type":"x-mitre-matrix","id":"x-mitre-matrix--1","tactic_refs":["x-mitre-tactic--1","x-mitre-tactic--2"]},
          {"type":"attack-pattern","id":"attack-pattern--1","name":"PowerShell","x_mitre_is_subtechnique":true,
           "kill_chain_phases":[{"kill_chain_name":"mitre-attack","phase_name":"execution"}],
           "external_references":[{"source_name":"mitre-attack","external_id":"T1059.001"}]},
          {"type":"attack-pattern","id":"attack-pattern--2","name":"Old","revoked":true,
           "external_references":[{"source_name":"mitre-attack","external_id":"T1059.001"}]}
        ]}"#;
        let a = Attack::from_json(json).expect("test fixture");
        let t = a.technique("t1059.001").expect("test fixture");
        assert_eq!(t.name, "PowerShell");
        assert!(t.is_active() && t.is_subtechnique);
        assert_eq!(t.tactics, vec!["execution"]);
        assert_eq!(a.tactic("initial-access").expect("test fixture").order, 0);
        assert_eq!(a.tactic("execution").expect("test fixture").order, 1);
        assert_eq!(
            a.tactic_by_id("TA0002").expect("test fixture").shortname,
            "execution"
        );
        assert!(Attack::from_json(b"{not json").is_err());
    }
}
