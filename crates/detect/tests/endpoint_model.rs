//! The endpoint model: extractor features on hand-made events, label derivation on a real
//! Mordor capture, the bundled model on that capture, hostile events.

use std::path::{Path, PathBuf};

use serde_json::{json, Value};
use shrike_detect::models::endpoint::features::shannon_entropy;
use shrike_detect::models::endpoint::labels::{
    derive_labels, load_capture, EventLabel, LabelFile, Seed,
};
use shrike_detect::models::endpoint::{endpoint_schema, EndpointFeatures, EndpointModel};
use shrike_detect::models::DomainModel;

fn feat(x: &[f32], name: &str) -> f32 {
    let i = endpoint_schema().index_of(name).unwrap_or(usize::MAX);
    x.get(i).copied().unwrap_or(f32::INFINITY)
}

fn launch(host: &str, parent: &str, parent_uid: &str, child: &str, uid: &str, cmd: &str) -> Value {
    json!({
        "class_uid": 1007, "activity_id": 1, "time": 1,
        "metadata": {"product": {"name": "Sysmon"}, "event_code": "1"},
        "device": {"hostname": host},
        "process": {"uid": uid, "pid": 100, "file": {"path": child}, "cmd_line": cmd, "integrity": "High"},
        "actor": {"process": {"uid": parent_uid, "pid": 50, "file": {"path": parent}}}
    })
}

#[test]
fn parent_child_rarity_counts_per_host() {
    let mut fx = EndpointFeatures::new();
    let mut x = Vec::new();
    let ps = "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe";
    let rd = "C:\\Windows\\System32\\rundll32.exe";
    for i in 0..3 {
        let e = launch(
            "ws1",
            ps,
            "{p}",
            rd,
            &format!("{{c{i}}}"),
            "rundll32.exe a.dll,b",
        );
        assert!(fx.extract(&e, &mut x));
        assert_eq!(
            feat(&x, "pair_host_count"),
            (i as f32).ln_1p(),
            "launch {i}"
        );
        assert_eq!(feat(&x, "pair_first_seen"), if i == 0 { 1.0 } else { 0.0 });
        assert_eq!(feat(&x, "img_lolbin"), 1.0);
        assert_eq!(feat(&x, "par_script_engine"), 1.0);
        assert_eq!(feat(&x, "integrity"), 3.0);
    }
    // Another host has its own history.
    let e = launch("ws2", ps, "{p}", rd, "{c9}", "x");
    assert!(fx.extract(&e, &mut x));
    assert_eq!(feat(&x, "pair_first_seen"), 1.0);
    assert!(fx.state_bytes() > 0);
}

#[test]
fn lsass_access_and_lineage() {
    let mut fx = EndpointFeatures::new();
    let mut x = Vec::new();
    let e = launch(
        "ws1",
        "C:\\Windows\\System32\\cmd.exe",
        "{cmd}",
        "C:\\Users\\a\\Desktop\\Dumper.exe",
        "{d}",
        "Dumper.exe",
    );
    assert!(fx.extract(&e, &mut x));
    assert_eq!(feat(&x, "img_user_writable_dir"), 1.0);
    assert_eq!(feat(&x, "proc_depth"), 1.0);
    let access = json!({
        "class_uid": 1007, "activity_id": 3,
        "metadata": {"product": {"name": "Sysmon"}, "event_code": "10"},
        "device": {"hostname": "ws1"},
        "actor": {"process": {"uid": "{d}", "pid": 100, "file": {"path": "C:\\Users\\a\\Desktop\\Dumper.exe"}}},
        "process": {"pid": 700, "file": {"path": "C:\\Windows\\system32\\lsass.exe"}},
        "actual_permissions": 0x1fffff,
        "unmapped": {"CallTrace": "C:\\Windows\\SYSTEM32\\ntdll.dll+9c584|UNKNOWN(00000000002F1A2B)"}
    });
    assert!(fx.extract(&access, &mut x));
    assert_eq!(feat(&x, "acc_target_lsass"), 1.0);
    assert_eq!(feat(&x, "acc_vm_read"), 1.0);
    assert_eq!(feat(&x, "acc_full"), 1.0);
    assert_eq!(feat(&x, "acc_mask_bits"), 21.0);
    assert_eq!(feat(&x, "acc_calltrace_unknown"), 1.0);
    assert_eq!(feat(&x, "acc_pair_first_seen"), 1.0);
    assert_eq!(
        feat(&x, "anc_suspicious"),
        1.0,
        "the parent cmd.exe is remembered"
    );
    assert_eq!(feat(&x, "img_user_writable_dir"), 1.0);
    assert!(fx.extract(&access, &mut x));
    assert_eq!(feat(&x, "acc_pair_first_seen"), 0.0);
}

