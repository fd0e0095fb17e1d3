//! Inventory loaders and lookups on the hand-written fixtures in `tests/fixtures/`.

use std::net::IpAddr;
use std::path::PathBuf;

use shrike_triage::assets::{InputFormat, Inventory, LoadSummary, Location, DEFAULT_CRITICALITY};

type R = Result<(), Box<dyn std::error::Error>>;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn ip(s: &str) -> IpAddr {
    s.parse().expect("test IP literal")
}

fn reasons(inv: &Inventory) -> Vec<(Location, &'static str)> {
    inv.rejected()
        .iter()
        .map(|r| (r.location, r.reason))
        .collect()
}

#[test]
fn csv_loads_hosts_and_identities_and_collects_bad_rows() -> R {
    let mut inv = Inventory::new();
    let s = inv.load_path(&fixture("inventory.csv"), InputFormat::Auto)?;
    assert_eq!(
        s,
        LoadSummary {
            hosts: 5,
            identities: 3,
            rejected: 4
        }
    );
    assert_eq!(
        reasons(&inv),
        vec![
            (Location::Line(6), "criticality_out_of_range"),
            (Location::Line(7), "invalid_ip"),
            (Location::Line(8), "invalid_criticality"),
            (Location::Line(12), "invalid_privileged"),
        ]
    );
    assert!(inv.rejected()[0].source.ends_with("inventory.csv"));

    let dc = inv.host("dc01").ok_or("dc01")?;
    assert_eq!(dc.fqdn.as_deref(), Some("dc01.corp.example"));
    assert_eq!(dc.ips, vec![ip("192.0.2.5"), ip("10.0.0.5")]);
    assert_eq!(dc.criticality, 5);
    assert!(!dc.criticality_defaulted);
    assert_eq!(dc.data_classes, vec!["credentials", "pii"]);
    assert_eq!(dc.tags, vec!["domain-controller"]);
    assert_eq!(dc.environment.as_deref(), Some("prod"));
    assert_eq!(dc.business_service.as_deref(), Some("Active Directory"));

    // Missing criticality: default, flagged, and a warning.
    let build = inv.host("BUILD01").ok_or("build01")?;
    assert_eq!(build.criticality, DEFAULT_CRITICALITY);
    assert!(build.criticality_defaulted);
    assert!(inv
        .warnings()
        .iter()
        .any(|w| w.code == "criticality_defaulted" && w.location == Location::Line(5)));

    // Duplicate host: the later row (line 13) wins, its old IP no longer resolves.
    let web = inv.host("web01").ok_or("web01")?;
    assert_eq!(web.criticality, 3);
    assert_eq!(web.ips, vec![ip("10.2.0.8")]);
    assert_eq!(web.fqdn.as_deref(), Some("web01.corp.example"));
    assert!(inv.host_by_ip(ip("10.2.0.7")).is_none());
    assert_eq!(
        inv.host_by_ip(ip("10.2.0.8")).map(|h| h.hostname.as_str()),
        Some("web01")
    );
    assert!(inv
        .warnings()
        .iter()
        .any(|w| w.code == "duplicate_host" && w.location == Location::Line(13)));
    assert_eq!(inv.hosts().count(), 4);

    // Rejected rows left nothing behind.
    assert!(inv.host("ws02").is_none());
    assert!(inv.host("ws03").is_none());
    assert!(inv.user("CORP\\dave").is_none());

    let bob = inv.user("CORP\\bob").ok_or("bob")?;
    assert!(bob.is_privileged);
    assert_eq!(bob.title.as_deref(), Some("Domain admin"));
    assert_eq!(bob.manager.as_deref(), Some("CORP\\carol"));
    assert!(inv.user("svc_backup").ok_or("svc")?.is_privileged);
    assert!(!inv.user("alice@corp").ok_or("alice")?.is_privileged);
    Ok(())
}

