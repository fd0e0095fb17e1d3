//! Hand-written OCSF 1.8.0 events shared by the entity and observable tests. Each one is valid
//! (`Schema::validate` finds nothing; checked in `tests/observables.rs`).

#![allow(dead_code)]

use serde_json::{json, Map, Value};

/// Wraps `body` with the base attributes every class requires.
pub fn event(class_uid: u64, activity_id: u64, body: Value) -> Value {
    let mut m = Map::new();
    m.insert("class_uid".into(), json!(class_uid));
    // Extension classes: ext * 100_000 + category * 1000 + uid.
    m.insert("category_uid".into(), json!((class_uid % 100_000) / 1000));
    m.insert("activity_id".into(), json!(activity_id));
    m.insert("type_uid".into(), json!(class_uid * 100 + activity_id));
    m.insert("severity_id".into(), json!(1));
    m.insert("time".into(), json!(1_700_000_000_000_u64));
    m.insert(
        "metadata".into(),
        json!({"product": {"name": "Sysmon", "vendor_name": "Microsoft"}, "version": "1.8.0"}),
    );
    if let Value::Object(b) = body {
        for (k, v) in b {
            m.insert(k, v);
        }
    }
    Value::Object(m)
}

/// Process Activity (1007), Sysmon event 1: cmd.exe starts powershell on WORKSTATION5.
pub fn process_activity() -> Value {
    event(
        1007,
        1,
        json!({
            "actor": {"process": {
                "name": "cmd.exe",
                "pid": 4120,
                "uid": "{A1B2C3D4-0000-1111-2222-333344445555}",
                "cmd_line": "cmd.exe /c whoami",
                "user": {"name": "THESHIRE\\pgustavo"},
            }},
            "process": {
                "name": "powershell.exe",
                "pid": 6032,
                "uid": "{A1B2C3D4-0000-1111-2222-666677778888}",
                "created_time": 1_699_999_999_000_u64,
                "cmd_line": "powershell.exe -enc SQBFAFgA",
                "file": {
                    "name": "powershell.exe",
                    "path": "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe",
                    "type_id": 1,
                    "hashes": [{"algorithm_id": 3, "value": "9f914d42706fe215501044acd85a32d58aaef1419d404fddfa5d3b48f66ccd9f"}],
                },
                "user": {"name": "pgustavo", "domain": "THESHIRE", "uid": "S-1-5-21-1111111111-2222222222-3333333333-1104"},
                "parent_process": {"name": "cmd.exe", "pid": 4120, "uid": "{A1B2C3D4-0000-1111-2222-333344445555}"},
            },
            "device": {"hostname": "WORKSTATION5.theshire.local", "ip": "10.0.1.15", "type_id": 2},
        }),
    )
}

/// Authentication (3002), Windows 4624: the DC logs a network logon from WS01.
pub fn authentication() -> Value {
    event(
        3002,
        1,
        json!({
            "actor": {"user": {"name": "WS01$", "domain": "THESHIRE"}},
            "user": {"name": "pgustavo", "domain": "theshire.local", "uid": "S-1-5-21-1111111111-2222222222-3333333333-1104"},
            "src_endpoint": {"ip": "::ffff:10.0.1.15", "hostname": "WS01", "port": 49722},
            "device": {"hostname": "DC01", "domain": "theshire.local", "type_id": 3},
            "logon_process": {"name": "NtLmSsp", "pid": 712},
            "session": {"uid": "0x3e7"},
            "logon_type_id": 3,
        }),
    )
}

/// Authentication (3002) whose identities are all noise.
pub fn authentication_noise() -> Value {
    event(
        3002,
        1,
        json!({
            "actor": {"user": {"name": "SYSTEM", "domain": "NT AUTHORITY"}},
            "user": {"name": "ANONYMOUS LOGON", "domain": "NT AUTHORITY"},
            "src_endpoint": {"ip": "127.0.0.1", "hostname": "-"},
            "dst_endpoint": {"ip": "0.0.0.0"},
        }),
    )
}

/// Account Change (3001), Windows 4720: an admin creates a user.
pub fn account_change() -> Value {
    event(
        3001,
        1,
        json!({
            "actor": {"user": {"name": "Administrator", "domain": "THESHIRE", "uid": "S-1-5-21-1111111111-2222222222-3333333333-500"}},
            "user": {"name": "backdoor", "domain": "THESHIRE", "uid": "S-1-5-21-1111111111-2222222222-3333333333-1337"},
            "device": {"hostname": "DC01.theshire.local", "type_id": 3},
        }),
    )
}

