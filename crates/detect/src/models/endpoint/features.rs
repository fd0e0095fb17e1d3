//! `EndpointFeatures`: the stateful feature extractor over OCSF endpoint events.
//!
//! One call per event, in time order: [`EndpointFeatures::extract`] computes the event's features
//! against the history *before* it, then records the event in that history. History is kept per
//! host (keyed by a hash of `device.hostname`, never used as a feature): how often each image ran,
//! each parent → child image pair was seen, each source → target process-access pair was seen,
//! which images already made network connections, and a process table (image flags, command-line
//! features, ancestry depth, children) keyed by `process.uid` (Sysmon) or pid (Security log).
//! Every map is capped; the least recently used entries are evicted first.
//!
//! What it must not do: use identity strings or lab artifacts as features (host, user or domain
//! names, Sysmon GUIDs, years, agent or pipeline fields). Names are only hashed into state keys;
//! the only user-derived feature is whether the account is one of Windows' built-in service
//! accounts (SYSTEM, LOCAL SERVICE, NETWORK SERVICE).

use std::collections::HashMap;
use std::sync::OnceLock;

use serde_json::Value;
use shrike_score::FeatureSchema;

/// Schema version: bump whenever a feature is added, removed, reordered or changes meaning.
pub const ENDPOINT_SCHEMA_VERSION: u32 = 1;

/// Living-off-the-land binaries (lower-case file names) counted by `img_lolbin` / `par_lolbin`:
/// signed Windows binaries that proxy execution, download or dump (LOLBAS project list, the ones
/// seen in intrusions; cf. <https://lolbas-project.github.io/>).
pub const LOLBINS: &[&str] = &[
    "rundll32.exe",
    "regsvr32.exe",
    "mshta.exe",
    "certutil.exe",
    "bitsadmin.exe",
    "wmic.exe",
    "installutil.exe",
    "msbuild.exe",
    "cmstp.exe",
    "esentutl.exe",
    "regasm.exe",
    "regsvcs.exe",
    "msiexec.exe",
    "odbcconf.exe",
    "mavinject.exe",
    "forfiles.exe",
    "pcalua.exe",
    "wuauclt.exe",
    "ntdsutil.exe",
    "vssadmin.exe",
    "wevtutil.exe",
    "auditpol.exe",
    "reg.exe",
    "sc.exe",
    "schtasks.exe",
    "at.exe",
    "netsh.exe",
    "bcdedit.exe",
    "diskshadow.exe",
    "msdt.exe",
    "control.exe",
    "csc.exe",
    "fodhelper.exe",
    "eventvwr.exe",
    "dllhost.exe",
    "hh.exe",
    "infdefaultinstall.exe",
    "presentationhost.exe",
    "xwizard.exe",
    "verclsid.exe",
];

/// Script engines (lower-case file names) counted by `img_script_engine` / `par_script_engine`.
pub const SCRIPT_ENGINES: &[&str] = &[
    "powershell.exe",
    "pwsh.exe",
    "powershell_ise.exe",
    "wscript.exe",
    "cscript.exe",
    "mshta.exe",
    "python.exe",
    "pythonw.exe",
    "wsmprovhost.exe",
];

/// Discovery tools (lower-case file names) counted by `img_recon_tool`.
pub const RECON_TOOLS: &[&str] = &[
    "whoami.exe",
    "net.exe",
    "net1.exe",
    "nltest.exe",
    "ipconfig.exe",
    "systeminfo.exe",
    "tasklist.exe",
    "quser.exe",
    "qwinsta.exe",
    "netstat.exe",
    "arp.exe",
    "route.exe",
    "dsquery.exe",
    "klist.exe",
    "hostname.exe",
    "nslookup.exe",
];

const SHELLS: &[&str] = &["cmd.exe", "command.com"];
const OFFICE: &[&str] = &[
    "winword.exe",
    "excel.exe",
    "powerpnt.exe",
    "outlook.exe",
    "msaccess.exe",
    "mspub.exe",
    "onenote.exe",
];

