//! The real enrichment backend against normalizer outputs (`tests/fixtures/*.ocsf.json`: a
//! Suricata HTTP alert and a Zeek conn record from the IcedID capture, a CloudTrail API call and
//! a Windows 4624 logon from the mapping tests), an in-memory intel store, a closed local port
//! standing in for VirusTotal, an inventory and a baseline in a temp dir.

use std::net::TcpListener;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use shrike_intel::provider::{Guarded, Policy, SystemClock};
use shrike_intel::store::{is_suppressed, IntelStore};
use shrike_intel::vt::{VtClient, VtConfig};
use shrike_intel::{Indicator, IndicatorKind, IntelHit};
use shrike_normalize::entities::{Entity, EntityKind};
use shrike_triage::assets::{InputFormat, Inventory, DEFAULT_CRITICALITY};
use shrike_triage::baseline::{Baseline, BaselineKind};
use shrike_triage::enrich::{
    indicators_of, AlertView, EnrichBackend, Enricher, ProviderResult, ProviderStatus, PROVIDERS,
};

fn fixture(name: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    let text = std::fs::read_to_string(&path).expect("fixture is readable");
    serde_json::from_str(&text).expect("fixture is JSON")
}

fn values(inds: &[Indicator]) -> Vec<(IndicatorKind, &str)> {
    inds.iter().map(|i| (i.kind, i.value.as_str())).collect()
}

fn entity(kind: EntityKind, key: &str, role: &str) -> Entity {
    Entity {
        kind,
        key: key.into(),
        role: role.into(),
        aliases: Vec::new(),
    }
}

fn hit(value: &str, source: &str, tags: &[&str]) -> IntelHit {
    IntelHit {
        indicator: Indicator::guess(value).expect("test indicator is valid"),
        source: source.into(),
        family: Some("IcedID".into()),
        threat: "c2".into(),
        confidence: 80,
        first_seen: None,
        last_seen: None,
        tags: tags.iter().map(|t| (*t).to_owned()).collect(),
        attack: Vec::new(),
        reference: None,
    }
}

async fn ask(e: &Enricher, provider: &str, alert: &AlertView) -> ProviderResult {
    let r = e.enrich(provider, alert).await;
    assert_eq!(r.provider, provider);
    r
}

// ---------------------------------------------------------------------------------------------
// indicators_of

#[test]
fn indicators_of_suricata_http_alert() {
    let ev = fixture("suricata-http-alert.ocsf.json");
    assert_eq!(
        values(&indicators_of(&ev)),
        [
            (IndicatorKind::Ipv4, "10.10.31.101"),
            (IndicatorKind::Ipv4, "104.21.32.6"),
            (IndicatorKind::Domain, "grafielucho.com"),
        ]
    );
}

#[test]
fn indicators_of_zeek_conn() {
    let ev = fixture("zeek-conn.ocsf.json");
    assert_eq!(
        values(&indicators_of(&ev)),
        [
            (IndicatorKind::Ipv4, "10.55.100.100"),
            (IndicatorKind::Ipv4, "205.204.101.182"),
        ]
    );
}

#[test]
fn indicators_of_event_without_observables_read_the_evidence_endpoints() {
    let mut ev = fixture("suricata-http-alert.ocsf.json");
    ev.as_object_mut()
        .expect("event is an object")
        .remove("observables");
    // The URL host lives in `http_request`, which only the observables walk reaches.
    assert_eq!(
        values(&indicators_of(&ev)),
        [
            (IndicatorKind::Ipv4, "10.10.31.101"),
            (IndicatorKind::Ipv4, "104.21.32.6"),
        ]
    );
}

#[test]
fn alert_view_from_event_takes_time_and_entities() {
    let alert = AlertView::from_event(fixture("zeek-conn.ocsf.json"), None);
    assert_eq!(alert.time_ms, 1_517_422_326_540);
    assert_eq!(alert.indicators.len(), 2);
    assert!(alert
        .entities
        .iter()
        .any(|e| e.kind == EntityKind::Ip && e.key == "205.204.101.182"));
}

// ---------------------------------------------------------------------------------------------
// Not configured, unknown