/// Group Management (3006), Windows 4728: the new user joins Domain Admins.
pub fn group_management() -> Value {
    event(
        3006,
        3,
        json!({
            "actor": {"user": {"name": "administrator@theshire.local"}},
            "group": {"name": "Domain Admins", "uid": "S-1-5-21-1111111111-2222222222-3333333333-512"},
            "user": {"name": "THESHIRE\\backdoor"},
            "device": {"hostname": "DC01", "type_id": 3},
        }),
    )
}

/// Network Activity (4001), Zeek conn.
pub fn network_activity() -> Value {
    event(
        4001,
        6,
        json!({
            "src_endpoint": {"ip": "10.0.1.15", "port": 49800, "mac": "00:11:22:33:44:55"},
            "dst_endpoint": {"ip": "2001:0DB8::0001", "port": 443, "hostname": "cdn.example.net"},
        }),
    )
}

/// DNS Activity (4003), Zeek dns.
pub fn dns_activity() -> Value {
    event(
        4003,
        6,
        json!({
            "query": {"hostname": "evil.example.com"},
            "answers": [
                {"rdata": "edge.example.net.", "type": "CNAME"},
                {"rdata": "93.184.216.34", "type": "A"},
                {"rdata": "v=spf1 -all", "type": "TXT"},
            ],
            "src_endpoint": {"ip": "10.0.1.15", "port": 53000},
            "dst_endpoint": {"ip": "10.0.0.2", "port": 53},
        }),
    )
}

/// HTTP Activity (4002), Suricata http.
pub fn http_activity() -> Value {
    event(
        4002,
        3,
        json!({
            "http_request": {
                "http_method": "GET",
                "url": {"url_string": "http://evil.example.com/payload.ps1", "hostname": "evil.example.com", "path": "/payload.ps1", "port": 80},
                "user_agent": "Mozilla/5.0 (Windows NT; Windows NT 10.0; en-US) WindowsPowerShell/5.1",
            },
            "src_endpoint": {"ip": "10.0.1.15", "port": 49900},
            "dst_endpoint": {"ip": "93.184.216.34", "port": 80},
        }),
    )
}

/// API Activity (6003), CloudTrail: an SSO user on an assumed role reads S3.
pub fn api_activity() -> Value {
    event(
        6003,
        2,
        json!({
            "metadata": {"product": {"name": "CloudTrail", "vendor_name": "AWS"}, "version": "1.8.0", "profiles": ["cloud"]},
            "actor": {
                "user": {
                    "uid": "arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_Admin_0123/Alice@Example.com",
                    "type": "AssumedRole",
                    "credential_uid": "ASIAEXAMPLEKEY",
                    "account": {"uid": "123456789012"},
                },
                "session": {"issuer": "arn:aws:iam::123456789012:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_Admin_0123"},
            },
            "api": {"operation": "GetObject", "service": {"name": "s3.amazonaws.com"}},
            "src_endpoint": {"ip": "198.51.100.7"},
            "http_request": {"user_agent": "aws-cli/2.15.0"},
            "resources": [{"uid": "arn:aws:s3:::finance-reports", "type": "AWS::S3::Bucket"}],
            "cloud": {"provider": "AWS", "region": "us-east-1", "account": {"uid": "123456789012"}},
        }),
    )
}

/// API Activity (6003), CloudTrail: an IAM user without an ARN in the record (GovCloud).
pub fn api_activity_iam_user() -> Value {
    event(
        6003,
        1,
        json!({
            "metadata": {"product": {"name": "CloudTrail", "vendor_name": "AWS"}, "version": "1.8.0", "profiles": ["cloud"]},
            "actor": {"user": {"name": "Level6", "type": "IAMUser", "credential_uid": "AKIAEXAMPLE"}},
            "api": {"operation": "CreateAccessKey"},
            "src_endpoint": {"ip": "205.8.181.128"},
            "cloud": {"provider": "AWS", "account": {"uid": "111111111111"}, "cloud_partition": "aws-us-gov"},
        }),
    )
}

/// Authentication (3002), CloudTrail ConsoleLogin by the account root user (no ARN kept).
pub fn console_login_root() -> Value {
    event(
        3002,
        1,
        json!({
            "metadata": {"product": {"name": "CloudTrail", "vendor_name": "AWS"}, "version": "1.8.0", "profiles": ["cloud"]},
            "user": {"type": "Root", "account": {"uid": "123456789012"}},
            "src_endpoint": {"ip": "203.0.113.50"},
            "cloud": {"provider": "AWS", "region": "us-east-1"},
        }),
    )
}