#[test]
fn host_lookups_by_short_name_fqdn_and_ip() -> R {
    let mut inv = Inventory::new();
    inv.load_path(&fixture("inventory.csv"), InputFormat::Auto)?;
    for name in [
        "ws01",
        "WS01",
        "ws01.corp.example",
        "WS01.CORP.EXAMPLE.",
        "192.0.2.10",
        "10.1.2.10",
        "::ffff:192.0.2.10",
    ] {
        assert_eq!(
            inv.host(name).map(|h| h.hostname.as_str()),
            Some("ws01"),
            "{name}"
        );
    }
    assert_eq!(
        inv.host_by_ip(ip("10.0.0.5")).map(|h| h.hostname.as_str()),
        Some("dc01")
    );
    assert_eq!(
        inv.host_by_ip(ip("::ffff:10.0.0.5"))
            .map(|h| h.hostname.as_str()),
        Some("dc01")
    );
    assert_eq!(inv.criticality_of("dc01.corp.example"), Some(5));
    assert_eq!(inv.criticality_of("192.0.2.5"), Some(5));
    assert_eq!(inv.criticality_of("ws01"), Some(2));
    assert_eq!(inv.criticality_of("192.0.2.99"), None);
    assert_eq!(inv.criticality_of("nohost"), None);
    assert_eq!(inv.criticality_of(""), None);
    assert_eq!(inv.criticality_of("a b ..c"), None);
    Ok(())
}

#[test]
fn user_lookups_by_domain_backslash_upn_and_bare() -> R {
    let mut inv = Inventory::new();
    inv.load_path(&fixture("inventory.csv"), InputFormat::Auto)?;
    inv.load_path(&fixture("identities.ndjson"), InputFormat::Auto)?;
    for name in [
        "CORP\\alice",
        "corp\\ALICE",
        "alice@corp.example",
        "Alice@CORP",
        "alice@corp.example.com",
    ] {
        let a = inv.user(name).ok_or(name)?;
        assert_eq!(a.user, "alice@corp", "{name}");
        assert_eq!(a.department.as_deref(), Some("Finance"));
    }
    // A bare name matches only a bare row: "alice" is not alice@corp, "bob" is the NDJSON row.
    assert!(inv.user("alice").is_none());
    let bare_bob = inv.user("bob").ok_or("bare bob")?;
    assert_eq!(bare_bob.user, "bob");
    assert_eq!(
        inv.user("CORP\\bob").map(|u| u.user.as_str()),
        Some("bob@corp")
    );
    assert_eq!(
        inv.user("pgustavo@theshire.local")
            .and_then(|u| u.department.as_deref()),
        Some("Engineering")
    );
    assert!(inv.user("").is_none());
    assert!(inv.user("CORP\\").is_none());
    Ok(())
}

#[test]
fn ndjson_reports_bad_lines_and_later_rows_override_earlier_files() -> R {
    let mut inv = Inventory::new();
    inv.load_path(&fixture("inventory.csv"), InputFormat::Auto)?;
    let s = inv.load_path(&fixture("identities.ndjson"), InputFormat::Auto)?;
    assert_eq!(
        s,
        LoadSummary {
            hosts: 0,
            identities: 3,
            rejected: 1
        }
    );
    let last = inv.rejected().last().ok_or("rejection")?;
    assert_eq!(
        (last.location, last.reason),
        (Location::Line(4), "malformed_json")
    );
    // The NDJSON alice replaced the CSV one (no email in the new row).
    let alice = inv.user("CORP\\alice").ok_or("alice")?;
    assert_eq!(alice.email, None);
    assert!(inv
        .warnings()
        .iter()
        .any(|w| w.code == "duplicate_user" && w.source.ends_with("identities.ndjson")));
    Ok(())
}

