//! The local indicator store (issue 4): exact, CIDR, parent-domain and URL lookups,
//! deduplication, warning-list suppression, and the full bundled feed set.

use std::borrow::Cow;
use std::net::IpAddr;
use std::path::PathBuf;

use proptest::prelude::*;
use shrike_intel::store::{is_suppressed, suppressed_by, IntelStore};
use shrike_intel::warninglists::{Cidr, WarningLists};
use shrike_intel::{Indicator, IndicatorKind, IntelHit};

fn hit(raw: &str, source: &str, family: Option<&str>, confidence: u8) -> IntelHit {
    IntelHit {
        indicator: Indicator::guess(raw).unwrap_or_else(|| panic!("not an indicator: {raw}")),
        source: source.into(),
        family: family.map(str::to_string),
        threat: "c2".into(),
        confidence,
        first_seen: None,
        last_seen: Some(10),
        tags: vec![format!("feed:{source}")],
        attack: Vec::new(),
        reference: None,
    }
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap_or_else(|_| panic!("bad ip {s}"))
}

fn ind(s: &str) -> Indicator {
    Indicator::guess(s).unwrap_or_else(|| panic!("not an indicator: {s}"))
}

fn tags_of(h: &IntelHit) -> Vec<&str> {
    h.tags.iter().map(String::as_str).collect()
}