/// Detection Finding (2004), GuardDuty-like: resources and evidences.
pub fn detection_finding() -> Value {
    event(
        2004,
        1,
        json!({
            "finding_info": {"uid": "f-123", "title": "Credential exfiltration", "src_url": "https://console.example/findings/f-123"},
            "resources": [
                {"uid": "arn:aws:iam::123456789012:user/path/Bob", "type": "AwsIamUser", "name": "Bob"},
                {"uid": "i-0abc123", "hostname": "web01.corp.example.com", "ip": "10.2.3.4", "type": "AwsEc2Instance"},
            ],
            "evidences": [
                {"process": {"pid": 77, "created_time": 1_699_999_000_000_u64, "name": "curl"}, "device": {"hostname": "web01", "type_id": 1}},
                {"email": {"from": "\"Payroll\" <Payroll@Evil.example>", "to": ["bob@corp.example.com"]}},
                {"actor": {"user": {"name": "bob@corp.example.com", "email_addr": "Bob@Corp.Example.com"}}},
            ],
        }),
    )
}

/// Email Activity (4009): a phish delivered.
pub fn email_activity() -> Value {
    event(
        4009,
        2,
        json!({
            "direction_id": 1,
            "email": {
                "from": "Payroll <payroll@evil.example>",
                "to": ["Bob@Corp.Example.com", "alice@corp.example.com"],
                "cc": ["carol@corp.example.com"],
                "reply_to": "collect@evil2.example",
                "smtp_from": "bounce@evil.example",
                "smtp_to": ["bob@corp.example.com"],
                "subject": "Your payslip",
                "message_uid": "<1234@evil.example>",
                "uid": "msg-0001",
                "x_originating_ip": ["203.0.113.9"],
                "urls": [{"url_string": "https://evil.example/login"}],
                "files": [{"name": "payslip.html", "type_id": 1, "hashes": [{"algorithm_id": 3, "value": "aa"}]}],
            },
        }),
    )
}

/// File System Activity (1001): a process writes a file.
pub fn file_activity() -> Value {
    event(
        1001,
        1,
        json!({
            "actor": {
                "process": {"name": "powershell.exe", "pid": 6032, "uid": "{A1B2C3D4-0000-1111-2222-666677778888}"},
                "user": {"name": "pgustavo", "domain": "THESHIRE"},
            },
            "device": {"hostname": "workstation5", "type_id": 2},
            "file": {"name": "evil.dll", "path": "C:\\Users\\pgustavo\\AppData\\Local\\Temp\\evil.dll", "type_id": 1},
        }),
    )
}

/// Module Activity (1005): a DLL load.
pub fn module_activity() -> Value {
    event(
        1005,
        1,
        json!({
            "actor": {"process": {"name": "rundll32.exe", "pid": 999, "created_time": 1_699_999_999_500_u64}},
            "device": {"name": "WORKSTATION5", "type_id": 2},
            "module": {"file": {"name": "evil.dll", "path": "C:\\Temp\\evil.dll", "type_id": 1}, "load_type_id": 1},
        }),
    )
}

/// Scheduled Job Activity (1006): a task created.
pub fn scheduled_job_activity() -> Value {
    event(
        1006,
        1,
        json!({
            "actor": {"user": {"name": "pgustavo", "domain": "THESHIRE"}},
            "device": {"hostname": "WORKSTATION5", "type_id": 2},
            "job": {"name": "\\Updater", "cmd_line": "C:\\Temp\\evil.exe", "user": {"name": "LOCAL SERVICE", "domain": "NT AUTHORITY"}},
        }),
    )
}

/// Event Log Activity (1008): the security log cleared.
pub fn event_log_activity() -> Value {
    event(
        1008,
        1,
        json!({
            "actor": {"user": {"name": "Administrator", "domain": "THESHIRE"}},
            "device": {"hostname": "DC01.theshire.local", "type_id": 3},
        }),
    )
}

/// Registry Value Activity (201002, Windows extension). Not in the compiled table.
pub fn registry_value_activity() -> Value {
    event(
        201002,
        1,
        json!({
            "actor": {"process": {"name": "reg.exe", "pid": 100, "uid": "{AAAA}"}},
            "device": {"hostname": "WORKSTATION5", "type_id": 2},
            "reg_value": {"path": "HKLM\\Software\\Microsoft\\Windows\\CurrentVersion\\Run\\evil", "name": "evil"},
        }),
    )
}

/// Every valid event above, with a label.
pub fn valid_events() -> Vec<(&'static str, Value)> {
    vec![
        ("process_activity", process_activity()),
        ("authentication", authentication()),
        ("authentication_noise", authentication_noise()),
        ("account_change", account_change()),
        ("group_management", group_management()),
        ("network_activity", network_activity()),
        ("dns_activity", dns_activity()),
        ("http_activity", http_activity()),
        ("api_activity", api_activity()),
        ("api_activity_iam_user", api_activity_iam_user()),
        ("console_login_root", console_login_root()),
        ("detection_finding", detection_finding()),
        ("email_activity", email_activity()),
        ("file_activity", file_activity()),
        ("module_activity", module_activity()),
        ("scheduled_job_activity", scheduled_job_activity()),
        ("event_log_activity", event_log_activity()),
    ]
}