#[tokio::test]
async fn unconfigured_providers_are_skipped() {
    let e = Enricher::new();
    let alert = AlertView::from_event(fixture("zeek-conn.ocsf.json"), None);
    for p in PROVIDERS {
        let r = ask(&e, p, &alert).await;
        assert_eq!(
            r.status,
            ProviderStatus::Skipped {
                reason: "not configured".into()
            },
            "{p}"
        );
    }
}

#[tokio::test]
async fn unknown_provider_fails() {
    let e = Enricher::new();
    let alert = AlertView::from_event(fixture("zeek-conn.ocsf.json"), None);
    let r = ask(&e, "shodan", &alert).await;
    assert_eq!(
        r.status,
        ProviderStatus::Failed {
            error: "unknown provider".into()
        }
    );
}

// ---------------------------------------------------------------------------------------------
// intel

#[tokio::test]
async fn intel_hits_from_the_store_keep_suppressed_ones() {
    let mut store = IntelStore::new();
    assert!(store.insert(hit("104.21.32.6", "feodo", &[])));
    assert!(store.insert(hit("104.21.32.6", "ipsum", &["suppressed:cloudflare"])));
    assert!(store.insert(hit("grafielucho.com", "threatfox", &[])));
    let e = Enricher::new().with_intel(Arc::new(store));
    let alert = AlertView::from_event(fixture("suricata-http-alert.ocsf.json"), None);
    let r = ask(&e, "intel", &alert).await;

    assert_eq!(r.status, ProviderStatus::Ok);
    let sources: Vec<&str> = r.hits.iter().map(|h| h.source.as_str()).collect();
    assert_eq!(sources, ["feodo", "ipsum", "threatfox"]);
    assert_eq!(r.hits.iter().filter(|h| is_suppressed(h)).count(), 1);
    assert_eq!(r.detail["hits"], 3);
    assert_eq!(r.detail["suppressed"], 1);
    assert_eq!(
        r.detail["indicators"],
        serde_json::json!([
            {"indicator": "10.10.31.101", "kind": "ipv4", "hits": 0, "suppressed": 0},
            {"indicator": "104.21.32.6", "kind": "ipv4", "hits": 2, "suppressed": 1},
            {"indicator": "grafielucho.com", "kind": "domain", "hits": 1, "suppressed": 0},
        ])
    );
}

#[tokio::test]
async fn intel_unavailable_store_fails_with_the_reason() {
    let e = Enricher::new().with_intel_unavailable("no feeds directory under /nope".into());
    let alert = AlertView::from_event(fixture("zeek-conn.ocsf.json"), None);
    let r = ask(&e, "intel", &alert).await;
    assert_eq!(
        r.status,
        ProviderStatus::Failed {
            error: "unavailable: no feeds directory under /nope".into()
        }
    );
    assert!(r.hits.is_empty());
}

// ---------------------------------------------------------------------------------------------
// virustotal

#[tokio::test]
async fn virustotal_on_a_closed_port_fails_naming_the_error() {
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
        l.local_addr().expect("local addr").port()
    };
    let config = VtConfig {
        api_key: Some("test-key".into()),
        base_url: format!("http://127.0.0.1:{port}/api/v3"),
        quota_per_minute: 0,
        ..VtConfig::default()
    };
    let clock = Arc::new(SystemClock::new());
    let client = VtClient::new(config, clock.clone()).expect("client builds");
    let policy = Policy {
        timeout: Duration::from_secs(5),
        max_attempts: 1,
        ..Policy::default()
    };
    let e = Enricher::new().with_virustotal(Guarded::new(client, policy, clock));
    let alert = AlertView::from_event(fixture("zeek-conn.ocsf.json"), None);
    let r = ask(&e, "virustotal", &alert).await;

    let ProviderStatus::Failed { error } = &r.status else {
        panic!("expected a failure, got {:?}", r.status);
    };
    assert!(
        error.starts_with("205.204.101.182: upstream error: "),
        "{error}"
    );
    // Only the public address was asked; the private source was not.
    assert_eq!(r.detail["not_public"], serde_json::json!(["10.55.100.100"]));
    let outcomes = r.detail["outcomes"].as_array().expect("outcomes");
    assert_eq!(outcomes.len(), 1);
    assert_eq!(outcomes[0]["reason"], "upstream");
    assert_eq!(outcomes[0]["attempts"], 1);
}