fn sources<'a>(hits: &'a [Cow<'_, IntelHit>]) -> Vec<&'a str> {
    hits.iter().map(|h| h.source.as_str()).collect()
}

#[test]
fn exact_lookups_and_dedup() {
    let mut s = IntelStore::new();
    assert!(s.insert(hit("192.0.2.7", "a", Some("IcedID"), 50)));
    let mut again = hit("192.0.2.7", "a", Some("Emotet"), 80);
    again.last_seen = Some(20);
    again.tags.push("port:443".into());
    assert!(s.insert(again));
    assert!(s.insert(hit("192.0.2.7", "b", None, 30)));
    assert!(s.insert(hit("2001:db8::7", "a", None, 30)));
    assert!(s.insert(hit("evil.example", "a", None, 60)));
    assert!(s.insert(hit("d41d8cd98f00b204e9800998ecf8427e", "a", None, 60)));
    assert!(s.insert(hit("bob@evil.example", "a", None, 60)));
    let mut bad = hit("192.0.2.8", "a", None, 1);
    bad.indicator.value = "not an ip".into();
    assert!(!s.insert(bad), "an invalid indicator is refused");

    let h = s.lookup(&ind("192.0.2.7"));
    assert_eq!(h.len(), 2, "one hit per (indicator, source)");
    assert_eq!(h[0].source, "a");
    assert_eq!(h[0].confidence, 80);
    assert_eq!(h[0].last_seen, Some(20));
    assert_eq!(h[0].family.as_deref(), Some("IcedID"));
    assert_eq!(tags_of(&h[0]), vec!["feed:a", "port:443", "family:Emotet"]);
    assert_eq!(s.lookup(&ind("::ffff:192.0.2.7")).len(), 2);
    assert_eq!(s.lookup(&ind("2001:DB8::7")).len(), 1);
    assert_eq!(s.lookup(&ind("Evil.Example")).len(), 1);
    assert_eq!(s.lookup(&ind("D41D8CD98F00B204E9800998ECF8427E")).len(), 1);
    assert_eq!(s.lookup(&ind("bob@evil.example")).len(), 1);
    assert!(s.lookup(&ind("192.0.2.9")).is_empty());
    assert!(
        s.lookup(&ind("a.evil.example")).is_empty(),
        "lookup is exact"
    );
    assert_eq!(s.len(), 6);
    assert_eq!(s.indicators(), 5);
    assert_eq!(s.count_by_source().get("a"), Some(&5));
}

#[test]
fn parent_domain_url_and_cidr_matches() {
    let mut s = IntelStore::new();
    s.insert(hit("evil.example", "maltrail", Some("IcedID"), 60));
    s.insert(hit("http://evil.example/gate.php", "urlhaus", None, 80));
    s.insert(hit("https://203.0.113.5/", "openphish", None, 80));
    s.insert(hit("203.0.113.5", "ipsum", None, 20));
    let net = Cidr::parse("198.51.100.0/24").unwrap_or_else(|| panic!("cidr"));
    s.insert_cidr(net, hit("198.51.100.0", "feed", None, 40));

    let d = s.lookup_domain("A.B.Evil.Example.");
    assert_eq!(sources(&d), vec!["maltrail"]);
    assert!(d[0].tags.iter().any(|t| t == "match:parent-domain"));
    assert_eq!(d[0].indicator.value, "evil.example");
    let d = s.lookup_domain("evil.example");
    assert!(
        matches!(d[0], Cow::Borrowed(_)),
        "exact match is not cloned"
    );
    assert!(!d[0].tags.iter().any(|t| t.starts_with("match:")));
    assert!(s.lookup_domain("notevil.example").is_empty());
    assert!(s.lookup_domain("example").is_empty());
    assert!(s.lookup_domain("").is_empty());

    // Exact URL regardless of scheme, then the host as a domain.
    let u = s.lookup_url("HTTPS://EVIL.example/gate.php");
    assert_eq!(sources(&u), vec!["urlhaus", "maltrail"]);
    assert!(u[1].tags.iter().any(|t| t == "match:url-host"));
    let u = s.lookup_url("http://x.evil.example/other");
    assert_eq!(sources(&u), vec!["maltrail"]);
    let t = tags_of(&u[0]);
    assert!(t.contains(&"match:url-host") && t.contains(&"match:parent-domain"));
    let u = s.lookup_url("http://203.0.113.5");
    assert_eq!(sources(&u), vec!["openphish", "ipsum"]);
    assert!(s.lookup_url("http://good.example/gate.php").is_empty());
    assert!(s.lookup_url("not a url").is_empty());

    let c = s.lookup_ip(ip("198.51.100.77"));
    assert_eq!(sources(&c), vec!["feed"]);
    assert!(c[0].tags.iter().any(|t| t == "match:cidr"));
    assert!(s.lookup_ip(ip("198.51.101.1")).is_empty());
    assert_eq!(sources(&s.lookup_ip(ip("203.0.113.5"))), vec!["ipsum"]);
}

fn fixture_lists() -> WarningLists {
    let mut w = WarningLists::new();
    w.add_json(
        "public-dns",
        r#"{"name":"DNS","type":"cidr","matching_attributes":["ip-dst","ip-src"],"list":["8.8.8.8/32","1.1.1.1"]}"#,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    w.add_json(
        "top",
        r#"{"name":"Top","type":"hostname","matching_attributes":["domain","hostname","url"],"list":["google.com"]}"#,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    w
}

#[test]
fn suppression_keeps_hits_visible() {
    // Warning lists set before and after inserting must give the same tags.
    let mut before = IntelStore::new().with_warninglists(fixture_lists());
    let mut after = IntelStore::new();
    for s in [&mut before, &mut after] {
        s.insert(hit("8.8.8.8", "ipsum", None, 20));
        s.insert(hit("google.com", "phish", None, 60));
        s.insert(hit("evil.example", "maltrail", None, 60));
    }
    let after = after.with_warninglists(fixture_lists());
    for s in [&before, &after] {
        let h = s.lookup(&ind("8.8.8.8"));
        assert_eq!(h.len(), 1);
        assert!(is_suppressed(&h[0]));
        assert_eq!(suppressed_by(&h[0]).collect::<Vec<_>>(), vec!["public-dns"]);
        let h = s.lookup_domain("mail.google.com");
        assert_eq!(h.len(), 1, "parent hit still returned");
        assert_eq!(suppressed_by(&h[0]).collect::<Vec<_>>(), vec!["top"]);
        assert!(!is_suppressed(&s.lookup(&ind("evil.example"))[0]));
        // The looked-up name is listed even though the hit's own indicator is not.
        let u = s.lookup_url("https://www.google.com/x");
        assert_eq!(u.len(), 1);
        assert!(is_suppressed(&u[0]));
    }
}

fn intel_dir() -> Option<PathBuf> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/threat-intel");
    p.is_dir().then_some(p)
}

#[test]
fn real_warninglists_suppress_public_dns_and_top_domains() {
    let Some(dir) = intel_dir() else {
        eprintln!("skipping: ../shared/data/threat-intel not found");
        return;
    };
    let wl = WarningLists::load_dir(&dir.join("misp-warninglists/lists"))
        .unwrap_or_else(|e| panic!("{e}"));
    // SOURCES.md's summary says "39 lists", but its table (and the directory) has 40.
    assert_eq!(wl.lists().len(), 40, "skipped: {:?}", wl.skipped());
    assert!(wl.skipped().is_empty(), "no regex lists in this snapshot");
    let dns4 = wl
        .lists()
        .iter()
        .find(|l| l.name == "public-dns-v4")
        .unwrap_or_else(|| panic!("public-dns-v4"));
    assert_eq!((dns4.entries, dns4.bad_entries), (11_336, 0));

    for (v, list) in [
        ("8.8.8.8", "public-dns-v4"),
        ("1.1.1.1", "public-dns-v4"),
        ("2001:4860:4860::8888", "public-dns-v6"),
        ("google.com", "tranco10k"),
        ("www.google.com", "tranco10k"),
        ("10.1.2.3", "rfc1918"),
        ("d41d8cd98f00b204e9800998ecf8427e", "empty-hashes"),
    ] {
        let m = wl.matches(&ind(v));
        assert!(m.contains(&list), "{v}: {m:?}");
    }
    assert_eq!(wl.matches(&ind("1.1.1.1")), vec!["public-dns-v4"]);
    assert!(wl.matches(&ind("188.166.154.118")).is_empty());
    assert!(wl.matches(&ind("oceriesfornot.top")).is_empty());

    let mut s = IntelStore::new().with_warninglists(wl);
    s.insert(hit("8.8.8.8", "fixture", None, 50));
    s.insert(hit("1.1.1.1", "fixture", None, 50));
    s.insert(hit("google.com", "fixture", None, 50));
    for v in ["8.8.8.8", "1.1.1.1"] {
        let h = s.lookup_ip(ip(v));
        assert_eq!(h.len(), 1);
        assert_eq!(
            suppressed_by(&h[0]).collect::<Vec<_>>(),
            vec!["public-dns-v4"],
            "{v}"
        );
    }
    let h = s.lookup_domain("google.com");
    assert!(suppressed_by(&h[0]).any(|l| l == "tranco10k"));
}

#[test]
fn full_feed_set() {
    let Some(dir) = intel_dir() else {
        eprintln!("skipping: ../shared/data/threat-intel not found");
        return;
    };
    let (s, report) = IntelStore::load_default(&dir).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        report.feeds.iter().all(|f| f.error.is_none()),
        "{:?}",
        report.feeds
    );
    assert_eq!(report.warninglists, 40);
    eprintln!("per source (distinct hits): {:?}", report.per_source);
    let suppressed = s.hits().filter(|h| is_suppressed(h)).count();
    let mut by_list = std::collections::BTreeMap::new();
    for h in s.hits() {
        for l in suppressed_by(h) {
            *by_list.entry(l.to_string()).or_insert(0usize) += 1;
        }
    }
    eprintln!(
        "store: {} hits, {} indicators, ~{} MiB, {} suppressed {:?}",
        s.len(),
        s.indicators(),
        s.memory_estimate() / (1 << 20),
        suppressed,
        by_list
    );
    let ps = &report.per_source;
    // Feeds with no repeats keep every line.
    assert_eq!(ps.get("ipsum"), Some(&120_430));
    assert_eq!(ps.get("threatfox"), Some(&19_863));
    assert_eq!(
        ps.get("c2-tracker"),
        Some(&2_347),
        "the union of the framework files"
    );
    assert_eq!(ps.get("openphish"), Some(&300));
    assert_eq!(
        ps.get("feodo"),
        Some(&236),
        "235 (2015) + 1 (2024), none shared"
    );
    assert!(ps.get("urlhaus").is_some_and(|&n| n >= 6_363));
    assert!(suppressed > 0);

    // Ground truth (shared/data/network/SOURCES.md section 4).
    let h = s.lookup_domain("www.asleytomafa.com");
    assert_eq!(h.len(), 1);
    assert_eq!(h[0].family.as_deref(), Some("IcedID"));
    assert!(h[0].tags.iter().any(|t| t == "match:parent-domain"));
    assert!(s.lookup_ip(ip("188.166.154.118")).is_empty());
    assert!(s.lookup_domain("oceriesfornot.top").is_empty());
    let c2 = s.lookup_ip(ip("45.61.139.232"));
    assert_eq!(sources(&c2), vec!["maltrail"]);

    // IPsum's most-listed IP.
    let top = s.lookup(&ind("77.90.185.20"));
    assert!(top
        .iter()
        .any(|h| h.source == "ipsum" && h.confidence == 90));
}