#[test]
fn json_array_loads_with_indexes_for_bad_rows() -> R {
    let mut inv = Inventory::new();
    let s = inv.load_path(&fixture("inventory.json"), InputFormat::Auto)?;
    assert_eq!(
        s,
        LoadSummary {
            hosts: 3,
            identities: 2,
            rejected: 5
        }
    );
    assert_eq!(
        reasons(&inv),
        vec![
            (Location::Index(2), "criticality_out_of_range"),
            (Location::Index(3), "invalid_ip"),
            (Location::Index(6), "missing_user"),
            (Location::Index(7), "unknown_kind"),
            (Location::Index(8), "not_an_object"),
        ]
    );
    // "5" as a string, ips as a ;-string, trailing dot in the name.
    let dc = inv.host("dc01.corp.example").ok_or("dc01")?;
    assert_eq!(dc.criticality, 5);
    assert_eq!(dc.ips, vec![ip("192.0.2.5"), ip("10.0.0.5")]);
    // Index 9 redefines ws01 (by FQDN): the later row wins and 192.0.2.10 is released.
    let ws = inv.host("ws01").ok_or("ws01")?;
    assert_eq!(ws.criticality, 3);
    assert_eq!(ws.fqdn.as_deref(), Some("ws01.corp.example"));
    assert!(inv.host("192.0.2.10").is_none());
    assert_eq!(inv.criticality_of("10.1.2.10"), Some(3));
    assert_eq!(
        inv.warnings()
            .iter()
            .filter(|w| w.code == "duplicate_host")
            .count(),
        1
    );
    let alice = inv.user("alice@corp.example").ok_or("alice")?;
    assert_eq!(alice.email.as_deref(), Some("alice@corp.example"));
    assert_eq!(alice.original, "CORP\\alice");
    assert!(inv.user("CORP\\bob").ok_or("bob")?.is_privileged);
    Ok(())
}

#[test]
fn format_is_sniffed_from_content_and_ip_moves_between_hosts() {
    let mut inv = Inventory::new();
    let csv = "hostname,ips,criticality\nws01,10.0.0.1,4\nws09,10.0.0.1,1\n";
    let s = inv.load_str(csv, InputFormat::Auto, "inline");
    assert_eq!(s.hosts, 2);
    assert_eq!(
        inv.host("10.0.0.1").map(|h| h.hostname.as_str()),
        Some("ws09")
    );
    assert_eq!(inv.host("ws01").map(|h| h.ips.len()), Some(0));
    assert!(inv.warnings().iter().any(|w| w.code == "ip_reassigned"));

    let mut inv = Inventory::new();
    let one = r#"{ "user": "CORP\\alice",
                   "privileged": true }"#;
    assert_eq!(inv.load_str(one, InputFormat::Auto, "one").identities, 1);
    assert!(inv.user("alice@corp").is_some_and(|u| u.is_privileged));

    let mut inv = Inventory::new();
    let nd = "{\"hostname\":\"ws01\"}\n{\"hostname\":\"dc01\",\"criticality\":5}\n";
    assert_eq!(inv.load_str(nd, InputFormat::Auto, "nd").hosts, 2);

    let mut inv = Inventory::new();
    let bad = "[{\"hostname\": \"ws01\"},";
    let s = inv.load_str(bad, InputFormat::Auto, "bad");
    assert_eq!((s.hosts, s.rejected), (0, 1));
    assert_eq!(inv.rejected()[0].reason, "malformed_json");

    let mut inv = Inventory::new();
    let ragged = "hostname,criticality\nws01,2,extra\nws02,2\n10.0.0.9,2\n4711,1\n";
    let s = inv.load_str(ragged, InputFormat::Csv, "ragged");
    assert_eq!((s.hosts, s.rejected), (1, 3));
    assert_eq!(
        reasons(&inv),
        vec![
            (Location::Line(2), "malformed_csv"),
            (Location::Line(4), "invalid_hostname"),
            (Location::Line(5), "invalid_hostname"),
        ]
    );
}

#[test]
fn missing_file_is_an_error() {
    let mut inv = Inventory::new();
    assert!(inv
        .load_path(&fixture("nope.csv"), InputFormat::Auto)
        .is_err());
}

mod props {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn loaders_never_panic(text in ".{0,400}") {
            for f in [InputFormat::Auto, InputFormat::Csv, InputFormat::Json, InputFormat::Ndjson] {
                let mut inv = Inventory::new();
                let s = inv.load_str(&text, f, "p");
                prop_assert_eq!(s.rejected, inv.rejected().len());
                let _ = inv.host(&text);
                let _ = inv.user(&text);
            }
        }
    }
}