/// The fixtures (including the registry event) with up to eight nodes replaced by
/// [`arb_json`] values, or plain [`arb_json`]: reaches the deep branches random JSON would not.
pub fn arb_event() -> impl proptest::strategy::Strategy<Value = Value> {
    use proptest::prelude::*;
    let mut events: Vec<Value> = valid_events().into_iter().map(|(_, v)| v).collect();
    events.push(registry_value_activity());
    let edits = proptest::collection::vec((any::<proptest::sample::Index>(), arb_json()), 0..8);
    prop_oneof![
        1 => arb_json(),
        4 => (proptest::sample::select(events), edits).prop_map(|(mut ev, edits)| {
            for (at, with) in edits {
                let n = count_nodes(&ev);
                if let Some(node) = nth_node(&mut ev, at.index(n)) {
                    *node = with;
                }
            }
            ev
        }),
    ]
}

fn count_nodes(v: &Value) -> usize {
    1 + match v {
        Value::Array(a) => a.iter().map(count_nodes).sum(),
        Value::Object(o) => o.values().map(count_nodes).sum(),
        _ => 0,
    }
}

/// The `n`th node in pre-order (0 is `v` itself).
fn nth_node(v: &mut Value, mut n: usize) -> Option<&mut Value> {
    if n == 0 {
        return Some(v);
    }
    n -= 1;
    let children: Vec<&mut Value> = match v {
        Value::Array(a) => a.iter_mut().collect(),
        Value::Object(o) => o.values_mut().collect(),
        _ => return None,
    };
    for c in children {
        let size = count_nodes(c);
        if n < size {
            return nth_node(c, n);
        }
        n -= size;
    }
    None
}

/// Arbitrary JSON biased towards OCSF shapes: keys from the attribute names the walks follow,
/// strings that look like identities, `class_uid`s of real classes.
pub fn arb_json() -> impl proptest::strategy::Strategy<Value = Value> {
    use proptest::prelude::*;
    const KEYS: &[&str] = &[
        "class_uid",
        "actor",
        "user",
        "user_result",
        "process",
        "parent_process",
        "logon_process",
        "device",
        "hostname",
        "name",
        "ip",
        "uid",
        "domain",
        "src_endpoint",
        "dst_endpoint",
        "email",
        "to",
        "from",
        "cc",
        "smtp_to",
        "reply_to",
        "resources",
        "evidences",
        "answers",
        "rdata",
        "session",
        "issuer",
        "pid",
        "created_time",
        "cmd_line",
        "file",
        "hashes",
        "value",
        "query",
        "cloud",
        "account",
        "type",
        "email_addr",
        "x_originating_ip",
        "job",
        "unmapped",
        "url",
        "url_string",
        "groups",
        "cloud_partition",
        "path",
        "user_agent",
        "http_request",
    ];
    const STRINGS: &[&str] = &[
        "THESHIRE\\pgustavo",
        "pgustavo@theshire.local",
        "WS01$",
        "SYSTEM",
        "NT AUTHORITY\\x",
        "-",
        "",
        "10.0.0.1",
        "::ffff:1.2.3.4",
        "::",
        "0.0.0.0",
        "fe80::1%eth0",
        "[::1]",
        "arn:aws:sts::123456789012:assumed-role/R/a@b.co",
        "arn:aws:iam::123456789012:root",
        "arn:aws-cn:iam::1:user/p/q",
        "arn:",
        "arn:aws:iam::",
        "WORKSTATION5.theshire.local.",
        "a..b",
        ".",
        "\\",
        "@",
        "a@",
        "@b",
        "x\\y\\z",
        "\"N\" <A@B.C>",
        "mailto:",
        "İ",
        "ß",
        "{GUID}",
        "S-1-5-21-1-2-3-4",
        "edge.example.net.",
        "Ω@Σ.ΣΣ",
    ];
    let key = prop_oneof![
        4 => proptest::sample::select(KEYS).prop_map(str::to_owned),
        1 => ".{0,6}",
    ];
    let string = prop_oneof![
        3 => proptest::sample::select(STRINGS).prop_map(str::to_owned),
        2 => ".{0,24}",
    ];
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        proptest::sample::select(vec![0_u64, 1007, 3002, 4003, 2004, 6003, 4009, 201001])
            .prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        string.prop_map(Value::String),
    ];
    leaf.prop_recursive(6, 96, 8, move |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::vec((key.clone(), inner), 0..8)
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}
