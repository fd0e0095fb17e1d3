//! `Schema::validate` throughput (events/s on one core) over three events as Shrike's normalizer
//! emits them (copied from `content/mappings/*/*.expected.json`): a Sysmon process creation
//! (Process Activity 1007), a Suricata alert (Detection Finding 2004) and a CloudTrail
//! `DescribeInstances` call (API Activity 6003); plus the same Sysmon event with a few errors.
//!
//! `cargo bench -p shrike-ocsf --bench validate`
//!
//! Built alone, `shrike-ocsf` gets serde_json's `Map` as a `BTreeMap`; in the workspace a
//! dependency (evtx) turns on `preserve_order` (an `IndexMap`). To bench that map too:
//! `cargo bench -p shrike-ocsf --bench validate --features serde_json/preserve_order`

use std::hint::black_box;
use std::time::Instant;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use serde_json::Value;
use shrike_ocsf::Schema;

/// Sysmon event 1 (process creation) → Process Activity: Launch.
const SYSMON_PROCESS_CREATE: &str = r#"{
 "time": 1558016235753,
 "metadata": {
  "log_name": "Microsoft-Windows-Sysmon/Operational",
  "log_provider": "Microsoft-Windows-Sysmon",
  "event_code": "1",
  "original_event_uid": "18617",
  "labels": [
   "technique_id=T1112,technique_name=Modify Registry"
  ],
  "version": "1.8.0",
  "product": {
   "name": "Sysmon",
   "vendor_name": "Microsoft"
  },
  "profiles": [
   "host"
  ],
  "uid": "558acd1c968d17dd"
 },
 "device": {
  "hostname": "DC01.corp.example",
  "type_id": 0
 },
 "process": {
  "pid": 3788,
  "uid": "{dfae8213-70eb-5cdd-0000-0010f66d0a00}",
  "name": "reg.exe",
  "created_time": 1558016235753,
  "file": {
   "path": "C:\\Windows\\System32\\reg.exe",
   "name": "reg.exe",
   "hashes": [
    {
     "algorithm_id": 2,
     "value": "0a1b2c3d4e5f60718293a4b5c6d7e8f9a0b1c2d3"
    },
    {
     "algorithm_id": 1,
     "value": "a1b2c3d4e5f60718293a4b5c6d7e8f90"
    },
    {
     "algorithm_id": 3,
     "value": "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
    }
   ],
   "version": "6.3.9600.16384 (winblue_rtm.130821-1623)",
   "desc": "Registry Console Tool",
   "company_name": "Microsoft Corporation",
   "product": {
    "name": "Microsoft® Windows® Operating System"
   },
   "type_id": 1
  },
  "cmd_line": "reg  add hklm\\software\\microsoft\\windows\\currentversion\\policies\\system /v EnableLUA /t REG_DWORD /d 0x0 /f",
  "working_directory": "C:\\",
  "user": {
   "name": "bob",
   "domain": "CORP"
  },
  "integrity": "High",
  "session": {
   "uid": "0x585e6",
   "uid_alt": "{dfae8213-7002-5cdd-0000-0020e6850500}",
   "terminal": "2"
  }
 },
 "actor": {
  "process": {
   "pid": 2644,
   "uid": "{dfae8213-6f6a-5cdd-0000-00105b9a0900}",
   "name": "cmd.exe",
   "file": {
    "path": "C:\\Windows\\System32\\cmd.exe",
    "name": "cmd.exe",
    "type_id": 1
   },
   "cmd_line": "\"C:\\Windows\\system32\\cmd.exe\" "
  }
 },
 "launch_type_id": 1,
 "launch_type": "Spawn",
 "class_uid": 1007,
 "category_uid": 1,
 "activity_id": 1,
 "type_uid": 100701,
 "severity_id": 1,
 "unmapped": {
  "Version": 5,
  "ExecutionProcessID": 3012,
  "ExecutionThreadID": 4120,
  "ProviderGuid": "{5770385f-c22a-43e0-bf4c-06f5698ffbd9}",
  "TimeCreated": "2019-05-16T14:17:15.7627088Z",
  "UserID": "S-1-5-18",
  "Level": 4,
  "Task": 1,
  "Opcode": 0,
  "Keywords": "0x8000000000000000"
 },
 "observables": [
  {
   "name": "device.hostname",
   "type": "Hostname",
   "type_id": 1,
   "value": "DC01.corp.example"
  },
  {
   "name": "process.uid",
   "type": "Process Entity: uid",
   "type_id": 39,
   "value": "{dfae8213-70eb-5cdd-0000-0010f66d0a00}"
  },
  {
   "name": "process.name",
   "type": "Process Name",
   "type_id": 9,
   "value": "reg.exe"
  },
  {
   "name": "process.file.path",
   "type": "File Path",
   "type_id": 45,
   "value": "C:\\Windows\\System32\\reg.exe"
  },
  {
   "name": "process.file.name",
   "type": "File Name",
   "type_id": 7,
   "value": "reg.exe"
  },
  {
   "name": "process.file.hashes.value",
   "type": "Hash",
   "type_id": 8,
   "value": "0a1b2c3d4e5f60718293a4b5c6d7e8f9a0b1c2d3"
  },
  {
   "name": "process.file.hashes.value",
   "type": "Hash",
   "type_id": 8,
   "value": "a1b2c3d4e5f60718293a4b5c6d7e8f90"
  },
  {
   "name": "process.file.hashes.value",
   "type": "Hash",
   "type_id": 8,
   "value": "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
  },
  {
   "name": "process.cmd_line",
   "type": "Command Line",
   "type_id": 13,
   "value": "reg  add hklm\\software\\microsoft\\windows\\currentversion\\policies\\system /v EnableLUA /t REG_DWORD /d 0x0 /f"
  },
  {
   "name": "process.user.name",
   "type": "User Name",
   "type_id": 4,
   "value": "bob"
  },
  {
   "name": "actor.process.uid",
   "type": "Process Entity: uid",
   "type_id": 39,
   "value": "{dfae8213-6f6a-5cdd-0000-00105b9a0900}"
  },
  {
   "name": "actor.process.name",
   "type": "Process Name",
   "type_id": 9,
   "value": "cmd.exe"
  },
  {
   "name": "actor.process.file.path",
   "type": "File Path",
   "type_id": 45,
   "value": "C:\\Windows\\System32\\cmd.exe"
  },
  {
   "name": "actor.process.file.name",
   "type": "File Name",
   "type_id": 7,
   "value": "cmd.exe"
  },
  {
   "name": "actor.process.cmd_line",
   "type": "Command Line",
   "type_id": 13,
   "value": "\"C:\\Windows\\system32\\cmd.exe\" "
  }
 ]
}"#;