/// The feature definitions, in vector order: (name, group, description).
const DEFS: &[(&str, &str, &str)] = &[
    // event kind
    ("ev_launch", "event", "Process launch (OCSF 1007 activity 1: Sysmon 1, Security 4688)"),
    ("ev_terminate", "event", "Process termination (1007 activity 2)"),
    ("ev_access", "event", "Process access / open (1007 activity 3: Sysmon 10, Security 4656/4663 on a process)"),
    ("ev_inject", "event", "Remote thread creation (Sysmon 8)"),
    ("ev_file", "event", "File activity (1001)"),
    ("ev_module", "event", "Module load (1005)"),
    ("ev_registry", "event", "Registry key or value activity (201001/201002)"),
    ("ev_network", "event", "Network connection from a host sensor (4001)"),
    ("ev_script", "event", "Script activity (1009: PowerShell 4103/4104/800)"),
    ("ev_auth", "event", "Authentication or session (3002/3003)"),
    ("ev_other", "event", "Any other endpoint class"),
    ("src_sysmon", "event", "The event comes from Sysmon (vs. the Windows event logs)"),
    ("event_code", "event", "The Windows event id (metadata.event_code), NaN when absent"),
    ("sec_sensitive_code", "event", "Windows event id in the high-value audit list (service install 4697/7045, scheduled task 4698/4699/4702, account created/changed 4720/4722/4724/4738, group add 4728/4732/4756, audit policy 4719, log cleared 1102/104, registry value changed 4657)"),
    // subject process
    ("img_known", "process", "The subject process image is known (launched process, or the actor otherwise)"),
    ("img_lolbin", "process", "Subject image is a living-off-the-land binary (documented list)"),
    ("img_script_engine", "process", "Subject image is a script engine (PowerShell, WSH, mshta, Python, WinRM host)"),
    ("img_shell", "process", "Subject image is cmd.exe"),
    ("img_recon_tool", "process", "Subject image is a discovery tool (whoami, net, nltest, ...)"),
    ("img_user_writable_dir", "process", "Subject image runs from a user-writable directory (Users, ProgramData, Temp, Downloads, Desktop, AppData, Public)"),
    ("img_system_dir", "process", "Subject image is under Windows\\System32 / SysWOW64 / WinSxS"),
    ("img_host_count", "rarity", "ln(1 + events earlier on this host with the same subject image)"),
    ("img_first_seen", "rarity", "First event with this subject image on this host"),
    ("proc_depth", "lineage", "Known ancestry depth of the subject process (launches seen on this host, capped at 8)"),
    ("proc_children", "lineage", "ln(1 + children the subject process launched so far)"),
    ("anc_suspicious", "lineage", "A known ancestor (up to 4 levels) is a script engine, LOLBin or shell"),
    ("anc_user_writable", "lineage", "A known ancestor (up to 4 levels) runs from a user-writable directory"),
    ("integrity", "privilege", "Integrity level of the subject process (at its launch): 1 low, 2 medium, 3 high, 4 system (NaN unknown)"),
    ("user_builtin_service", "privilege", "The process runs as SYSTEM, LOCAL SERVICE or NETWORK SERVICE (NaN unknown)"),
    // parent (launches)
    ("par_lolbin", "parent", "Parent image (of the launched process, or at launch of the actor process) is a LOLBin"),
    ("par_script_engine", "parent", "Parent image (launch context) is a script engine"),
    ("par_shell", "parent", "Parent image (launch context) is cmd.exe"),
    ("par_office", "parent", "Parent image (launch context) is an Office application"),
    ("par_user_writable_dir", "parent", "Parent image (launch context) runs from a user-writable directory"),
    ("par_wmiprvse", "parent", "Parent (launch context) is the WMI provider host (remote WMI execution)"),
    ("par_services", "parent", "Parent (launch context) is services.exe (service start)"),
    ("pair_host_count", "rarity", "ln(1 + times the parent -> child image pair of this launch (or of the actor process's launch) was seen earlier on this host)"),
    ("pair_first_seen", "rarity", "The launch (or the actor process's launch) was the first of its parent -> child image pair on this host"),
    // command line
    ("cmd_known", "cmdline", "The subject process's command line is known"),
    ("cmd_len", "cmdline", "ln(1 + command-line length)"),
    ("cmd_entropy", "cmdline", "Shannon entropy of the command line (bits per byte)"),
    ("cmd_caret", "cmdline", "ln(1 + caret (^) count): cmd.exe escaping used for obfuscation"),
    ("cmd_backtick", "cmdline", "ln(1 + backtick count): PowerShell escaping used for obfuscation"),
    ("cmd_b64_longest", "cmdline", "ln(1 + length of the longest base64-looking token (>= 20 chars))"),
    ("cmd_enc_flag", "cmdline", "PowerShell -enc / -EncodedCommand / -e flag"),
    ("cmd_mixed_case", "cmdline", "Share of letters that flip case inside a word (pOwErShElL)"),
    ("cmd_hidden_window", "cmdline", "Hidden window flag (-w hidden, -w 1, -WindowStyle Hidden)"),
    ("cmd_download", "cmdline", "URL or download verb (http://, DownloadString, Invoke-WebRequest, urlcache, /transfer)"),
    ("cmd_bypass", "cmdline", "-NoProfile / -ExecutionPolicy Bypass / -NonInteractive / -sta style launcher flags"),
    ("cmd_ip_literal", "cmdline", "An IPv4 literal in the command line"),
    ("cmd_sensitive_target", "cmdline", "Credential store or dump terms (lsass, sam, security hive, ntds, minidump, sekurlsa, comsvcs, secrets, shadow copy)"),
    ("cmd_recon", "cmdline", "Discovery terms (whoami, net user/group/localgroup, nltest, systeminfo, /domain)"),
    ("cmd_persistence", "cmdline", "Persistence terms (schtasks /create, \\Run, sc create/config, binPath, Startup, UserInitMprLogonScript, wmi subscription)"),
    ("cmd_evasion", "cmdline", "Defense-evasion terms (auditpol, wevtutil, cl / set-log, Set-MpPreference, bcdedit, MiniNt, IncludeCmdLine, disable)"),
    ("cmd_quotes", "cmdline", "ln(1 + quote count)"),
    // process access
    ("acc_target_lsass", "access", "Process access: the target is lsass.exe"),
    ("acc_vm_read", "access", "Access mask includes PROCESS_VM_READ (0x10)"),
    ("acc_vm_write", "access", "Access mask includes PROCESS_VM_WRITE (0x20)"),
    ("acc_create_thread", "access", "Access mask includes PROCESS_CREATE_THREAD (0x2)"),
    ("acc_dup_handle", "access", "Access mask includes PROCESS_DUP_HANDLE (0x40)"),
    ("acc_full", "access", "Access mask is PROCESS_ALL_ACCESS (0x1fffff or 0x1f0fff)"),
    ("acc_mask_bits", "access", "Number of bits set in the access mask"),
    ("acc_calltrace_unknown", "access", "Sysmon 10 call trace has an UNKNOWN frame (code outside any module: injected or reflective)"),
    ("acc_pair_host_count", "rarity", "ln(1 + times this source -> target image access pair was seen earlier on this host)"),
    ("acc_pair_first_seen", "rarity", "First time this source -> target image access pair is seen on this host"),
    ("acc_target_system_dir", "access", "The target image is under Windows\\System32"),
    // registry
    ("reg_run_key", "registry", "Autostart registry location (Run/RunOnce, Winlogon Userinit/Shell, UserInitMprLogonScript, Environment, Image File Execution Options)"),
    ("reg_services", "registry", "Service configuration key (\\Services\\)"),
    ("reg_security_config", "registry", "Security configuration (WDigest, LSA, audit / event-log policy, MiniNt, Policies\\System, Defender)"),
    ("reg_write", "registry", "Registry write (value set, key create, rename, delete)"),
    ("reg_value_exec", "registry", "Value data names an executable or script (.exe, .dll, .bat, .ps1, powershell, cmd, rundll32)"),
    // file
    ("file_startup", "file", "File in a Startup folder"),
    ("file_tasks", "file", "File under Windows\\System32\\Tasks (scheduled task definition)"),
    ("file_exec_ext", "file", "Executable or script file (.exe .dll .ps1 .bat .cmd .vbs .js .hta .sct .xll .inf)"),
    ("file_dump", "file", "Memory dump or hive copy (.dmp, SAM, SECURITY, SYSTEM, ntds.dit)"),
    ("file_user_writable", "file", "File in a user-writable directory"),
    // module
    ("mod_unsigned", "module", "Loaded module is not validly signed"),
    ("mod_user_writable", "module", "Loaded module comes from a user-writable directory"),
    ("mod_cred_dll", "module", "Credential-related module (dbghelp, dbgcore, comsvcs, samlib, vaultcli, wdigest, kerberos, cryptdll)"),
    ("mod_dotnet", "module", "CLR / PowerShell engine module (clr.dll, clrjit, mscoree, System.Management.Automation)"),
    // network
    ("net_image_first", "network", "First network event from this image on this host"),
    ("net_port_web", "network", "Remote port 80/443/8080/8443"),
    ("net_port_smb_rpc", "network", "Remote port 135/139/445"),
    ("net_port_winrm", "network", "Remote port 5985/5986"),
    ("net_port_directory", "network", "Remote port 88/389/636/3268 (Kerberos, LDAP)"),
    ("net_port_other", "network", "Any other remote port"),
    ("net_outbound", "network", "Outbound direction"),
];