#[test]
fn command_line_entropy_and_obfuscation() {
    assert_eq!(shannon_entropy(""), 0.0);
    assert_eq!(shannon_entropy("aaaa"), 0.0);
    assert!((shannon_entropy("abcd") - 2.0).abs() < 1e-6);
    let mut fx = EndpointFeatures::new();
    let mut x = Vec::new();
    let ps = "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe";
    let cmd = "powershell -noP -sta -w 1 -enc SQBGACgAJABQAFMAVgBFAHIAcwBJAG8ATgBUAGEAQgBMAGUA";
    assert!(fx.extract(
        &launch("h", "C:\\Windows\\explorer.exe", "{e}", ps, "{x}", cmd),
        &mut x
    ));
    assert_eq!(feat(&x, "cmd_enc_flag"), 1.0);
    assert_eq!(feat(&x, "cmd_hidden_window"), 1.0);
    assert_eq!(feat(&x, "cmd_bypass"), 1.0);
    assert!(feat(&x, "cmd_b64_longest") >= (40f32).ln_1p());
    assert!((feat(&x, "cmd_entropy") - shannon_entropy(cmd)).abs() < 1e-6);
    let caret = "c^m^d /c w^h^o^a^m^i";
    assert!(fx.extract(
        &launch(
            "h",
            "C:\\Windows\\explorer.exe",
            "{e}",
            "C:\\Windows\\System32\\cmd.exe",
            "{y}",
            caret
        ),
        &mut x
    ));
    assert_eq!(feat(&x, "cmd_caret"), (7f32).ln_1p());
    assert_eq!(feat(&x, "cmd_enc_flag"), 0.0);
}

#[test]
fn hostile_events_give_none_not_panics() {
    let mut m = match EndpointModel::embedded() {
        Ok(m) => m,
        Err(e) => panic!("bundled model does not load: {e}"),
    };
    let long = "A".repeat(200_000);
    let hostile = [
        json!(null),
        json!([]),
        json!("x"),
        json!({"class_uid": "1007"}),
        json!({"class_uid": 4001, "metadata": {"product": {"name": "Zeek"}}}),
        json!({"class_uid": 6003}),
    ];
    for e in &hostile {
        assert!(m.score(e, &[], 3).is_none(), "{e}");
    }
    // Covered but malformed: scored, in [0, 1], no panic.
    let odd = [
        json!({"class_uid": 1007, "activity_id": 1, "process": {"cmd_line": long, "pid": -1, "uid": 5}, "actor": {"process": []}}),
        json!({"class_uid": 1007, "activity_id": 3, "actual_permissions": "x", "process": {"file": {"path": 7}}}),
        json!({"class_uid": 201002, "reg_value": {"path": null, "data": {"a": 1}}}),
        json!({"class_uid": 1001, "file": {"path": "\u{0}\u{ffff}é\\..\\"}}),
    ];
    for e in &odd {
        let s = m.score(e, &[], 3).map(|s| s.probability);
        assert!(s.is_some_and(|p| (0.0..=1.0).contains(&p)), "{e}: {s:?}");
    }
}

/// The comsvcs capture's seeds from the bundled seed file.
fn comsvcs_seeds() -> Vec<Seed> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../content/models/endpoint-labels.yaml");
    let text = std::fs::read_to_string(&p).expect("the seed file is in the repository");
    let f = LabelFile::parse(&text).expect("the seed file parses");
    let c = f
        .captures
        .iter()
        .find(|c| c.file.ends_with("psh_lsass_memory_dump_comsvcs.zip"))
        .expect("the comsvcs capture is seeded");
    c.seeds.clone()
}

fn comsvcs_capture() -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join(
        "../../../shared/data/endpoint/mordor/atomic/windows/credential_access/host/psh_lsass_memory_dump_comsvcs.zip",
    );
    if p.exists() {
        Some(p)
    } else {
        eprintln!("skipped: {} absent", p.display());
        None
    }
}