/// Suricata `alert` (ET MALWARE, HTTP) → Detection Finding: Create.
const SURICATA_ALERT: &str = r#"{
 "time": 1698912867511,
 "metadata": {
  "log_name": "alert",
  "correlation_uid": "1186794497075116",
  "version": "1.8.0",
  "product": {
   "name": "Suricata",
   "vendor_name": "OISF"
  },
  "profiles": [
   "security_control"
  ],
  "uid": "4f5b7985cdbf29b7"
 },
 "message": "ET MALWARE Win32/IcedID Requesting Encoded Binary M4",
 "finding_info": {
  "title": "ET MALWARE Win32/IcedID Requesting Encoded Binary M4",
  "types": [
   "Malware Command and Control Activity Detected"
  ],
  "analytic": {
   "uid": "2049065",
   "name": "ET MALWARE Win32/IcedID Requesting Encoded Binary M4",
   "category": "Malware Command and Control Activity Detected",
   "version": "1",
   "type_id": 1
  },
  "attacks": [
   {
    "technique": {
     "uid": "T1071",
     "name": "Application Layer Protocol"
    },
    "tactic": {
     "uid": "TA0011",
     "name": "Command And Control"
    }
   }
  ],
  "tags": [
   {
    "name": "affected_product",
    "value": "Windows_XP_Vista_7_8_10_Server_32_64_Bit"
   },
   {
    "name": "attack_target",
    "value": "Client_Endpoint"
   },
   {
    "name": "confidence",
    "value": "High"
   },
   {
    "name": "created_at",
    "value": "2023_11_03"
   },
   {
    "name": "deployment",
    "value": "Perimeter"
   },
   {
    "name": "malware_family",
    "value": "IcedID"
   },
   {
    "name": "mitre_tactic_id",
    "value": "TA0011"
   },
   {
    "name": "mitre_tactic_name",
    "value": "Command_And_Control"
   },
   {
    "name": "mitre_technique_id",
    "value": "T1071"
   },
   {
    "name": "mitre_technique_name",
    "value": "Application_Layer_Protocol"
   },
   {
    "name": "signature_severity",
    "value": "Major"
   },
   {
    "name": "updated_at",
    "value": "2023_11_03"
   }
  ],
  "uid": "1186794497075116:1:2049065:1"
 },
 "action_id": 1,
 "disposition_id": 1,
 "confidence_id": 3,
 "evidences": [
  {
   "src_endpoint": {
    "ip": "192.0.2.14",
    "port": 52611
   },
   "dst_endpoint": {
    "ip": "203.0.113.45",
    "port": 80
   },
   "connection_info": {
    "protocol_name": "tcp",
    "protocol_num": 6,
    "direction_id": 0
   },
   "http_request": {
    "url": {
     "hostname": "cdn.bad.example",
     "path": "/"
    },
    "http_method": "GET"
   },
   "data": {
    "pkts_toserver": 5,
    "pkts_toclient": 8,
    "bytes_toserver": 498,
    "bytes_toclient": 9120,
    "start": "2023-11-02T09:14:27.402118+0100",
    "src_ip": "192.0.2.14",
    "dest_ip": "203.0.113.45",
    "src_port": 52611,
    "dest_port": 80
   }
  }
 ],
 "is_alert": true,
 "class_uid": 2004,
 "category_uid": 2,
 "activity_id": 1,
 "type_uid": 200401,
 "severity_id": 4,
 "unmapped": {
  "direction": "to_client",
  "app_proto": "http",
  "in_iface": "eth0",
  "alert": {
   "target": {
    "ip": "192.0.2.14",
    "port": 52611
   },
   "source": {
    "ip": "203.0.113.45",
    "port": 80
   }
  },
  "src_ip": "203.0.113.45",
  "src_port": 80,
  "dest_ip": "192.0.2.14",
  "dest_port": 52611,
  "http": {
   "length": 110889,
   "status": 200,
   "http_content_type": "application/gzip",
   "protocol": "HTTP/1.1"
  },
  "pkt_src": "wire/pcap",
  "tx_id": 0
 },
 "observables": [
  {
   "name": "evidences.src_endpoint.ip",
   "type": "IP Address",
   "type_id": 2,
   "value": "192.0.2.14"
  },
  {
   "name": "evidences.dst_endpoint.ip",
   "type": "IP Address",
   "type_id": 2,
   "value": "203.0.113.45"
  },
  {
   "name": "evidences.http_request.url.hostname",
   "type": "Hostname",
   "type_id": 1,
   "value": "cdn.bad.example"
  }
 ]
}"#;