proptest! {
    #[test]
    fn lookups_never_panic(q in "(?s).{0,80}", dots in "[a-z.]{0,30}") {
        let mut s = IntelStore::new().with_warninglists(fixture_lists());
        s.insert(hit("evil.example", "a", None, 1));
        s.insert(hit("http://evil.example/x", "a", None, 1));
        s.insert(hit("192.0.2.1", "a", None, 1));
        s.insert_cidr(Cidr::parse("10.0.0.0/8").unwrap_or_else(|| panic!("cidr")), hit("10.0.0.0", "a", None, 1));
        for raw in [q.as_str(), dots.as_str()] {
            let _ = s.lookup_domain(raw);
            let _ = s.lookup_url(raw);
            if let Ok(a) = raw.parse::<IpAddr>() {
                let _ = s.lookup_ip(a);
            }
            if let Some(i) = Indicator::guess(raw) {
                let _ = s.lookup(&i);
                let _ = s.warninglists().matches(&i);
            }
            for kind in [IndicatorKind::Url, IndicatorKind::Domain] {
                let i = Indicator { kind, value: raw.to_string() };
                let _ = s.lookup(&i);
                let _ = s.warninglists().matches(&i);
            }
        }
    }

    #[test]
    fn warninglist_json_never_panics(entries in proptest::collection::vec("(?s).{0,24}", 0..8), ty in "(cidr|string|hostname|substring|regex|x)") {
        let list = serde_json::json!({"name": "p", "type": ty, "list": entries});
        let mut w = WarningLists::new();
        let _ = w.add_json("p", &list.to_string());
        for e in &entries {
            if let Some(i) = Indicator::guess(e) {
                let _ = w.matches(&i);
            }
        }
    }
}