// ---------------------------------------------------------------------------------------------
// assets

const INVENTORY: &str = "\
kind,hostname,ips,owner,business_service,criticality,data_classes,user,privileged
host,ws07.corp.example,10.55.100.100,alice,Finance desktop,4,pii,,
host,kiosk02,10.55.100.101,,,,,,
identity,,,,,,,CORP\\alice,true
";

fn inventory() -> Arc<Inventory> {
    let mut inv = Inventory::new();
    let s = inv.load_str(INVENTORY, InputFormat::Csv, "test");
    assert_eq!((s.hosts, s.identities, s.rejected), (2, 1, 0));
    Arc::new(inv)
}

#[tokio::test]
async fn assets_by_ip_give_hostname_and_criticality() {
    let e = Enricher::new().with_inventory(inventory());
    let subject = entity(EntityKind::Ip, "10.55.100.100", "src_endpoint");
    let alert = AlertView::from_event(fixture("zeek-conn.ocsf.json"), Some(subject));
    let r = ask(&e, "assets", &alert).await;
    assert_eq!(r.status, ProviderStatus::Ok);
    let a = r.asset.expect("asset facts");
    assert_eq!(a.hostname.as_deref(), Some("ws07"));
    assert_eq!(a.criticality, 4);
    assert!(!a.criticality_defaulted);
    assert_eq!(a.owner.as_deref(), Some("alice"));
    assert_eq!(a.business_service.as_deref(), Some("Finance desktop"));
    assert_eq!(a.data_classes, ["pii"]);
    assert_eq!(r.detail["host"]["resolved_by"], "ip");
}

#[tokio::test]
async fn assets_without_subject_use_the_first_known_host_and_user() {
    let e = Enricher::new().with_inventory(inventory());
    let mut ev = fixture("windows-4624-logon.ocsf.json");
    ev["device"]["hostname"] = "KIOSK02.corp.example".into();
    ev["dst_endpoint"]["hostname"] = "KIOSK02.corp.example".into();
    let alert = AlertView::from_event(ev, None);
    let a = ask(&e, "assets", &alert).await.asset.expect("asset facts");
    assert_eq!(a.hostname.as_deref(), Some("kiosk02"));
    // The row had no criticality: the default, and it says so.
    assert_eq!(a.criticality, DEFAULT_CRITICALITY);
    assert!(a.criticality_defaulted);
    assert_eq!(a.user.as_deref(), Some("alice@corp"));
    assert_eq!(a.user_privileged, Some(true));
}

#[tokio::test]
async fn assets_unknown_subject_defaults_criticality() {
    let e = Enricher::new().with_inventory(inventory());
    let subject = entity(EntityKind::Host, "nobody", "device");
    let alert = AlertView::from_event(fixture("zeek-conn.ocsf.json"), Some(subject));
    let a = ask(&e, "assets", &alert).await.asset.expect("asset facts");
    assert_eq!(a.hostname, None);
    assert_eq!(a.criticality, DEFAULT_CRITICALITY);
    assert!(a.criticality_defaulted);
    assert_eq!(a.user, None);
}

// ---------------------------------------------------------------------------------------------
// baseline

fn baseline(dir: &tempfile::TempDir) -> Arc<Mutex<Baseline>> {
    let b = Baseline::open(&dir.path().join("baseline.sqlite")).expect("baseline opens");
    Arc::new(Mutex::new(b))
}

fn conn_event(uid: &str, time_ms: i64) -> Value {
    let mut ev = fixture("zeek-conn.ocsf.json");
    ev["metadata"]["uid"] = uid.into();
    ev["time"] = time_ms.into();
    ev
}