/// CloudTrail `DescribeInstances` → API Activity: Read.
const CLOUDTRAIL_API_CALL: &str = r#"{
 "time": 1709633730000,
 "metadata": {
  "log_name": "Management",
  "log_version": "1.08",
  "event_code": "AwsApiCall",
  "original_event_uid": "5b1e2d3c-2222-4f6a-8b9c-0d1e2f3a4b5c",
  "version": "1.8.0",
  "product": {
   "name": "CloudTrail",
   "vendor_name": "AWS"
  },
  "profiles": [
   "cloud"
  ],
  "uid": "3ed50152deea531d"
 },
 "cloud": {
  "provider": "AWS",
  "region": "eu-west-1",
  "account": {
   "uid": "111122223333",
   "type_id": 10
  }
 },
 "actor": {
  "user": {
   "type": "IAMUser",
   "type_id": 1,
   "uid": "arn:aws:iam::111122223333:user/alice",
   "uid_alt": "AIDAEXAMPLEALICE00001",
   "name": "alice",
   "account": {
    "uid": "111122223333",
    "type_id": 10
   },
   "credential_uid": "AKIAEXAMPLEALICE0001"
  }
 },
 "src_endpoint": {
  "ip": "203.0.113.24",
  "type_id": 0
 },
 "http_request": {
  "user_agent": "aws-cli/2.15.10 Python/3.11.6 Linux/6.5.0 exe/x86_64.ubuntu.22"
 },
 "api": {
  "operation": "DescribeInstances",
  "service": {
   "name": "ec2.amazonaws.com"
  },
  "request": {
   "uid": "0f6c7a3e-1111-4c1d-9a7e-2b3c4d5e6f70"
  }
 },
 "status_id": 1,
 "class_uid": 6003,
 "category_uid": 6,
 "activity_id": 2,
 "type_uid": 600302,
 "severity_id": 1,
 "unmapped": {
  "managementEvent": true,
  "readOnly": true,
  "tlsDetails": {
   "tlsVersion": "TLSv1.3",
   "cipherSuite": "TLS_AES_128_GCM_SHA256",
   "clientProvidedHostHeader": "ec2.eu-west-1.amazonaws.com"
  },
  "responseElements": null,
  "requestParameters": {
   "instancesSet": {},
   "filterSet": {}
  }
 },
 "observables": [
  {
   "name": "cloud.account.uid",
   "type": "Account: uid",
   "type_id": 35,
   "value": "111122223333"
  },
  {
   "name": "actor.user.uid",
   "type": "User: uid",
   "type_id": 31,
   "value": "arn:aws:iam::111122223333:user/alice"
  },
  {
   "name": "actor.user.name",
   "type": "User Name",
   "type_id": 4,
   "value": "alice"
  },
  {
   "name": "actor.user.account.uid",
   "type": "Account: uid",
   "type_id": 35,
   "value": "111122223333"
  },
  {
   "name": "actor.user.credential_uid",
   "type": "User Credential ID",
   "type_id": 19,
   "value": "AKIAEXAMPLEALICE0001"
  },
  {
   "name": "src_endpoint.ip",
   "type": "IP Address",
   "type_id": 2,
   "value": "203.0.113.24"
  },
  {
   "name": "http_request.user_agent",
   "type": "HTTP User-Agent",
   "type_id": 16,
   "value": "aws-cli/2.15.10 Python/3.11.6 Linux/6.5.0 exe/x86_64.ubuntu.22"
  }
 ]
}"#;