/// The endpoint feature schema (built once).
pub fn endpoint_schema() -> &'static FeatureSchema {
    static SCHEMA: OnceLock<FeatureSchema> = OnceLock::new();
    SCHEMA.get_or_init(|| FeatureSchema::from_defs("endpoint", ENDPOINT_SCHEMA_VERSION, DEFS))
}

/// Number of features.
pub const N_FEATURES: usize = DEFS.len();

// Feature indices (kept in sync with DEFS by the `indices_match_defs` test).
#[allow(dead_code)] // some indices are only read by the layout test
mod ix {
    pub const EV_LAUNCH: usize = 0;
    pub const EV_TERMINATE: usize = 1;
    pub const EV_ACCESS: usize = 2;
    pub const EV_INJECT: usize = 3;
    pub const EV_FILE: usize = 4;
    pub const EV_MODULE: usize = 5;
    pub const EV_REGISTRY: usize = 6;
    pub const EV_NETWORK: usize = 7;
    pub const EV_SCRIPT: usize = 8;
    pub const EV_AUTH: usize = 9;
    pub const EV_OTHER: usize = 10;
    pub const SRC_SYSMON: usize = 11;
    pub const EVENT_CODE: usize = 12;
    pub const SEC_SENSITIVE: usize = 13;
    pub const IMG_KNOWN: usize = 14;
    pub const IMG_FLAGS: usize = 15; // 15..=20: lolbin, script, shell, recon, user dir, system dir
    pub const IMG_HOST_COUNT: usize = 21;
    pub const IMG_FIRST: usize = 22;
    pub const PROC_DEPTH: usize = 23;
    pub const PROC_CHILDREN: usize = 24;
    pub const ANC_SUSP: usize = 25;
    pub const ANC_USER: usize = 26;
    pub const INTEGRITY: usize = 27;
    pub const USER_SERVICE: usize = 28;
    pub const PAR_FLAGS: usize = 29; // 29..=35
    pub const PAIR_COUNT: usize = 36;
    pub const PAIR_FIRST: usize = 37;
    pub const CMD: usize = 38; // 38..=54 (CMD_LEN features)
    pub const ACC: usize = 55; // 55..=65
    pub const REG: usize = 66; // 66..=70
    pub const FILE: usize = 71; // 71..=75
    pub const MODULE: usize = 76; // 76..=79
    pub const NET: usize = 80; // 80..=86
}

/// Command-line features kept per process (same order as the `cmd_*` schema entries).
const CMD_LEN: usize = 17;

// Image flag bits.
const F_LOLBIN: u16 = 1;
const F_SCRIPT: u16 = 2;
const F_SHELL: u16 = 4;
const F_RECON: u16 = 8;
const F_USERDIR: u16 = 16;
const F_SYSDIR: u16 = 32;
const F_OFFICE: u16 = 64;
const F_WMIPRVSE: u16 = 128;
const F_SERVICES: u16 = 256;
const F_LSASS: u16 = 512;

/// Caps on the history (entries per map).
#[derive(Debug, Clone, Copy)]
pub struct Caps {
    /// Hosts tracked.
    pub hosts: usize,
    /// Image, pair and access-pair counters per host (each).
    pub counters: usize,
    /// Processes per host.
    pub processes: usize,
}

impl Default for Caps {
    fn default() -> Self {
        Caps {
            hosts: 4096,
            counters: 8192,
            processes: 8192,
        }
    }
}

#[derive(Debug, Clone)]
struct ProcInfo {
    image: u64,
    flags: u16,
    /// Flags of the parent image as seen at launch (the parent may predate the stream).
    pflags: u16,
    /// Parent image known at launch (`pflags` and `pair_before` are meaningful).
    has_parent: bool,
    /// Times the parent -> child image pair had been seen before this launch.
    pair_before: u32,
    /// Integrity level code at launch (NaN unknown).
    integrity: f32,
    parent: u64,
    depth: u8,
    children: u16,
    cmd: [f32; CMD_LEN],
    last: u64,
}

#[derive(Debug, Default)]
struct HostState {
    images: HashMap<u64, (u32, u64)>,
    pairs: HashMap<u64, (u32, u64)>,
    access: HashMap<u64, (u32, u64)>,
    net: HashMap<u64, (u32, u64)>,
    procs: HashMap<u64, ProcInfo>,
    last: u64,
}

/// The stateful endpoint feature extractor. One per stream (per capture in training, per
/// pipeline in serving); not shared between threads.
#[derive(Debug, Default)]
pub struct EndpointFeatures {
    hosts: HashMap<u64, HostState>,
    caps: Caps,
    tick: u64,
    lower: String,
    lower2: String,
}

/// Bytes per map entry used by [`EndpointFeatures::state_bytes`] (key, value, hash-table slack).
const COUNTER_ENTRY_BYTES: usize = 8 + 16 + 16;
const PROC_ENTRY_BYTES: usize = 8 + std::mem::size_of::<ProcInfo>() + 16;

/// FNV-1a over ASCII-lower-cased bytes, seeded so different key kinds do not collide.
fn hash_lower(seed: u64, s: &str) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325u64 ^ seed.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    for b in s.bytes() {
        h ^= u64::from(b.to_ascii_lowercase());
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

fn mix(a: u64, b: u64) -> u64 {
    (a ^ b.rotate_left(29)).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (a >> 17)
}

/// File name of a Windows or POSIX path.
fn base_name(path: &str) -> &str {
    path.rsplit(['\\', '/']).next().unwrap_or(path)
}

fn str_at<'a>(v: &'a Value, keys: &[&str]) -> Option<&'a str> {
    let mut cur = v;
    for k in keys {
        cur = cur.get(k)?;
    }
    cur.as_str()
}

fn val_at<'a>(v: &'a Value, keys: &[&str]) -> Option<&'a Value> {
    let mut cur = v;
    for k in keys {
        cur = cur.get(k)?;
    }
    Some(cur)
}

/// The image path (or name) of an OCSF process object.
pub(crate) fn image_of(p: &Value) -> Option<&str> {
    str_at(p, &["file", "path"])
        .or_else(|| str_at(p, &["name"]))
        .filter(|s| !s.is_empty())
}

fn in_list(name_lower: &str, list: &[&str]) -> bool {
    list.contains(&name_lower)
}

