//! `shrike normalize`: files → OCSF 1.8.0 events (NDJSON), through the decoders and the mapping
//! engine of `shrike-normalize`; `shrike test mappings`: runs every mapping's sample pairs.

use std::collections::BTreeMap;
use std::io::{BufWriter, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::Value;
use shrike_ingest::QuarantineWriter;
use shrike_normalize::decode::{decode_path, decode_reader, DecodeOptions, Format};
use shrike_normalize::{entities, testing, DecodeItem, Engine, Source};

/// `shrike normalize` arguments.
#[derive(clap::Args, Debug)]
pub struct NormalizeArgs {
    /// Where to write the OCSF events (NDJSON); `-` for stdout.
    #[arg(long, short, default_value = "-")]
    pub out: PathBuf,
    /// Where to append records that cannot be decoded or mapped (NDJSON with reason and raw bytes).
    #[arg(long, default_value = "quarantine.ndjson")]
    pub quarantine: PathBuf,
    /// Input format: auto, json, zeek-tsv, evtx, vpcflow, email.
    #[arg(long, default_value = "auto", value_parser = parse_format)]
    pub format: Format,
    /// Skip source detection: windows, suricata, zeek, cloudtrail, guardduty, vpcflow, email.
    #[arg(long, value_parser = parse_source)]
    pub source: Option<Source>,
    /// Load mappings from this directory instead of the bundled ones (content/mappings layout).
    #[arg(long)]
    pub mappings: Option<PathBuf>,
    /// Also write the entity keys of every event (NDJSON: uid, class_uid, time, entities).
    #[arg(long)]
    pub entities: Option<PathBuf>,
    /// Don't validate events against OCSF 1.8.0 before writing them (faster; not recommended).
    #[arg(long)]
    pub no_validate: bool,
    /// Exit 1 when anything was quarantined.
    #[arg(long)]
    pub strict: bool,
    /// Files, directories or archives (.zip, .tar, .tar.gz, .tar.xz, .gz, .xz, .evtx), or - for stdin.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
}

fn parse_format(s: &str) -> Result<Format, String> {
    Format::parse(s)
        .ok_or_else(|| format!("unknown format {s:?} (auto, json, zeek-tsv, evtx, vpcflow, email)"))
}

fn parse_source(s: &str) -> Result<Source, String> {
    Source::parse(s).ok_or_else(|| {
        format!(
            "unknown source {s:?} ({})",
            Source::ALL.map(Source::as_str).join(", ")
        )
    })
}

/// Counts for the closing summary.
#[derive(Debug, Default)]
pub struct NormalizeSummary {
    /// Records decoded (before mapping).
    pub records: u64,
    /// Events written.
    pub events: u64,
    /// Events per `class_uid`.
    pub by_class: BTreeMap<u32, u64>,
    /// Quarantined per `stage/reason`.
    pub quarantined: BTreeMap<String, u64>,
    /// `no_mapping` details (the record kind) and counts, for the summary's top list.
    pub unmapped_kinds: BTreeMap<String, u64>,
}

impl NormalizeSummary {
    /// Total quarantined.
    pub fn quarantined_total(&self) -> u64 {
        self.quarantined.values().sum()
    }
}

/// Runs `shrike normalize`.
pub fn run_normalize(args: NormalizeArgs, quiet: bool) -> Result<ExitCode> {
    let mut engine = match &args.mappings {
        Some(dir) => Engine::load_dir(dir)
            .with_context(|| format!("loading mappings from {}", dir.display()))?,
        None => Engine::embedded().context("loading the bundled mappings")?,
    };
    engine.set_validate(!args.no_validate);
    let opts = DecodeOptions {
        format: args.format,
        source: args.source,
        ..DecodeOptions::default()
    };
    let mut out: Box<dyn Write> = if args.out.as_os_str() == "-" {
        Box::new(BufWriter::with_capacity(1 << 16, std::io::stdout().lock()))
    } else {
        let f = std::fs::File::create(&args.out)
            .with_context(|| format!("creating {}", args.out.display()))?;
        Box::new(BufWriter::with_capacity(1 << 16, f))
    };
    let mut ent_out = match &args.entities {
        Some(p) => Some(BufWriter::new(
            std::fs::File::create(p).with_context(|| format!("creating {}", p.display()))?,
        )),
        None => None,
    };
    let mut quarantine: Option<QuarantineWriter> = None;
    let progress = (!quiet && std::io::stderr().is_terminal()).then(|| {
        let pb = ProgressBar::new_spinner();
        pb.set_style(
            ProgressStyle::with_template("{spinner} normalizing {msg}: {pos} records ({per_sec})")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        pb
    });
    let mut summary = NormalizeSummary::default();
    let mut failure: Option<anyhow::Error> = None;
    let mut line = Vec::with_capacity(4096);
    for path in &args.paths {
        if let Some(pb) = &progress {
            pb.set_message(path.display().to_string());
        }
        let mut sink = |item: DecodeItem| {
            if failure.is_some() {
                return;
            }
            let q = match item {
                DecodeItem::Record(rec) => {
                    summary.records += 1;
                    if let Some(pb) = &progress {
                        if summary.records % 1024 == 0 {
                            pb.set_position(summary.records);
                        }
                    }
                    match engine.normalize(rec) {
                        Ok(n) => {
                            summary.events += 1;
                            *summary.by_class.entry(n.class_uid).or_default() += 1;
                            line.clear();
                            let res = serde_json::to_writer(&mut line, &n.event)
                                .map_err(anyhow::Error::from)
                                .and_then(|()| {
                                    line.push(b'\n');
                                    out.write_all(&line).context("writing events")
                                });
                            let res = res.and_then(|()| match ent_out.as_mut() {
                                Some(w) => write_entities(w, &n.event),
                                None => Ok(()),
                            });
                            if let Err(e) = res {
                                failure = Some(e);
                            }
                            return;
                        }
                        Err(r) => {
                            if r.reason == "no_mapping" {
                                let kind = r
                                    .detail
                                    .rsplit(": no mapping for ")
                                    .next()
                                    .unwrap_or("")
                                    .to_owned();
                                *summary.unmapped_kinds.entry(kind).or_default() += 1;
                            }
                            r.into_quarantined(64 << 10)
                        }
                    }
                }
                DecodeItem::Quarantined(q) => q,
            };
            *summary
                .quarantined
                .entry(format!("{}/{}", q.stage, q.reason))
                .or_default() += 1;
            if quarantine.is_none() {
                match QuarantineWriter::open(&args.quarantine) {
                    Ok(w) => quarantine = Some(w),
                    Err(e) => {
                        failure = Some(
                            anyhow::Error::from(e)
                                .context(format!("opening {}", args.quarantine.display())),
                        );
                        return;
                    }
                }
            }
            if let Some(w) = quarantine.as_mut() {
                if let Err(e) = w.write(&q) {
                    failure = Some(anyhow::Error::from(e).context("writing quarantine"));
                }
            }
        };
        let res = if path.as_os_str() == "-" {
            decode_reader("-", &mut std::io::stdin().lock(), &opts, &mut sink)
        } else {
            decode_path(path, &opts, &mut sink)
        };
        if let Some(e) = failure.take() {
            return Err(e);
        }
        res.with_context(|| format!("reading {}", path.display()))?;
    }
    if let Some(pb) = &progress {
        pb.finish_and_clear();
    }
    out.flush().context("writing events")?;
    if let Some(w) = ent_out.as_mut() {
        w.flush().context("writing entities")?;
    }
    if let Some(w) = quarantine.as_mut() {
        w.flush().context("writing quarantine")?;
    }
    print_summary(&summary, &args.quarantine);
    Ok(if args.strict && summary.quarantined_total() > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn write_entities(w: &mut impl Write, event: &Value) -> Result<()> {
    let ents = entities::entities(event);
    let line = serde_json::json!({
        "uid": event.pointer("/metadata/uid"),
        "class_uid": event.get("class_uid"),
        "time": event.get("time"),
        "entities": ents,
    });
    serde_json::to_writer(&mut *w, &line)?;
    w.write_all(b"\n")?;
    Ok(())
}

/// Prints the closing summary on stderr.
pub fn print_summary(s: &NormalizeSummary, quarantine: &Path) {
    let table = shrike_ocsf::Schema::shared().table();
    let undecodable: u64 = s
        .quarantined
        .iter()
        .filter(|(k, _)| !k.starts_with("normalize/"))
        .map(|(_, n)| n)
        .sum();
    eprintln!(
        "normalize: {} records in ({} decoded, {undecodable} undecodable), {} events out, {} quarantined",
        s.records + undecodable,
        s.records,
        s.events,
        s.quarantined_total()
    );
    if !s.by_class.is_empty() {
        eprintln!("  events by class:");
        for (uid, n) in &s.by_class {
            let name = table.classes.get(uid).map_or("?", |c| c.name.as_str());
            eprintln!("    {uid:>6} {name:<28} {n:>10}");
        }
    }
    if !s.quarantined.is_empty() {
        eprintln!("  quarantined by reason (in {}):", quarantine.display());
        for (reason, n) in &s.quarantined {
            eprintln!("    {reason:<36} {n:>10}");
        }
    }
    if !s.unmapped_kinds.is_empty() {
        let mut top: Vec<(&String, &u64)> = s.unmapped_kinds.iter().collect();
        top.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        eprintln!("  records with no mapping, most frequent kinds:");
        for (kind, n) in top.into_iter().take(10) {
            eprintln!("    {n:>10}  {kind}");
        }
    }
}

/// `shrike test` subcommands.
#[derive(clap::Subcommand, Debug)]
pub enum TestCommand {
    /// Run every mapping's sample pairs (NAME.input.* → NAME.expected.json) under content/mappings.
    Mappings(TestMappingsArgs),
    /// Run every playbook's test cases (content/playbooks) through the real engine and routing table.
    Playbooks(TestPlaybooksArgs),
}

/// `shrike test playbooks` arguments.
#[derive(clap::Args, Debug)]
pub struct TestPlaybooksArgs {
    /// The playbooks directory.
    #[arg(long, default_value = "content/playbooks")]
    pub dir: PathBuf,
    /// The routing table.
    #[arg(long, default_value = "content/routing.yaml")]
    pub routing: PathBuf,
    /// Only playbooks whose id contains this.
    #[arg(long)]
    pub filter: Option<String>,
    /// Print each case's decision trace.
    #[arg(long, short)]
    pub verbose: bool,
}

/// `shrike test mappings` arguments.
#[derive(clap::Args, Debug)]
pub struct TestMappingsArgs {
    /// The mappings directory (default: content/mappings under the current directory).
    #[arg(long, default_value = "content/mappings")]
    pub dir: PathBuf,
    /// Only samples whose path (relative to --dir) starts with this.
    #[arg(long, default_value = "")]
    pub filter: String,
    /// Write the produced events as the expected files instead of comparing.
    #[arg(long)]
    pub bless: bool,
}

/// Runs `shrike test ...`.
pub fn run_test(cmd: TestCommand) -> Result<ExitCode> {
    match cmd {
        TestCommand::Mappings(a) => run_test_mappings(&a),
        TestCommand::Playbooks(a) => run_test_playbooks(&a),
    }
}

fn run_test_playbooks(a: &TestPlaybooksArgs) -> Result<ExitCode> {
    use shrike_triage::playbook::{testing::run_all, Engine as Playbooks};
    if !a.dir.is_dir() {
        bail!(
            "{} is not a directory: run from the repository root or pass --dir",
            a.dir.display()
        );
    }
    let engine = Playbooks::load(Some(&a.dir), Some(&a.routing))?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    let reports = rt.block_on(run_all(&engine, a.filter.as_deref()));
    let mut fail = 0u32;
    for r in &reports {
        if r.passed() {
            println!("ok    {} / {}", r.playbook, r.name);
        } else {
            fail += 1;
            println!("FAIL  {} / {}", r.playbook, r.name);
            for f in &r.failures {
                println!("        {f}");
            }
        }
        if a.verbose || !r.passed() {
            for t in r.decision.iter().flat_map(|d| d.trace.iter()) {
                println!("        | {t}");
            }
        }
    }
    let without: Vec<&str> = engine
        .playbooks()
        .iter()
        .filter(|p| p.tests.is_empty())
        .map(|p| p.id.as_str())
        .collect();
    for id in &without {
        println!("FAIL  {id}: playbook without test cases");
    }
    println!(
        "{} playbooks, {} cases passed, {fail} failed, {} playbooks without cases",
        engine.playbooks().len(),
        reports.len() as u32 - fail,
        without.len()
    );
    Ok(if fail == 0 && without.is_empty() && !reports.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn run_test_mappings(a: &TestMappingsArgs) -> Result<ExitCode> {
    if !a.dir.is_dir() {
        bail!(
            "{} is not a directory: run from the repository root or pass --dir",
            a.dir.display()
        );
    }
    let engine = Engine::load_dir(&a.dir)
        .with_context(|| format!("loading mappings from {}", a.dir.display()))?;
    let (mut pass, mut fail) = (0u32, 0u32);
    for s in testing::find_samples(&a.dir) {
        let rel = s
            .input
            .strip_prefix(&a.dir)
            .unwrap_or(&s.input)
            .display()
            .to_string();
        if !rel.starts_with(&a.filter) {
            continue;
        }
        let o = testing::run_sample(&engine, &a.dir, &s, a.bless);
        if o.problems.is_empty() {
            pass += 1;
            println!("ok    {} ({} events)", o.name, o.events);
        } else {
            fail += 1;
            println!("FAIL  {}", o.name);
            for p in &o.problems {
                println!("        {p}");
            }
        }
    }
    let missing = testing::missing_samples(&a.dir);
    for m in &missing {
        println!("FAIL  {}: mapping folder without a sample", m.display());
    }
    println!(
        "{} mappings, {pass} samples passed, {fail} failed, {} folders without samples",
        engine.len(),
        missing.len()
    );
    Ok(if fail == 0 && missing.is_empty() && pass > 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