fn parse(s: &str) -> Value {
    serde_json::from_str(s).expect("bench event is JSON")
}

/// The Sysmon event with four errors: a wrong enum, a string pid, an unknown attribute and a
/// missing required `file.name`.
fn sysmon_with_errors() -> Value {
    let mut v = parse(SYSMON_PROCESS_CREATE);
    v["severity_id"] = Value::from(7);
    v["process"]["pid"] = Value::from("3788");
    v["process"]["score"] = Value::from(0.5);
    if let Some(f) = v["actor"]["process"]["file"].as_object_mut() {
        f.remove("name");
    }
    v
}

fn benches(c: &mut Criterion) {
    let t = Instant::now();
    let schema = Schema::embedded();
    eprintln!("Schema::embedded() took {:?}", t.elapsed());

    let events = [
        ("sysmon_process_activity", parse(SYSMON_PROCESS_CREATE)),
        ("suricata_detection_finding", parse(SURICATA_ALERT)),
        ("cloudtrail_api_activity", parse(CLOUDTRAIL_API_CALL)),
    ];
    for (name, ev) in &events {
        let errs = schema.validate(ev);
        assert!(errs.is_empty(), "{name} should be valid: {errs:?}");
    }
    let bad = sysmon_with_errors();
    assert_eq!(schema.validate(&bad).len(), 4);

    let mut g = c.benchmark_group("validate");
    g.throughput(Throughput::Elements(1));
    for (name, ev) in &events {
        g.bench_function(*name, |b| b.iter(|| schema.validate(black_box(ev))));
    }
    g.bench_function("sysmon_with_4_errors", |b| {
        b.iter(|| schema.validate(black_box(&bad)))
    });
    g.throughput(Throughput::Elements(events.len() as u64));
    g.bench_function("mix_of_3", |b| {
        b.iter(|| {
            let mut n = 0;
            for (_, ev) in &events {
                n += schema.validate(black_box(ev)).len();
            }
            n
        })
    });
    g.finish();

    let mut g = c.benchmark_group("schema");
    g.sample_size(10);
    g.bench_function("embedded", |b| b.iter(Schema::embedded));
    g.finish();
}

criterion_group!(validate, benches);
criterion_main!(validate);
