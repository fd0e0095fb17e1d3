//! `shrike serve` configuration: a TOML file, then command-line flags, then the
//! `SHRIKE_API_TOKENS` environment variable (comma-separated bearer tokens, added to the file's).
//!
//! ```toml
//! listen = "127.0.0.1:8080"
//! model = "models/email-default.json"   # optional; the bundled model when absent
//! max_body_bytes = 10485760
//! max_batch = 1000
//! reasons = 5
//! [[tokens]]
//! name = "soar-playbooks"
//! token = "change-me"
//! role = "ingest"            # ingest (default) | analyst | admin
//!
//! [soar]                     # alert triage: playbooks, enrichment, routing, cases
//! db = "shrike-cases.db"     # case store (SQLite); the [soar] section turns the alert API on
//! ```
//!
//! The whole `[soar]` section is described on [`SoarConfig`].

use anyhow::{bail, Context, Result};
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// A bearer token and who holds it (the name is logged, never the token).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenConfig {
    /// Who holds it.
    pub name: String,
    /// The token.
    pub token: String,
    /// What it may do.
    #[serde(default)]
    pub role: Role,
}

/// What a token may do. `admin` may do everything; the others only their own part.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Send telemetry and alerts, score email (playbooks, SIEM forwarders).
    #[default]
    Ingest,
    /// Work the queues: read tickets, claim, comment, disposition, override, approve actions.
    Analyst,
    /// Everything, including the feedback export.
    Admin,
}

impl Role {
    /// Whether a token with this role may call an endpoint that needs `required`.
    pub fn allows(self, required: Role) -> bool {
        self == Role::Admin || self == required
    }

    /// The configured spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Ingest => "ingest",
            Role::Analyst => "analyst",
            Role::Admin => "admin",
        }
    }
}

/// The `[soar]` section: turns on the alert API (`POST /v1/alerts`) and the analyst API.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct SoarConfig {
    /// Case store (SQLite file; created and migrated on start).
    pub db: PathBuf,
    /// Baseline store (SQLite file); absent: the `baseline` provider is skipped.
    pub baseline_db: Option<PathBuf>,
    /// Playbook directory (YAML); absent: the bundled `content/playbooks`.
    pub playbooks: Option<PathBuf>,
    /// Routing table (YAML); absent: the bundled `content/routing.yaml`.
    pub routing: Option<PathBuf>,
    /// Asset and identity inventory files (CSV, JSON or NDJSON).
    #[serde(default)]
    pub assets: Vec<PathBuf>,
    /// Threat-intel directory laid out like `../shared/data/threat-intel` (feeds, warning
    /// lists); absent or unreadable: the `intel` provider fails with the reason.
    pub intel_dir: Option<PathBuf>,
    /// De-duplication window (`30m`, `1h`, `2d`); default `1h`.
    pub dedup_window: Option<String>,
    /// VirusTotal; absent: the `virustotal` provider is skipped.
    pub virustotal: Option<VirusTotalConfig>,
    /// Rejected alert records are appended here (NDJSON) as well as named in the response.
    pub quarantine: Option<PathBuf>,
    /// Outbound deliveries (signed webhook, XSOAR, Splunk SOAR, TheHive).
    #[serde(default)]
    pub outbound: Vec<crate::outbound::OutboundConfig>,
    /// The detection and fusion stages of `shrike triage` on live input (`POST /v1/events`):
    /// a triage configuration file (TOML, as `shrike triage --config`); absent: `/v1/events`
    /// answers 404 `fusion_disabled`.
    pub fusion: Option<PathBuf>,
}

/// VirusTotal settings of `[soar.virustotal]`.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct VirusTotalConfig {
    /// Base URL; default the real `https://www.virustotal.com`.
    pub base_url: Option<String>,
    /// Environment variable holding the API key; default `VT_API_KEY`.
    pub api_key_env: Option<String>,
    /// Requests per minute (the public API allows 4).
    pub per_minute: Option<u32>,
    /// Never call out; answer from the cache only.
    #[serde(default)]
    pub offline: bool,
}

/// The configuration file.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// Address to listen on.
    pub listen: Option<String>,
    /// Model file.
    pub model: Option<PathBuf>,
    /// Largest request body, bytes.
    pub max_body_bytes: Option<usize>,
    /// Most emails in one batch request.
    pub max_batch: Option<usize>,
    /// Reasons per score.
    pub reasons: Option<usize>,
    /// Bearer tokens.
    #[serde(default)]
    pub tokens: Vec<TokenConfig>,
    /// Alert triage (playbooks, enrichment, routing, cases); absent: email scoring only.
    pub soar: Option<SoarConfig>,
}

impl FileConfig {
    /// Reads and parses a config file; errors name the file and the line.
    pub fn load(path: &Path) -> Result<FileConfig> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading config {}", path.display()))?;
        toml::from_str(&text).with_context(|| format!("parsing config {}", path.display()))
    }
}

/// Tokens from the environment variable's value: comma-separated, blanks ignored; a token may
/// start with `ingest=`, `analyst=` or `admin=` to give its role (default `ingest`).
pub fn tokens_from_env(value: &str) -> Vec<TokenConfig> {
    value
        .split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .enumerate()
        .map(|(i, t)| {
            let (role, token) = match t.split_once('=') {
                Some(("ingest", tok)) => (Role::Ingest, tok),
                Some(("analyst", tok)) => (Role::Analyst, tok),
                Some(("admin", tok)) => (Role::Admin, tok),
                _ => (Role::Ingest, t),
            };
            TokenConfig {
                name: format!("env-token-{}", i + 1),
                token: token.to_string(),
                role,
            }
        })
        .collect()
}

/// Rejects tokens too short to be secrets.
pub fn check_tokens(tokens: &[TokenConfig]) -> Result<()> {
    for t in tokens {
        if t.token.len() < 8 {
            bail!("token {:?} is shorter than 8 characters", t.name);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_tokens_split_on_commas() {
        let t = tokens_from_env(" abcdefgh, ,ijklmnop ");
        assert_eq!(t.len(), 2);
        assert_eq!(t[1].token, "ijklmnop");
        assert_eq!(t[1].name, "env-token-2");
        assert_eq!(t[1].role, Role::Ingest);
        let t = tokens_from_env("analyst=abcdefgh,admin=ijklmnop,a=b=cdefghij");
        assert_eq!(
            t.iter()
                .map(|t| (t.role, t.token.as_str()))
                .collect::<Vec<_>>(),
            [
                (Role::Analyst, "abcdefgh"),
                (Role::Admin, "ijklmnop"),
                (Role::Ingest, "a=b=cdefghij")
            ]
        );
        assert!(Role::Admin.allows(Role::Analyst));
        assert!(!Role::Ingest.allows(Role::Analyst));
        assert!(!Role::Analyst.allows(Role::Admin));
    }

    #[test]
    fn config_rejects_unknown_keys_with_a_message() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("c.toml");
        std::fs::write(&p, "listen = \"127.0.0.1:1\"\nlisen = 3\n").expect("write");
        let err = format!("{:#}", FileConfig::load(&p).expect_err("unknown key"));
        assert!(err.contains("lisen"), "{err}");
        std::fs::write(
            &p,
            "listen = \"127.0.0.1:1\"\n[[tokens]]\nname = \"a\"\ntoken = \"abcdefghij\"\n",
        )
        .expect("write");
        let c = FileConfig::load(&p).expect("valid");
        assert_eq!(c.tokens[0].name, "a");
        assert!(check_tokens(&c.tokens).is_ok());
        assert!(check_tokens(&tokens_from_env("short")).is_err());
    }
}