/// Flags of an image path; `buf` is scratch.
fn image_flags(path: &str, buf: &mut String) -> u16 {
    buf.clear();
    buf.extend(path.chars().map(|c| c.to_ascii_lowercase()));
    let p = buf.as_str();
    let name = base_name(p);
    let mut f = 0u16;
    if in_list(name, LOLBINS) {
        f |= F_LOLBIN;
    }
    if in_list(name, SCRIPT_ENGINES) {
        f |= F_SCRIPT;
    }
    if in_list(name, SHELLS) {
        f |= F_SHELL;
    }
    if in_list(name, RECON_TOOLS) {
        f |= F_RECON;
    }
    if in_list(name, OFFICE) {
        f |= F_OFFICE;
    }
    if name == "wmiprvse.exe" {
        f |= F_WMIPRVSE;
    }
    if name == "services.exe" {
        f |= F_SERVICES;
    }
    if name == "lsass.exe" {
        f |= F_LSASS;
    }
    if is_user_writable(p) {
        f |= F_USERDIR;
    }
    if p.contains("\\windows\\system32\\")
        || p.contains("\\windows\\syswow64\\")
        || p.contains("\\windows\\winsxs\\")
    {
        f |= F_SYSDIR;
    }
    f
}

fn is_user_writable(p_lower: &str) -> bool {
    [
        "\\users\\",
        "\\programdata\\",
        "\\temp\\",
        "\\tmp\\",
        "\\downloads\\",
        "\\desktop\\",
        "\\appdata\\",
        "\\public\\",
        "\\perflogs\\",
    ]
    .iter()
    .any(|d| p_lower.contains(d))
}

fn ln1p(x: f64) -> f32 {
    x.ln_1p() as f32
}

fn b(x: bool) -> f32 {
    if x {
        1.0
    } else {
        0.0
    }
}

/// Shannon entropy in bits per byte.
pub fn shannon_entropy(s: &str) -> f32 {
    let mut counts = [0u32; 256];
    let bytes = s.as_bytes();
    if bytes.is_empty() {
        return 0.0;
    }
    for &c in bytes {
        counts[c as usize] += 1;
    }
    let n = bytes.len() as f64;
    let mut h = 0.0f64;
    for &c in counts.iter().filter(|&&c| c > 0) {
        let p = f64::from(c) / n;
        h -= p * p.log2();
    }
    h as f32
}

/// Command-line features, in `cmd_*` order. `lower` is scratch.
fn cmd_features(cmd: &str, lower: &mut String) -> [f32; CMD_LEN] {
    // Bound work on hostile input: the first 32 KiB is plenty for every feature.
    let cmd = match cmd.char_indices().nth(32 * 1024) {
        Some((i, _)) => cmd.get(..i).unwrap_or(cmd),
        None => cmd,
    };
    lower.clear();
    lower.extend(cmd.chars().map(|c| c.to_ascii_lowercase()));
    let l = lower.as_str();
    let mut out = [0.0f32; CMD_LEN];
    out[0] = 1.0;
    out[1] = ln1p(cmd.len() as f64);
    out[2] = shannon_entropy(cmd);
    out[3] = ln1p(cmd.bytes().filter(|&c| c == b'^').count() as f64);
    out[4] = ln1p(cmd.bytes().filter(|&c| c == b'`').count() as f64);
    // Longest base64-looking token.
    let mut longest = 0usize;
    let mut run = 0usize;
    let mut has_digit_or_upper = false;
    let mut best_mixed = false;
    for c in cmd.bytes() {
        if c.is_ascii_alphanumeric() || c == b'+' || c == b'/' || c == b'=' {
            run += 1;
            has_digit_or_upper |= c.is_ascii_digit() || c.is_ascii_uppercase();
            if run > longest {
                longest = run;
                best_mixed = has_digit_or_upper;
            }
        } else {
            run = 0;
            has_digit_or_upper = false;
        }
    }
    out[5] = if longest >= 20 && best_mixed {
        ln1p(longest as f64)
    } else {
        0.0
    };
    out[6] = b(l.split_whitespace().any(|t| {
        matches!(
            t,
            "-enc" | "-e" | "-en" | "-ec" | "/enc" | "-encodedcommand" | "-encoded" | "-encod"
        )
    }));
    // Case flips inside words.
    let (mut flips, mut letters) = (0u32, 0u32);
    let mut prev: Option<bool> = None;
    for c in cmd.chars() {
        if c.is_ascii_alphabetic() {
            letters += 1;
            let up = c.is_ascii_uppercase();
            if prev == Some(false) && up {
                flips += 1;
            }
            prev = Some(up);
        } else {
            prev = None;
        }
    }
    out[7] = if letters > 0 {
        flips as f32 / letters as f32
    } else {
        0.0
    };
    out[8] = b(l.contains("-w hidden")
        || l.contains("-w 1")
        || l.contains("-windowstyle hidden")
        || l.contains("-win hidden")
        || l.contains("-window hidden"));
    out[9] = b(l.contains("http://")
        || l.contains("https://")
        || l.contains("downloadstring")
        || l.contains("downloadfile")
        || l.contains("invoke-webrequest")
        || l.contains("iwr ")
        || l.contains("urlcache")
        || l.contains("/transfer")
        || l.contains("net.webclient"));
    out[10] = b(l.contains("-nop")
        || l.contains("bypass")
        || l.contains("-noni")
        || l.contains("-sta ")
        || l.contains("-noprofile"));
    out[11] = b(has_ipv4(l));
    out[12] = b([
        "lsass",
        "\\sam",
        " sam",
        "security\\policy",
        "hklm\\security",
        "ntds",
        "minidump",
        "sekurlsa",
        "comsvcs",
        "secrets",
        "shadowcopy",
        "/vss",
        "mimikatz",
        "logonpasswords",
    ]
    .iter()
    .any(|t| l.contains(t)));
    out[13] = b([
        "whoami",
        "net user",
        "net group",
        "net localgroup",
        "net1 ",
        "nltest",
        "systeminfo",
        "/domain",
        "get-domain",
        "get-netuser",
        "-group=",
    ]
    .iter()
    .any(|t| l.contains(t)));
    out[14] = b([
        "schtasks /create",
        "schtasks.exe\" /create",
        "/create ",
        "\\currentversion\\run",
        "sc  config",
        "sc config",
        "sc create",
        "binpath",
        "\\startup",
        "userinitmprlogonscript",
        "__eventfilter",
        "commandlineeventconsumer",
        "activescripteventconsumer",
        "new-service",
    ]
    .iter()
    .any(|t| l.contains(t)));
    out[15] = b([
        "auditpol",
        "wevtutil",
        "set-log",
        "clear-log",
        "set-mppreference",
        "bcdedit",
        "minint",
        "includecmdline",
        "disable",
        "uselogoncredential",
        "eventlog",
    ]
    .iter()
    .any(|t| l.contains(t)));
    out[16] = ln1p(cmd.bytes().filter(|&c| c == b'"' || c == b'\'').count() as f64);
    out
}