#[test]
fn labels_on_the_comsvcs_capture() {
    let Some(path) = comsvcs_capture() else {
        return;
    };
    let engine = shrike_normalize::Engine::embedded().expect("bundled mappings load");
    let (events, _) = load_capture(&path, &engine).expect("capture reads");
    let seeds = comsvcs_seeds();
    assert_eq!(seeds.len(), 1);
    assert_eq!(seeds[0].cmd.as_deref(), Some("comsvcs.dll MiniDump"));
    assert!(
        seeds[0].parent,
        "the operator's PowerShell is the attacker's shell"
    );
    let (labels, counts) = derive_labels(&events, &seeds);
    assert_eq!(labels.len(), events.len());
    assert_eq!(
        (counts.positives, counts.negatives, counts.excluded),
        (EXPECTED_POS, EXPECTED_NEG, EXPECTED_EXCL),
        "{counts:?}"
    );
    // Both launch records (Sysmon 1 and Security 4688) of rundll32 are positive.
    let launches: Vec<_> = events
        .iter()
        .zip(&labels)
        .filter(|(e, _)| e["class_uid"] == 1007 && e["activity_id"] == 1)
        .filter(|(e, _)| {
            e["process"]["cmd_line"]
                .as_str()
                .is_some_and(|c| c.contains("MiniDump"))
        })
        .collect();
    assert_eq!(launches.len(), 2);
    assert!(launches.iter().all(|(_, l)| **l == EventLabel::Positive));
}

#[test]
fn bundled_model_alerts_on_the_comsvcs_dump() {
    let Some(path) = comsvcs_capture() else {
        return;
    };
    let engine = shrike_normalize::Engine::embedded().expect("bundled mappings load");
    let (events, _) = load_capture(&path, &engine).expect("capture reads");
    let (labels, _) = derive_labels(&events, &comsvcs_seeds());
    let mut m = EndpointModel::embedded().expect("bundled model loads");
    let t = m.alert_threshold();
    let mut dump_scores = Vec::new();
    let (mut background, mut background_alerts) = (0usize, 0usize);
    for (e, l) in events.iter().zip(&labels) {
        let Some(s) = m.score(e, &[], 0) else {
            continue;
        };
        let is_dump = e["class_uid"] == 1007
            && e["activity_id"] == 1
            && e["metadata"]["event_code"] == "1"
            && e["process"]["cmd_line"]
                .as_str()
                .is_some_and(|c| c.contains("comsvcs.dll MiniDump"));
        if is_dump {
            dump_scores.push(s.probability);
        } else if *l == EventLabel::Negative {
            background += 1;
            background_alerts += usize::from(s.probability >= t);
        }
    }
    eprintln!(
        "comsvcs: dump launch {dump_scores:?} (alert threshold {t}); {background_alerts} of {background} background events alert"
    );
    assert_eq!(dump_scores.len(), 1);
    assert!(
        dump_scores[0] >= t,
        "dump scored {} < alert threshold {t}",
        dump_scores[0]
    );
    assert!(background > 50, "{background} background events");
    assert!(
        background_alerts * 10 < background,
        "{background_alerts} of {background} background events alert"
    );
}

// Measured with the seeds above (also in docs/models/endpoint.md).
const EXPECTED_POS: usize = 82;
const EXPECTED_NEG: usize = 93;
const EXPECTED_EXCL: usize = 4;

#[test]
fn state_stays_bounded_under_caps() {
    use shrike_detect::models::endpoint::features::Caps;
    let mut fx = EndpointFeatures::with_caps(Caps {
        hosts: 16,
        counters: 64,
        processes: 64,
    });
    let mut x = Vec::new();
    let mut peak = 0usize;
    for i in 0..20_000u32 {
        let host = format!("h{}", i % 40);
        let e = launch(
            &host,
            &format!("C:\\p{i}.exe"),
            &format!("{{p{i}}}"),
            &format!("C:\\c{i}.exe"),
            &format!("{{c{i}}}"),
            "x",
        );
        assert!(fx.extract(&e, &mut x));
        peak = peak.max(fx.state_bytes());
    }
    // 16 hosts x (4 counter maps x 64 + 64 processes) entries at most.
    assert!(peak < 16 * (4 * 64 * 64 + 64 * 256), "peak {peak} bytes");
    // Features still computed after evictions: a brand-new pair is first-seen.
    assert_eq!(feat(&x, "pair_first_seen"), 1.0);
}
