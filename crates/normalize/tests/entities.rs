//! `entities()` on hand-written OCSF events of several classes.

mod entities_fixtures;

use entities_fixtures as fx;
use serde_json::{json, Value};
use shrike_normalize::entities::{entities, Entity, EntityKind, MAX_ENTITIES};

fn e(kind: EntityKind, key: &str, role: &str, aliases: &[&str]) -> Entity {
    Entity {
        kind,
        key: key.to_owned(),
        role: role.to_owned(),
        aliases: aliases.iter().map(|a| (*a).to_owned()).collect(),
    }
}

use EntityKind::{CloudPrincipal, Email, Host, Ip, Process, User};

#[test]
fn process_activity() {
    assert_eq!(
        entities(&fx::process_activity()),
        vec![
            e(
                User,
                "pgustavo@theshire",
                "actor.process.user",
                &["THESHIRE\\pgustavo"]
            ),
            e(
                Process,
                "workstation5:a1b2c3d4-0000-1111-2222-333344445555",
                "actor.process",
                &[]
            ),
            e(
                Host,
                "workstation5",
                "device",
                &["workstation5.theshire.local"]
            ),
            e(Ip, "10.0.1.15", "device", &[]),
            e(
                User,
                "pgustavo@theshire",
                "process.user",
                &[
                    "THESHIRE\\pgustavo",
                    "S-1-5-21-1111111111-2222222222-3333333333-1104"
                ]
            ),
            e(
                Process,
                "workstation5:a1b2c3d4-0000-1111-2222-666677778888",
                "process",
                &["workstation5:6032:1699999999000"]
            ),
            e(
                Process,
                "workstation5:a1b2c3d4-0000-1111-2222-333344445555",
                "process.parent_process",
                &[]
            ),
        ]
    );
}

#[test]
fn authentication_machine_account_is_a_host() {
    assert_eq!(
        entities(&fx::authentication()),
        vec![
            e(Host, "ws01", "actor.user", &["THESHIRE\\WS01$"]),
            e(
                User,
                "pgustavo@theshire",
                "user",
                &[
                    "pgustavo@theshire.local",
                    "S-1-5-21-1111111111-2222222222-3333333333-1104"
                ]
            ),
            e(Host, "dc01", "device", &["dc01.theshire.local"]),
            e(Host, "ws01", "src_endpoint", &[]),
            e(Ip, "10.0.1.15", "src_endpoint", &[]),
        ]
    );
}

#[test]
fn authentication_noise_gives_nothing() {
    assert_eq!(entities(&fx::authentication_noise()), vec![]);
}

#[test]
fn account_and_group_changes_name_the_target_user() {
    let sid = |rid: &str| format!("S-1-5-21-1111111111-2222222222-3333333333-{rid}");
    assert_eq!(
        entities(&fx::account_change()),
        vec![
            e(
                User,
                "administrator@theshire",
                "actor.user",
                &["THESHIRE\\Administrator", &sid("500")]
            ),
            e(
                User,
                "backdoor@theshire",
                "user",
                &["THESHIRE\\backdoor", &sid("1337")]
            ),
            e(Host, "dc01", "device", &["dc01.theshire.local"]),
        ]
    );
    assert_eq!(
        entities(&fx::group_management()),
        vec![
            e(
                User,
                "administrator@theshire",
                "actor.user",
                &["administrator@theshire.local"]
            ),
            e(User, "backdoor@theshire", "user", &["THESHIRE\\backdoor"]),
            e(Host, "dc01", "device", &[]),
        ]
    );
}

#[test]
fn network_dns_http() {
    assert_eq!(
        entities(&fx::network_activity()),
        vec![
            e(Ip, "10.0.1.15", "src_endpoint", &[]),
            e(Host, "cdn", "dst_endpoint", &["cdn.example.net"]),
            e(Ip, "2001:db8::1", "dst_endpoint", &[]),
        ]
    );
    // Queried names and answers are observables, not entities.
    assert_eq!(
        entities(&fx::dns_activity()),
        vec![
            e(Ip, "10.0.1.15", "src_endpoint", &[]),
            e(Ip, "10.0.0.2", "dst_endpoint", &[]),
        ]
    );
    assert_eq!(
        entities(&fx::http_activity()),
        vec![
            e(Ip, "10.0.1.15", "src_endpoint", &[]),
            e(Ip, "93.184.216.34", "dst_endpoint", &[]),
        ]
    );
}