fn has_ipv4(l: &str) -> bool {
    let bytes = l.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i].is_ascii_digit() && (i == 0 || !bytes[i - 1].is_ascii_alphanumeric()) {
            let mut dots = 0;
            let mut j = i;
            let mut digits = 0;
            let mut ok = true;
            while j < bytes.len() && (bytes[j].is_ascii_digit() || bytes[j] == b'.') {
                if bytes[j] == b'.' {
                    if digits == 0 || digits > 3 {
                        ok = false;
                        break;
                    }
                    dots += 1;
                    digits = 0;
                } else {
                    digits += 1;
                }
                j += 1;
            }
            if ok && dots == 3 && (1..=3).contains(&digits) {
                return true;
            }
            i = j.max(i + 1);
        } else {
            i += 1;
        }
    }
    false
}

/// Process key of an OCSF process object on a host: `uid` when present, else the pid.
fn proc_key(host: u64, p: &Value) -> Option<u64> {
    if let Some(uid) = str_at(p, &["uid"]).filter(|s| !s.is_empty()) {
        return Some(mix(host, hash_lower(1, uid)));
    }
    p.get("pid")
        .and_then(Value::as_u64)
        .map(|pid| mix(host, pid ^ 0x5a5a_0000_0000_0000))
}

fn integrity_of(s: &str) -> f32 {
    let l = s.as_bytes();
    let starts = |w: &str| l.len() >= w.len() && l[..w.len()].eq_ignore_ascii_case(w.as_bytes());
    if starts("low") || starts("untrusted") {
        1.0
    } else if starts("medium") {
        2.0
    } else if starts("high") {
        3.0
    } else if starts("system") || starts("protected") {
        4.0
    } else {
        f32::NAN
    }
}

fn builtin_service_user(u: &Value) -> Option<bool> {
    let uid = str_at(u, &["uid"]);
    if let Some(uid) = uid {
        if matches!(uid, "S-1-5-18" | "S-1-5-19" | "S-1-5-20") {
            return Some(true);
        }
    }
    let name = str_at(u, &["name"])?;
    Some(
        name.eq_ignore_ascii_case("system")
            || name.eq_ignore_ascii_case("local service")
            || name.eq_ignore_ascii_case("network service")
            || name.ends_with('$'),
    )
}

const SENSITIVE_CODES: &[&str] = &[
    "4697", "7045", "4698", "4699", "4702", "4720", "4722", "4724", "4738", "4728", "4732", "4756",
    "4719", "1102", "104", "4657",
];

/// Touch-or-insert a counter; returns the count before this event.
fn bump(map: &mut HashMap<u64, (u32, u64)>, key: u64, tick: u64, cap: usize) -> u32 {
    let e = map.entry(key).or_insert((0, tick));
    let before = e.0;
    e.0 = e.0.saturating_add(1);
    e.1 = tick;
    if map.len() > cap {
        evict(map, cap, |v| v.1);
    }
    before
}

/// Evicts the least recently used quarter (at least down to `cap`).
fn evict<V>(map: &mut HashMap<u64, V>, cap: usize, last: impl Fn(&V) -> u64) {
    let target = cap - cap / 4;
    if map.len() <= target {
        return;
    }
    let mut ticks: Vec<u64> = map.values().map(&last).collect();
    let k = map.len() - target;
    ticks.select_nth_unstable(k - 1);
    let cutoff = ticks[k - 1];
    map.retain(|_, v| last(v) > cutoff);
}

impl EndpointFeatures {
    /// An extractor with the default caps.
    pub fn new() -> Self {
        Self::with_caps(Caps::default())
    }

    /// An extractor with the given caps (each at least 16).
    pub fn with_caps(caps: Caps) -> Self {
        EndpointFeatures {
            hosts: HashMap::new(),
            caps: Caps {
                hosts: caps.hosts.max(16),
                counters: caps.counters.max(16),
                processes: caps.processes.max(16),
            },
            tick: 0,
            lower: String::new(),
            lower2: String::new(),
        }
    }

    /// Approximate bytes of history held.
    pub fn state_bytes(&self) -> usize {
        self.hosts
            .values()
            .map(|h| {
                (h.images.len() + h.pairs.len() + h.access.len() + h.net.len())
                    * COUNTER_ENTRY_BYTES
                    + h.procs.len() * PROC_ENTRY_BYTES
                    + std::mem::size_of::<HostState>()
                    + 8
            })
            .sum::<usize>()
            + self.lower.capacity()
            + self.lower2.capacity()
    }

    /// Whether the extractor covers this event: an OCSF object with an endpoint class (1xxx,
    /// 2010xx, 3002/3003 and 4001 from a Windows host sensor).
    pub fn covers(event: &Value) -> bool {
        let Some(class) = event.get("class_uid").and_then(Value::as_u64) else {
            return false;
        };
        match class {
            1000..=1999 | 201_000..=201_999 => true,
            3002 | 3003 | 4001 => {
                let p = str_at(event, &["metadata", "product", "name"]).unwrap_or("");
                p.eq_ignore_ascii_case("sysmon")
                    || p.eq_ignore_ascii_case("windows")
                    || p.eq_ignore_ascii_case("powershell")
            }
            _ => false,
        }
    }

