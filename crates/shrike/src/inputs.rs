//! Reading CLI inputs: paths (or `-`) through `shrike-ingest`, with a quarantine file and a
//! progress spinner on a terminal.

use anyhow::{Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use shrike_ingest::{InputFormat, Item, QuarantineWriter, ReadOptions};
use shrike_types::{EmailRecord, Label};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

/// Input options shared by `score`, `train`, `eval` and `replay`.
#[derive(clap::Args, Debug, Clone)]
pub struct InputArgs {
    /// Input format; `auto` detects by extension and content.
    #[arg(long, value_enum, default_value = "auto")]
    pub input_format: FormatArg,
    /// Where unreadable records go (NDJSON: stage, reason, detail, origin, raw bytes as base64).
    #[arg(long, default_value = "quarantine.ndjson")]
    pub quarantine: PathBuf,
    /// Largest message accepted, in bytes; larger ones are quarantined.
    #[arg(long, default_value_t = 32 * 1024 * 1024)]
    pub max_message_bytes: usize,
}

/// `--input-format` values.
#[derive(clap::ValueEnum, Debug, Clone, Copy)]
pub enum FormatArg {
    /// Detect.
    Auto,
    /// One RFC 5322 message per file.
    Eml,
    /// mbox.
    Mbox,
    /// Email-log JSON, JSON array or NDJSON.
    Json,
    /// CSV in the Nazario layout.
    Csv,
}

impl InputArgs {
    /// Ingest options for these arguments.
    pub fn read_options(
        &self,
        label: Option<Label>,
        source: Option<String>,
        label_from_path: bool,
    ) -> ReadOptions {
        let mut opts = ReadOptions::default();
        opts.limits.max_message_bytes = self.max_message_bytes;
        opts.format = match self.input_format {
            FormatArg::Auto => InputFormat::Auto,
            FormatArg::Eml => InputFormat::Eml,
            FormatArg::Mbox => InputFormat::Mbox,
            FormatArg::Json => InputFormat::Json,
            FormatArg::Csv => InputFormat::Csv,
        };
        opts.label = label;
        opts.source = source;
        opts.label_from_path = label_from_path;
        opts
    }
}

/// Streams every record of `paths` to `on_record`; quarantines the rest into `quarantine`.
/// Returns (records, quarantined).
pub struct Reader {
    quarantine: Option<QuarantineWriter>,
    quarantine_path: PathBuf,
    progress: Option<ProgressBar>,
    /// Records read.
    pub records: u64,
    /// Records quarantined.
    pub quarantined: u64,
}

impl Reader {
    /// A reader writing quarantine items to `quarantine_path` (created on first use).
    pub fn new(quarantine_path: &Path, quiet: bool, what: &str) -> Reader {
        let progress = (!quiet && std::io::stderr().is_terminal()).then(|| {
            let pb = ProgressBar::new_spinner();
            pb.set_style(
                ProgressStyle::with_template("{spinner} {msg} {pos} emails ({per_sec})")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            pb.set_message(what.to_string());
            pb
        });
        Reader {
            quarantine: None,
            quarantine_path: quarantine_path.to_path_buf(),
            progress,
            records: 0,
            quarantined: 0,
        }
    }

    /// Reads one path (or `-` for stdin).
    pub fn read(
        &mut self,
        path: &Path,
        opts: &ReadOptions,
        on_record: &mut dyn FnMut(EmailRecord) -> Result<()>,
    ) -> Result<()> {
        let mut failure: Option<anyhow::Error> = None;
        let mut sink = |item: Item| {
            if failure.is_some() {
                return;
            }
            match item {
                Item::Record(rec) => {
                    self.records += 1;
                    if let Some(pb) = &self.progress {
                        pb.inc(1);
                    }
                    if let Err(e) = on_record(rec) {
                        failure = Some(e);
                    }
                }
                Item::Quarantined(q) => {
                    self.quarantined += 1;
                    tracing::warn!(record = %q.origin, reason = %q.reason, "quarantined: {}", q.detail);
                    if let Err(e) = self.write_quarantine(&q) {
                        failure = Some(e);
                    }
                }
            }
        };
        let res = if path == Path::new("-") {
            shrike_ingest::read_reader("-", std::io::stdin().lock(), opts, &mut sink)
        } else {
            shrike_ingest::read_path(path, opts, &mut sink)
        };
        if let Some(e) = failure {
            return Err(e);
        }
        res.with_context(|| format!("reading {}", path.display()))?;
        Ok(())
    }

    fn write_quarantine(&mut self, q: &shrike_types::Quarantined) -> Result<()> {
        if self.quarantine.is_none() {
            if let Some(dir) = self
                .quarantine_path
                .parent()
                .filter(|d| !d.as_os_str().is_empty())
            {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("creating {}", dir.display()))?;
            }
            let w = QuarantineWriter::open(&self.quarantine_path).with_context(|| {
                format!("opening quarantine file {}", self.quarantine_path.display())
            })?;
            self.quarantine = Some(w);
        }
        if let Some(w) = self.quarantine.as_mut() {
            w.write(q).with_context(|| {
                format!("writing quarantine file {}", self.quarantine_path.display())
            })?;
        }
        Ok(())
    }

    /// Finishes the progress bar and reports quarantine counts on stderr.
    pub fn finish(self) -> Result<(u64, u64)> {
        if let Some(pb) = &self.progress {
            pb.finish_and_clear();
        }
        if let Some(mut w) = self.quarantine {
            w.flush()?;
            tracing::warn!(
                "{} record(s) quarantined to {}",
                self.quarantined,
                self.quarantine_path.display()
            );
        }
        Ok((self.records, self.quarantined))
    }
}

/// A progress bar on stderr when it is a terminal and not `--quiet`.
pub fn progress_bar(len: u64, quiet: bool, what: &str) -> Option<ProgressBar> {
    (!quiet && std::io::stderr().is_terminal()).then(|| {
        let pb = ProgressBar::new(len);
        pb.set_style(
            ProgressStyle::with_template("{msg} {bar:40} {pos}/{len} (eta {eta})")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        pb.set_message(what.to_string());
        pb
    })
}