#[test]
fn api_activity_assumed_role_with_email_session() {
    let arn = "arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_Admin_0123/Alice@Example.com";
    assert_eq!(
        entities(&fx::api_activity()),
        vec![
            e(
                CloudPrincipal,
                "aws:123456789012:role/awsreservedsso_admin_0123",
                "actor.user",
                &[arn, "Alice@Example.com"]
            ),
            e(User, "alice@example", "actor.user", &["Alice@Example.com"]),
            e(
                CloudPrincipal,
                "aws:123456789012:role/awsreservedsso_admin_0123",
                "actor.session",
                &["arn:aws:iam::123456789012:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_Admin_0123"]
            ),
            e(Ip, "198.51.100.7", "src_endpoint", &[]),
        ]
    );
}

#[test]
fn aws_principals_without_arn() {
    assert_eq!(
        entities(&fx::api_activity_iam_user()),
        vec![
            e(
                CloudPrincipal,
                "aws-us-gov:111111111111:user/level6",
                "actor.user",
                &[]
            ),
            e(Ip, "205.8.181.128", "src_endpoint", &[]),
        ]
    );
    assert_eq!(
        entities(&fx::console_login_root()),
        vec![
            e(CloudPrincipal, "aws:123456789012:root", "user", &[]),
            e(Ip, "203.0.113.50", "src_endpoint", &[]),
        ]
    );
}

#[test]
fn detection_finding_resources_and_evidences() {
    assert_eq!(
        entities(&fx::detection_finding()),
        vec![
            e(
                CloudPrincipal,
                "aws:123456789012:user/bob",
                "resources",
                &["arn:aws:iam::123456789012:user/path/Bob"]
            ),
            e(Host, "web01", "resources", &["web01.corp.example.com"]),
            e(Ip, "10.2.3.4", "resources", &[]),
            e(Host, "web01", "evidences.device", &[]),
            e(Process, "web01:77:1699999000000", "evidences.process", &[]),
            e(Email, "payroll@evil.example", "evidences.email.from", &[]),
            e(Email, "bob@corp.example.com", "evidences.email.to", &[]),
            e(
                Email,
                "bob@corp.example.com",
                "evidences.actor.user.email_addr",
                &[]
            ),
            e(
                User,
                "bob@corp",
                "evidences.actor.user",
                &["bob@corp.example.com"]
            ),
        ]
    );
}

#[test]
fn email_activity_addresses() {
    assert_eq!(
        entities(&fx::email_activity()),
        vec![
            e(Email, "payroll@evil.example", "email.from", &[]),
            e(Email, "bob@corp.example.com", "email.to", &[]),
            e(Email, "alice@corp.example.com", "email.to", &[]),
            e(Email, "carol@corp.example.com", "email.cc", &[]),
            e(Email, "collect@evil2.example", "email.reply_to", &[]),
            e(Email, "bounce@evil.example", "email.smtp_from", &[]),
            e(Email, "bob@corp.example.com", "email.smtp_to", &[]),
            e(Ip, "203.0.113.9", "email.x_originating_ip", &[]),
        ]
    );
}

#[test]
fn endpoint_classes() {
    assert_eq!(
        entities(&fx::file_activity()),
        vec![
            e(
                User,
                "pgustavo@theshire",
                "actor.user",
                &["THESHIRE\\pgustavo"]
            ),
            e(
                Process,
                "workstation5:a1b2c3d4-0000-1111-2222-666677778888",
                "actor.process",
                &[]
            ),
            e(Host, "workstation5", "device", &[]),
        ]
    );
    // Host from `device.name` when there is no hostname; pid + start time without a uid.
    assert_eq!(
        entities(&fx::module_activity()),
        vec![
            e(
                Process,
                "workstation5:999:1699999999500",
                "actor.process",
                &[]
            ),
            e(Host, "workstation5", "device", &[]),
        ]
    );
    // The job's user is LOCAL SERVICE: noise.
    assert_eq!(
        entities(&fx::scheduled_job_activity()),
        vec![
            e(
                User,
                "pgustavo@theshire",
                "actor.user",
                &["THESHIRE\\pgustavo"]
            ),
            e(Host, "workstation5", "device", &[]),
        ]
    );
    assert_eq!(
        entities(&fx::event_log_activity()),
        vec![
            e(
                User,
                "administrator@theshire",
                "actor.user",
                &["THESHIRE\\Administrator"]
            ),
            e(Host, "dc01", "device", &["dc01.theshire.local"]),
        ]
    );
    // Registry classes are not in the compiled table; entities do not need it.
    assert_eq!(
        entities(&fx::registry_value_activity()),
        vec![
            e(Process, "workstation5:aaaa", "actor.process", &[]),
            e(Host, "workstation5", "device", &[]),
        ]
    );
}