    /// Computes the event's features (against the history before it) into `out` (resized to the
    /// schema length), then records the event. Returns `false` (and leaves state and `out`'s
    /// content unspecified) when the event is not covered.
    pub fn extract(&mut self, event: &Value, out: &mut Vec<f32>) -> bool {
        if !Self::covers(event) {
            return false;
        }
        out.clear();
        out.resize(N_FEATURES, f32::NAN);
        self.tick += 1;
        let tick = self.tick;
        let class = event.get("class_uid").and_then(Value::as_u64).unwrap_or(0);
        let activity = event
            .get("activity_id")
            .and_then(Value::as_u64)
            .unwrap_or(0);
        let code = str_at(event, &["metadata", "event_code"]).unwrap_or("");
        let product = str_at(event, &["metadata", "product", "name"]).unwrap_or("");

        // Event kind.
        let is_launch = class == 1007 && activity == 1;
        let is_access = class == 1007 && activity == 3;
        let is_inject = code == "8" && product.eq_ignore_ascii_case("sysmon");
        let kinds = [
            is_launch,
            class == 1007 && activity == 2,
            is_access,
            is_inject,
            class == 1001,
            class == 1005,
            class == 201_001 || class == 201_002,
            class == 4001,
            class == 1009,
            class == 3002 || class == 3003,
        ];
        let any = kinds.iter().any(|&k| k);
        for (i, k) in kinds.iter().enumerate() {
            out[ix::EV_LAUNCH + i] = b(*k);
        }
        debug_assert_eq!(ix::EV_AUTH, ix::EV_LAUNCH + kinds.len() - 1);
        out[ix::EV_OTHER] = b(!any);
        out[ix::SRC_SYSMON] = b(product.eq_ignore_ascii_case("sysmon"));
        out[ix::EVENT_CODE] = code.parse::<u32>().map(|c| c as f32).unwrap_or(f32::NAN);
        out[ix::SEC_SENSITIVE] = b(SENSITIVE_CODES.contains(&code));

        // Host state.
        let host = hash_lower(7, str_at(event, &["device", "hostname"]).unwrap_or(""));
        if !self.hosts.contains_key(&host) && self.hosts.len() >= self.caps.hosts {
            evict(&mut self.hosts, self.caps.hosts, |h| h.last);
        }
        let caps = self.caps;
        let st = self.hosts.entry(host).or_default();
        st.last = tick;

        // Subject process: the launched one for a launch, the actor otherwise.
        let null = Value::Null;
        let actor_p = val_at(event, &["actor", "process"]).unwrap_or(&null);
        let target_p = event.get("process").unwrap_or(&null);
        let subject = if is_launch || (class == 1007 && activity == 2 && actor_p.is_null()) {
            target_p
        } else if !actor_p.is_null() {
            actor_p
        } else {
            target_p
        };
        let subject_img = image_of(subject);
        let subject_key = proc_key(host, subject);
        let known_proc = subject_key.and_then(|k| st.procs.get(&k)).cloned();
        let sflags = match subject_img {
            Some(p) => image_flags(p, &mut self.lower),
            None => known_proc.as_ref().map(|p| p.flags).unwrap_or(0),
        };
        let simg_hash = subject_img
            .map(|p| hash_lower(2, base_name(p)))
            .or(known_proc.as_ref().map(|p| p.image));
        out[ix::IMG_KNOWN] = b(simg_hash.is_some());
        if simg_hash.is_some() {
            for (i, bit) in [F_LOLBIN, F_SCRIPT, F_SHELL, F_RECON, F_USERDIR, F_SYSDIR]
                .iter()
                .enumerate()
            {
                out[ix::IMG_FLAGS + i] = b(sflags & bit != 0);
            }
        }
        if let Some(h) = simg_hash {
            let before = bump(&mut st.images, h, tick, caps.counters);
            out[ix::IMG_HOST_COUNT] = ln1p(f64::from(before));
            out[ix::IMG_FIRST] = b(before == 0);
        }

        // Privilege.
        if let Some(i) = str_at(subject, &["integrity"]) {
            out[ix::INTEGRITY] = integrity_of(i);
        }
        let user = subject
            .get("user")
            .or_else(|| val_at(event, &["actor", "user"]));
        if let Some(u) = user.and_then(builtin_service_user) {
            out[ix::USER_SERVICE] = b(u);
        }

        // Command line of the subject: from the event, else remembered for the process.
        let cmd_here = str_at(subject, &["cmd_line"]).or_else(|| {
            if is_launch {
                str_at(event, &["cmd_line"])
            } else {
                None
            }
        });
        let cmdf = match cmd_here {
            Some(c) => Some(cmd_features(c, &mut self.lower)),
            None => known_proc.as_ref().map(|p| p.cmd).filter(|c| c[0] > 0.0),
        };
        match cmdf {
            Some(c) => out[ix::CMD..ix::CMD + CMD_LEN].copy_from_slice(&c),
            None => out[ix::CMD] = 0.0,
        }

        // Lineage.
        let mut depth = known_proc.as_ref().map(|p| p.depth).unwrap_or(0);
        if is_launch {
            let parent_img = image_of(actor_p);
            let pflags = parent_img
                .map(|p| image_flags(p, &mut self.lower2))
                .unwrap_or(0);
            let parent_key = proc_key(host, actor_p);
            let parent_info = parent_key.and_then(|k| st.procs.get_mut(&k));
            let mut pdepth = 0u8;
            if let Some(pi) = parent_info {
                pi.children = pi.children.saturating_add(1);
                pi.last = tick;
                pdepth = pi.depth;
            }
            depth = pdepth.saturating_add(1).min(8);
            if parent_img.is_some() {
                for (i, bit) in [
                    F_LOLBIN, F_SCRIPT, F_SHELL, F_OFFICE, F_USERDIR, F_WMIPRVSE, F_SERVICES,
                ]
                .iter()
                .enumerate()
                {
                    out[ix::PAR_FLAGS + i] = b(pflags & bit != 0);
                }
            }
            let pimg = parent_img.map(|p| hash_lower(2, base_name(p)));
            let mut pair_before = None;
            if let (Some(pi), Some(ci)) = (pimg, simg_hash) {
                let before = bump(&mut st.pairs, mix(pi, ci), tick, caps.counters);
                out[ix::PAIR_COUNT] = ln1p(f64::from(before));
                out[ix::PAIR_FIRST] = b(before == 0);
                pair_before = Some(before);
            }
            if let Some(k) = subject_key {
                let info = ProcInfo {
                    image: simg_hash.unwrap_or(0),
                    flags: sflags,
                    pflags,
                    has_parent: parent_img.is_some() && pair_before.is_some(),
                    pair_before: pair_before.unwrap_or(0),
                    integrity: out[ix::INTEGRITY],
                    parent: parent_key.unwrap_or(0),
                    depth,
                    children: 0,
                    cmd: cmdf.unwrap_or([0.0; CMD_LEN]),
                    last: tick,
                };
                st.procs.insert(k, info);
                if st.procs.len() > caps.processes {
                    evict(&mut st.procs, caps.processes, |p| p.last);
                }
            }
        } else if let (Some(k), None) = (subject_key, known_proc.as_ref()) {
            // A process first seen as an actor (started before the stream): remember what we
            // know so later events see its image and command line.
            if simg_hash.is_some() || cmdf.is_some() {
                st.procs.insert(
                    k,
                    ProcInfo {
                        image: simg_hash.unwrap_or(0),
                        flags: sflags,
                        pflags: 0,
                        has_parent: false,
                        pair_before: 0,
                        integrity: out[ix::INTEGRITY],
                        parent: 0,
                        depth: 0,
                        children: 0,
                        cmd: cmdf.unwrap_or([0.0; CMD_LEN]),
                        last: tick,
                    },
                );
                if st.procs.len() > caps.processes {
                    evict(&mut st.procs, caps.processes, |p| p.last);
                }
            }
        } else if let Some(p) = subject_key.and_then(|k| st.procs.get_mut(&k)) {
            p.last = tick;
            if p.cmd[0] == 0.0 {
                if let Some(c) = cmdf {
                    p.cmd = c;
                }
            }
        }
        // Non-launch events carry their process's launch context (parent kind, pair rarity,
        // integrity), so a module load or registry write by `rundll32` started from PowerShell
        // looks like that launch did.
        if let Some(p) = known_proc.as_ref().filter(|_| !is_launch) {
            if p.has_parent {
                for (i, bit) in [
                    F_LOLBIN, F_SCRIPT, F_SHELL, F_OFFICE, F_USERDIR, F_WMIPRVSE, F_SERVICES,
                ]
                .iter()
                .enumerate()
                {
                    out[ix::PAR_FLAGS + i] = b(p.pflags & bit != 0);
                }
                out[ix::PAIR_COUNT] = ln1p(f64::from(p.pair_before));
                out[ix::PAIR_FIRST] = b(p.pair_before == 0);
            }
            if out[ix::INTEGRITY].is_nan() {
                out[ix::INTEGRITY] = p.integrity;
            }
        }
        out[ix::PROC_DEPTH] = f32::from(depth);
        out[ix::PROC_CHILDREN] = ln1p(f64::from(
            known_proc.as_ref().map(|p| p.children).unwrap_or(0),
        ));
        // Ancestors (up to 4 levels) from the process table.
        let (mut anc_susp, mut anc_user) = (false, false);
        let mut cur = if is_launch {
            proc_key(host, actor_p)
        } else {
            known_proc.as_ref().map(|p| p.parent).filter(|&k| k != 0)
        };
        if let Some(p) = known_proc.as_ref().filter(|_| !is_launch) {
            anc_susp |= p.pflags & (F_SCRIPT | F_LOLBIN | F_SHELL) != 0;
            anc_user |= p.pflags & F_USERDIR != 0;
        }
        if is_launch {
            if let Some(pimg) = image_of(actor_p) {
                let f = image_flags(pimg, &mut self.lower2);
                anc_susp |= f & (F_SCRIPT | F_LOLBIN | F_SHELL) != 0;
                anc_user |= f & F_USERDIR != 0;
            }
        }
        for _ in 0..4 {
            let Some(k) = cur else { break };
            let Some(p) = st.procs.get(&k) else { break };
            anc_susp |= p.flags & (F_SCRIPT | F_LOLBIN | F_SHELL) != 0;
            anc_user |= p.flags & F_USERDIR != 0;
            cur = Some(p.parent).filter(|&k| k != 0);
        }
        out[ix::ANC_SUSP] = b(anc_susp);
        out[ix::ANC_USER] = b(anc_user);

        // Process access.
        if is_access || is_inject {
            let timg = image_of(target_p);
            let tflags = timg.map(|p| image_flags(p, &mut self.lower2)).unwrap_or(0);
            out[ix::ACC] = b(tflags & F_LSASS != 0);
            let mask = event
                .get("actual_permissions")
                .or_else(|| event.get("requested_permissions"))
                .and_then(Value::as_u64);
            if let Some(m) = mask {
                out[ix::ACC + 1] = b(m & 0x10 != 0);
                out[ix::ACC + 2] = b(m & 0x20 != 0);
                out[ix::ACC + 3] = b(m & 0x2 != 0);
                out[ix::ACC + 4] = b(m & 0x40 != 0);
                out[ix::ACC + 5] = b(m & 0x1f_ffff == 0x1f_ffff || m & 0x1f_0fff == 0x1f_0fff);
                out[ix::ACC + 6] = (m & 0xffff_ffff).count_ones() as f32;
            }
            if let Some(ct) = str_at(event, &["unmapped", "CallTrace"]) {
                out[ix::ACC + 7] = b(ct.contains("UNKNOWN"));
            }
            if let (Some(s), Some(t)) = (simg_hash, timg) {
                let key = mix(s, hash_lower(3, base_name(t)));
                let before = bump(&mut st.access, key, tick, caps.counters);
                out[ix::ACC + 8] = ln1p(f64::from(before));
                out[ix::ACC + 9] = b(before == 0);
            }
            if timg.is_some() {
                out[ix::ACC + 10] = b(tflags & F_SYSDIR != 0);
            }
        }

        // Registry.
        if class == 201_001 || class == 201_002 {
            let path = str_at(event, &["reg_value", "path"])
                .or_else(|| str_at(event, &["reg_key", "path"]))
                .unwrap_or("");
            self.lower.clear();
            self.lower
                .extend(path.chars().map(|c| c.to_ascii_lowercase()));
            let l = self.lower.as_str();
            out[ix::REG] = b(l.contains("\\currentversion\\run")
                || l.contains("\\winlogon")
                || l.contains("userinitmprlogonscript")
                || l.contains("\\environment")
                || l.contains("image file execution options")
                || l.contains("\\explorer\\shell folders"));
            out[ix::REG + 1] = b(l.contains("\\services\\"));
            out[ix::REG + 2] = b(l.contains("wdigest")
                || l.contains("\\control\\lsa")
                || l.contains("\\eventlog")
                || l.contains("\\minint")
                || l.contains("\\policies\\system")
                || l.contains("\\audit")
                || l.contains("windows defender"));
            out[ix::REG + 3] = b(matches!(activity, 1 | 2 | 3 | 5 | 6) && code != "4663");
            let name = str_at(event, &["reg_value", "name"]).unwrap_or("");
            let data = str_at(event, &["reg_value", "data"]).unwrap_or("");
            self.lower2.clear();
            self.lower2
                .extend(data.chars().take(4096).map(|c| c.to_ascii_lowercase()));
            let d = self.lower2.as_str();
            out[ix::REG + 4] = b([
                ".exe",
                ".dll",
                ".bat",
                ".ps1",
                ".vbs",
                "powershell",
                "cmd ",
                "rundll32",
            ]
            .iter()
            .any(|t| d.contains(t))
                || name.eq_ignore_ascii_case("UserInitMprLogonScript"));
        }

        // File.
        if class == 1001 {
            let path = str_at(event, &["file", "path"]).unwrap_or("");
            self.lower.clear();
            self.lower
                .extend(path.chars().map(|c| c.to_ascii_lowercase()));
            let l = self.lower.as_str();
            let name = base_name(l);
            out[ix::FILE] = b(l.contains("\\start menu\\programs\\startup"));
            out[ix::FILE + 1] = b(l.contains("\\system32\\tasks\\"));
            out[ix::FILE + 2] = b([
                ".exe", ".dll", ".ps1", ".bat", ".cmd", ".vbs", ".js", ".hta", ".sct", ".xll",
                ".inf",
            ]
            .iter()
            .any(|e| name.ends_with(e)));
            out[ix::FILE + 3] = b(name.ends_with(".dmp")
                || matches!(name, "sam" | "security" | "system" | "ntds.dit")
                || name.ends_with(".hiv"));
            out[ix::FILE + 4] = b(is_user_writable(l));
        }

        // Module.
        if class == 1005 {
            let path = str_at(event, &["module", "file", "path"]).unwrap_or("");
            let state =
                val_at(event, &["module", "file", "signature", "state_id"]).and_then(Value::as_u64);
            out[ix::MODULE] = match state {
                Some(s) => b(s != 1),
                None => f32::NAN,
            };
            self.lower.clear();
            self.lower
                .extend(path.chars().map(|c| c.to_ascii_lowercase()));
            let l = self.lower.as_str();
            let name = base_name(l);
            out[ix::MODULE + 1] = b(is_user_writable(l));
            out[ix::MODULE + 2] = b(matches!(
                name,
                "dbghelp.dll"
                    | "dbgcore.dll"
                    | "comsvcs.dll"
                    | "samlib.dll"
                    | "vaultcli.dll"
                    | "wdigest.dll"
                    | "kerberos.dll"
                    | "cryptdll.dll"
            ));
            out[ix::MODULE + 3] = b(matches!(name, "clr.dll" | "clrjit.dll" | "mscoree.dll")
                || name.starts_with("system.management.automation"));
        }

        // Network.
        if class == 4001 {
            if let Some(h) = simg_hash {
                let before = bump(&mut st.net, h, tick, caps.counters);
                out[ix::NET] = b(before == 0);
            }
            let outbound = val_at(event, &["connection_info", "direction_id"])
                .and_then(Value::as_u64)
                .map(|d| d == 2);
            let port = val_at(event, &["dst_endpoint", "port"]).and_then(Value::as_u64);
            if let Some(p) = port {
                let web = matches!(p, 80 | 443 | 8080 | 8443);
                let smb = matches!(p, 135 | 139 | 445);
                let winrm = matches!(p, 5985 | 5986);
                let dir = matches!(p, 88 | 389 | 636 | 3268);
                out[ix::NET + 1] = b(web);
                out[ix::NET + 2] = b(smb);
                out[ix::NET + 3] = b(winrm);
                out[ix::NET + 4] = b(dir);
                out[ix::NET + 5] = b(!(web || smb || winrm || dir));
            }
            if let Some(o) = outbound {
                out[ix::NET + 6] = b(o);
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indices_match_defs() {
        let s = endpoint_schema();
        let at = |name: &str| s.index_of(name).unwrap_or(usize::MAX);
        assert_eq!(at("ev_launch"), ix::EV_LAUNCH);
        assert_eq!(at("ev_terminate"), ix::EV_TERMINATE);
        assert_eq!(at("ev_access"), ix::EV_ACCESS);
        assert_eq!(at("ev_inject"), ix::EV_INJECT);
        assert_eq!(at("ev_file"), ix::EV_FILE);
        assert_eq!(at("ev_module"), ix::EV_MODULE);
        assert_eq!(at("ev_registry"), ix::EV_REGISTRY);
        assert_eq!(at("ev_network"), ix::EV_NETWORK);
        assert_eq!(at("ev_script"), ix::EV_SCRIPT);
        assert_eq!(at("ev_auth"), ix::EV_AUTH);
        assert_eq!(at("ev_other"), ix::EV_OTHER);
        assert_eq!(at("src_sysmon"), ix::SRC_SYSMON);
        assert_eq!(at("event_code"), ix::EVENT_CODE);
        assert_eq!(at("sec_sensitive_code"), ix::SEC_SENSITIVE);
        assert_eq!(at("img_known"), ix::IMG_KNOWN);
        assert_eq!(at("img_lolbin"), ix::IMG_FLAGS);
        assert_eq!(at("img_system_dir"), ix::IMG_FLAGS + 5);
        assert_eq!(at("img_host_count"), ix::IMG_HOST_COUNT);
        assert_eq!(at("img_first_seen"), ix::IMG_FIRST);
        assert_eq!(at("proc_depth"), ix::PROC_DEPTH);
        assert_eq!(at("proc_children"), ix::PROC_CHILDREN);
        assert_eq!(at("anc_suspicious"), ix::ANC_SUSP);
        assert_eq!(at("anc_user_writable"), ix::ANC_USER);
        assert_eq!(at("integrity"), ix::INTEGRITY);
        assert_eq!(at("user_builtin_service"), ix::USER_SERVICE);
        assert_eq!(at("par_lolbin"), ix::PAR_FLAGS);
        assert_eq!(at("par_services"), ix::PAR_FLAGS + 6);
        assert_eq!(at("pair_host_count"), ix::PAIR_COUNT);
        assert_eq!(at("pair_first_seen"), ix::PAIR_FIRST);
        assert_eq!(at("cmd_known"), ix::CMD);
        assert_eq!(at("cmd_quotes"), ix::CMD + 16);
        assert_eq!(at("acc_target_lsass"), ix::ACC);
        assert_eq!(at("acc_target_system_dir"), ix::ACC + 10);
        assert_eq!(at("reg_run_key"), ix::REG);
        assert_eq!(at("reg_value_exec"), ix::REG + 4);
        assert_eq!(at("file_startup"), ix::FILE);
        assert_eq!(at("file_user_writable"), ix::FILE + 4);
        assert_eq!(at("mod_unsigned"), ix::MODULE);
        assert_eq!(at("mod_dotnet"), ix::MODULE + 3);
        assert_eq!(at("net_image_first"), ix::NET);
        assert_eq!(at("net_outbound"), ix::NET + 6);
        assert_eq!(s.len(), ix::NET + 7);
    }

    #[test]
    fn ipv4_detection() {
        assert!(has_ipv4("regsvr32 /i:http://10.10.10.5:8444/x"));
        assert!(!has_ipv4("version 10.0.18362"));
        assert!(!has_ipv4("1.2.3.4567"));
    }
}