#[tokio::test]
async fn baseline_first_seen_then_seen_and_replays_not_counted() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = baseline(&dir);
    let e = Enricher::new()
        .with_inventory(inventory())
        .with_baseline(Arc::clone(&store));

    let first = AlertView::from_event(conn_event("a", 1_000), None);
    let r = ask(&e, "baseline", &first).await;
    assert_eq!(r.status, ProviderStatus::Ok);
    let facts = r.rarity.expect("rarity facts");
    assert!(facts.first_seen);
    assert_eq!(facts.rarity, 1.0);
    assert_eq!(facts.pairs.len(), 1);
    // The source IP resolved to its inventory host; the private source is not a destination.
    assert_eq!(facts.pairs[0]["kind"], "host_destination");
    assert_eq!(facts.pairs[0]["subject"], "ws07");
    assert_eq!(facts.pairs[0]["object"], "205.204.101.182");

    let second = AlertView::from_event(conn_event("b", 2_000), None);
    let facts = ask(&e, "baseline", &second)
        .await
        .rarity
        .expect("rarity facts");
    assert!(!facts.first_seen);
    assert_eq!(facts.rarity, 0.0);
    assert_eq!(facts.pairs[0]["count"], 2);

    // The first event again (a replay after a restart): its first answer, not counted again.
    let facts = ask(&e, "baseline", &first)
        .await
        .rarity
        .expect("rarity facts");
    assert!(facts.first_seen);
    assert_eq!(facts.pairs[0]["status"], "replayed");
    let seen = store
        .lock()
        .expect("baseline lock")
        .lookup(BaselineKind::HostDestination, "ws07", "205.204.101.182")
        .expect("lookup");
    assert_eq!(seen.count, 2);
}

#[tokio::test]
async fn baseline_without_inventory_keys_on_the_source_ip() {
    let dir = tempfile::tempdir().expect("temp dir");
    let e = Enricher::new().with_baseline(baseline(&dir));
    let alert = AlertView::from_event(conn_event("a", 1_000), None);
    let facts = ask(&e, "baseline", &alert)
        .await
        .rarity
        .expect("rarity facts");
    assert_eq!(facts.pairs[0]["subject"], "10.55.100.100");
}

#[tokio::test]
async fn baseline_user_api_of_a_cloud_call() {
    let dir = tempfile::tempdir().expect("temp dir");
    let e = Enricher::new().with_baseline(baseline(&dir));
    let alert = AlertView::from_event(fixture("cloudtrail-api-activity.ocsf.json"), None);
    let facts = ask(&e, "baseline", &alert)
        .await
        .rarity
        .expect("rarity facts");
    let kinds: Vec<(&str, &str, &str)> = facts
        .pairs
        .iter()
        .filter_map(|p| {
            Some((
                p["kind"].as_str()?,
                p["subject"].as_str()?,
                p["object"].as_str()?,
            ))
        })
        .collect();
    assert_eq!(
        kinds,
        [(
            "user_api",
            "aws:111122223333:user/alice",
            "ec2:DescribeInstances"
        )]
    );
    assert!(facts.first_seen);
}

#[tokio::test]
async fn baseline_user_host_of_a_logon() {
    let dir = tempfile::tempdir().expect("temp dir");
    let e = Enricher::new().with_baseline(baseline(&dir));
    let alert = AlertView::from_event(fixture("windows-4624-logon.ocsf.json"), None);
    let facts = ask(&e, "baseline", &alert)
        .await
        .rarity
        .expect("rarity facts");
    let pairs: Vec<(&str, &str, &str)> = facts
        .pairs
        .iter()
        .filter_map(|p| {
            Some((
                p["kind"].as_str()?,
                p["subject"].as_str()?,
                p["object"].as_str()?,
            ))
        })
        .collect();
    // The host's own FQDN is not a destination of itself; `::1` is not public.
    assert_eq!(pairs, [("user_host", "alice@corp", "ws01")]);

    let mut failed = fixture("windows-4624-logon.ocsf.json");
    failed["status_id"] = 2.into();
    let alert = AlertView::from_event(failed, None);
    let r = ask(&e, "baseline", &alert).await;
    assert_eq!(
        r.status,
        ProviderStatus::Skipped {
            reason: "no host, user or API relation in the alert".into()
        }
    );
}