#[test]
fn one_identity_spelled_three_ways_joins() {
    let ev = json!({
        "actor": {"user": {"name": "THESHIRE\\pgustavo"}},
        "user": {"name": "pgustavo@theshire.local"},
        "user_result": {"name": "PGUSTAVO", "domain": "THESHIRE"},
    });
    let keys: Vec<(String, String)> = entities(&ev).into_iter().map(|x| (x.key, x.role)).collect();
    assert_eq!(
        keys,
        vec![
            ("pgustavo@theshire".to_owned(), "actor.user".to_owned()),
            ("pgustavo@theshire".to_owned(), "user".to_owned()),
            ("pgustavo@theshire".to_owned(), "user_result".to_owned()),
        ]
    );
}

#[test]
fn dedup_merges_aliases() {
    // `hostname` and `name` spell the same host: one entity, FQDN alias from `name`.
    let ev =
        json!({"device": {"hostname": "WS01", "name": "ws01.theshire.local", "ip": "10.0.0.9"}});
    assert_eq!(
        entities(&ev),
        vec![
            e(Host, "ws01", "device", &["ws01.theshire.local"]),
            e(Ip, "10.0.0.9", "device", &[]),
        ]
    );
    // An IP in `hostname` is an Ip entity; the same IP in `ip` is not listed twice.
    let ev = json!({"src_endpoint": {"hostname": "10.0.0.9", "ip": "::ffff:10.0.0.9"}});
    assert_eq!(entities(&ev), vec![e(Ip, "10.0.0.9", "src_endpoint", &[])]);
}

#[test]
fn process_needs_a_host() {
    let ev = json!({"process": {"pid": 4, "uid": "abc", "created_time": 5}});
    assert_eq!(entities(&ev), vec![]);
    let ev = json!({"device": {"hostname": "h"}, "process": {"pid": 4}});
    assert_eq!(entities(&ev), vec![e(Host, "h", "device", &[])]);
}

#[test]
fn non_objects_give_nothing() {
    for v in [
        json!(null),
        json!(1),
        json!("x"),
        json!([{"user": {"name": "a"}}]),
    ] {
        assert_eq!(entities(&v), vec![]);
    }
    // Wrong JSON types where objects are expected are ignored, not fatal.
    let ev = json!({"actor": [], "user": "bob", "device": {"hostname": 5}, "email": {"to": [1, null, "a@b.c"]}});
    assert_eq!(entities(&ev), vec![e(Email, "a@b.c", "email.to", &[])]);
}

#[test]
fn serde_shape() {
    let x = e(CloudPrincipal, "aws:1:root", "actor.user", &[]);
    let v = serde_json::to_value(&x).unwrap_or(Value::Null);
    assert_eq!(
        v,
        json!({"kind": "cloud_principal", "key": "aws:1:root", "role": "actor.user"})
    );
    let back: Entity = serde_json::from_value(v).unwrap_or_else(|_| e(User, "", "", &[]));
    assert_eq!(back, x);
}

#[test]
fn many_recipients_are_capped() {
    let to: Vec<Value> = (0..5000)
        .map(|i| json!(format!("u{i}@example.com")))
        .collect();
    let ev = json!({"email": {"to": to}, "evidences": [{"device": {"hostname": "late"}}]});
    let got = entities(&ev);
    assert_eq!(got.len(), MAX_ENTITIES);
    assert_eq!(got[0], e(Email, "u0@example.com", "email.to", &[]));
    assert!(got.iter().all(|x| x.kind == Email));
}
