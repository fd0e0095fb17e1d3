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
//! ```

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
}

impl FileConfig {
    /// Reads and parses a config file; errors name the file and the line.
    pub fn load(path: &Path) -> Result<FileConfig> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading config {}", path.display()))?;
        toml::from_str(&text).with_context(|| format!("parsing config {}", path.display()))
    }
}

/// Tokens from the environment variable's value: comma-separated, blanks ignored.
pub fn tokens_from_env(value: &str) -> Vec<TokenConfig> {
    value
        .split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .enumerate()
        .map(|(i, t)| TokenConfig {
            name: format!("env-token-{}", i + 1),
            token: t.to_string(),
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
