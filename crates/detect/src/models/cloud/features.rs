//! The cloud feature schema and its stateful extractor, [`CloudFeatures`].
//!
//! Input: OCSF events normalized from CloudTrail (`metadata.product.name` = `CloudTrail`; API
//! Activity 6003, and the Authentication / Account Change / Group Management events CloudTrail
//! also yields), read through `api.operation`, `api.service.name`, `actor.user`,
//! `actor.session`, `src_endpoint`, `http_request.user_agent`, `cloud.region`, `status_id`,
//! `api.response.error`.
//!
//! Three kinds of feature:
//! - **event**: what the call is (read / write, IAM change, logging or defence change, MFA
//!   change, data access, credential creation, exposure change, console login and MFA), who made
//!   it (actor type, session MFA, instance-profile session), from where (AWS service, private or
//!   public IP, user-agent family) and whether it failed;
//! - **principal history**: per cloud principal (the key `shrike_normalize::entities` gives:
//!   `aws:<account>:role/<name>` for every session of a role), how often it called this API and
//!   service before, first-seen region / user agent / source IP, recent failure rate, decayed
//!   bursts of List/Describe/Get, object reads, IAM changes and first-seen APIs;
//! - **global**: how often any principal called this API before.
//!
//! No identity strings or dataset artefacts are features: account ids, names, bucket names,
//! IPs and dates enter only as hashed keys of the history, never as values.
//!
//! State is bounded: at most [`Caps::principals`] principals (least recently seen evicted), and
//! per principal at most [`Caps::apis`] APIs, [`Caps::values`] regions / user agents / IPs each.
//! Extraction allocates only when a principal or API is first seen (and one key string per
//! event for the canonical principal key).

use std::collections::HashMap;
use std::sync::OnceLock;

use serde_json::Value;
use shrike_score::FeatureSchema;

/// Schema version: bumped whenever a feature is added, removed, reordered or changes meaning.
pub const CLOUD_SCHEMA_VERSION: u32 = 1;

/// Half-life of the decayed burst counters, in ms (5 minutes).
pub const BURST_HALF_LIFE_MS: f64 = 300_000.0;

macro_rules! features {
    ($( $idx:ident = $name:literal, $group:literal, $desc:literal; )*) => {
        #[allow(non_camel_case_types, clippy::upper_case_acronyms)]
        #[repr(usize)]
        #[derive(Clone, Copy)]
        enum F { $( $idx, )* N }
        const DEFS: &[(&str, &str, &str)] = &[ $( ($name, $group, $desc), )* ];
    };
}

features! {
    ActorRoot = "actor_root", "actor", "1 when the caller is the account root user";
    ActorIamUser = "actor_iam_user", "actor", "1 when the caller is an IAM user (long-term credentials)";
    ActorAssumedRole = "actor_assumed_role", "actor", "1 when the caller is an assumed-role session";
    ActorService = "actor_aws_service", "actor", "1 when the caller is an AWS service";
    ActorOther = "actor_other", "actor", "1 when the caller is a federated, SAML, web-identity or unknown identity";
    SessionMfa = "session_mfa", "actor", "Whether the session was MFA-authenticated (NaN when not recorded)";
    InstanceSession = "instance_session", "actor", "1 when the session name is an EC2 instance id (instance-profile credentials)";
    SrcService = "src_aws_service", "source", "1 when the call came from an AWS service (sourceIPAddress is a service name)";
    SrcPrivateIp = "src_private_ip", "source", "1 when the source IP is private (RFC 1918, ULA, link-local)";
    SrcPublicIp = "src_public_ip", "source", "1 when the source IP is public";
    UaCli = "ua_cli", "source", "1 when the user agent is the AWS CLI";
    UaSdk = "ua_sdk", "source", "1 when the user agent is an AWS SDK (boto3/botocore, aws-sdk-*)";
    UaConsole = "ua_console", "source", "1 when the user agent is the AWS console or a browser";
    UaInternal = "ua_aws_internal", "source", "1 when the user agent is an AWS service or 'AWS Internal'";
    UaOffensive = "ua_offensive", "source", "1 when the user agent names a penetration-testing OS or tool (Kali, Parrot, Pentoo, Pacu, Stratus) or a bare HTTP library (curl, python-requests)";
    UaMissing = "ua_missing", "source", "1 when the event has no user agent";
    IsRead = "is_read", "api", "1 for read-only calls (Get/List/Describe/Head/Lookup/Search...)";
    IsRecon = "is_recon", "api", "1 for enumeration calls (List*/Describe*, Get*Policy, GetAccountAuthorizationDetails, GetCallerIdentity...)";
    IsWhoami = "is_whoami", "api", "1 for GetCallerIdentity / GetUser without target (credential check)";
    IsDataRead = "is_data_read", "api", "1 for object/data reads (S3 GetObject, CopyObject, SelectObjectContent)";
    IsSecretRead = "is_secret_read", "api", "1 for secret reads (GetSecretValue, GetParameter(s), GetPasswordData, KMS Decrypt)";
    IsIamChange = "is_iam_change", "api", "1 for IAM changes (Create/Attach/Put/Delete *Policy, CreateUser, CreateRole, AddUserToGroup, UpdateAssumeRolePolicy...)";
    IsCredCreate = "is_credential_create", "api", "1 for credential creation (CreateAccessKey, Create/UpdateLoginProfile, GetFederationToken, CreateServiceSpecificCredential...)";
    IsDefenseChange = "is_defense_change", "api", "1 for logging/defence changes (StopLogging, DeleteTrail, UpdateTrail, PutEventSelectors, DeleteFlowLogs, GuardDuty/Config/SecurityHub disable, log deletion)";
    IsMfaChange = "is_mfa_change", "api", "1 for MFA device changes (Deactivate/Delete/Create/Enable MFA device)";
    IsExposure = "is_exposure_change", "api", "1 for exposure changes (bucket policy/ACL, public access block, snapshot/image sharing, security-group ingress)";
    IsDestructive = "is_destructive", "api", "1 for Delete*/Terminate*/Disable*/Remove* calls not counted above";
    IsComputeChange = "is_compute_change", "api", "1 for compute/code changes (RunInstances, Lambda Create/UpdateFunction*, ECS/EKS create, SSM SendCommand)";
    IsAssumeRole = "is_assume_role", "api", "1 for STS AssumeRole* / GetSessionToken";
    IsOrgChange = "is_org_change", "api", "1 for AWS Organizations / account-level changes (LeaveOrganization, account settings)";
    IsWrite = "is_write", "api", "1 for calls that are not read-only";
    SvcIam = "svc_iam", "api", "1 when the service is IAM or STS";
    SvcS3 = "svc_s3", "api", "1 when the service is S3";
    SvcEc2 = "svc_ec2", "api", "1 when the service is EC2";
    SvcLogging = "svc_logging", "api", "1 when the service is CloudTrail, Config, GuardDuty, CloudWatch Logs, Security Hub";
    SvcSecrets = "svc_secrets", "api", "1 when the service is KMS, Secrets Manager or SSM";
    SvcSignin = "svc_signin", "api", "1 when the service is AWS sign-in";
    ConsoleLogin = "console_login", "login", "1 for a console login";
    ConsoleLoginNoMfa = "console_login_no_mfa", "login", "1 for a console login without MFA";
    ConsoleLoginFailed = "console_login_failed", "login", "1 for a failed console login";
    ReqPublic = "request_public", "request", "1 when the request parameters open something to everyone (0.0.0.0/0, ::/0, AllUsers, Principal *, publiclyAccessible true, PUBLIC visibility)";
    ReqDisable = "request_disables_protection", "request", "1 when the request parameters turn a protection off (deletion protection / encryption / logging / versioning / MFA delete false, Suspended, Disabled, zero backup retention)";
    ReqAdmin = "request_admin", "request", "1 when the request parameters grant administrator rights (AdministratorAccess, Action *)";
    ReqForeignAccount = "request_foreign_account", "request", "1 when the request parameters name a 12-digit account other than the caller's (sharing, cross-account trust)";
    Failed = "failed", "outcome", "1 when the call failed (CloudTrail errorCode)";
    AccessDenied = "access_denied", "outcome", "1 when the error is AccessDenied / Unauthorized* / Forbidden";
    PrincipalEvents = "principal_events_before", "history", "ln(1 + events seen from this principal before)";
    PrincipalAge = "principal_age_secs", "history", "ln(1 + seconds since this principal was first seen; NaN when new)";
    SinceLast = "principal_since_last_secs", "history", "ln(1 + seconds since this principal's previous event; NaN when new)";
    ApiCount = "api_count_principal", "history", "ln(1 + times this principal called this API before)";
    ApiFirstSeen = "api_first_seen_principal", "history", "1 when this principal never called this API before (NaN when the principal is new)";
    ServiceFirstSeen = "service_first_seen_principal", "history", "1 when this principal never called this service before (NaN when the principal is new)";
    RegionNew = "region_new_principal", "history", "1 when the region is new for this principal (NaN when new or no region)";
    UaNew = "ua_new_principal", "history", "1 when the user agent is new for this principal (NaN when new or none)";
    IpNew = "ip_new_principal", "history", "1 when the source IP is new for this principal (NaN when new or no IP)";
    DistinctRegions = "principal_distinct_regions", "history", "Distinct regions this principal used before";
    DistinctIps = "principal_distinct_ips", "history", "Distinct source IPs this principal used before";
    DistinctApis = "principal_distinct_apis", "history", "ln(1 + distinct APIs this principal called before)";
    FailRate = "principal_fail_rate", "history", "Share of failed calls among this principal's last 32 (NaN when new)";
    FailBurst = "principal_fail_burst", "history", "Decayed count of this principal's recent failures (5-minute half-life)";
    ReconBurst = "principal_recon_burst", "history", "Decayed count of this principal's recent enumeration calls, this one included";
    DataBurst = "principal_data_burst", "history", "Decayed count of this principal's recent object reads, this one included";
    IamBurst = "principal_iam_burst", "history", "Decayed count of this principal's recent IAM / credential / defence changes, this one included";
    NewApiBurst = "principal_new_api_burst", "history", "Decayed count of APIs this principal called for the first time recently, this one included";
    InstanceNewIp = "instance_session_new_ip", "history", "1 when instance-profile credentials are used from a source IP the role has not used before";
    ApiGlobalCount = "api_count_global", "global", "ln(1 + times any principal called this API before)";
}

/// The cloud feature schema (built once).
pub fn cloud_schema() -> &'static FeatureSchema {
    static SCHEMA: OnceLock<FeatureSchema> = OnceLock::new();
    SCHEMA.get_or_init(|| FeatureSchema::from_defs("cloud", CLOUD_SCHEMA_VERSION, DEFS))
}

/// Number of features.
pub const N_FEATURES: usize = F::N as usize;

/// Names of the features that depend on history (for ablation: the trainer can blank them).
pub fn stateful_features() -> impl Iterator<Item = usize> {
    (F::PrincipalEvents as usize)..N_FEATURES
}

/// Bounds on the extractor's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caps {
    /// Principals tracked (least recently seen evicted).
    pub principals: usize,
    /// APIs remembered per principal.
    pub apis: usize,
    /// Regions, user agents and IPs remembered per principal (each).
    pub values: usize,
    /// APIs counted globally.
    pub global_apis: usize,
}

impl Default for Caps {
    fn default() -> Self {
        Caps {
            principals: 50_000,
            apis: 256,
            values: 16,
            global_apis: 4096,
        }
    }
}

/// Exponentially decayed counter.
#[derive(Debug, Clone, Copy, Default)]
struct Decay {
    v: f32,
    t_ms: i64,
}

impl Decay {
    fn at(&self, t_ms: i64) -> f32 {
        let dt = t_ms.saturating_sub(self.t_ms).max(0) as f64;
        (f64::from(self.v) * (-dt * std::f64::consts::LN_2 / BURST_HALF_LIFE_MS).exp()) as f32
    }
    fn add(&mut self, t_ms: i64, inc: f32) -> f32 {
        let v = self.at(t_ms) + inc;
        self.v = v;
        self.t_ms = self.t_ms.max(t_ms);
        v
    }
}

/// A small FIFO set of hashes.
#[derive(Debug, Clone, Default)]
struct Ring {
    items: Vec<u64>,
    next: usize,
}

impl Ring {
    /// Inserts; returns whether the value was new.
    fn insert(&mut self, h: u64, cap: usize) -> bool {
        if self.items.contains(&h) {
            return false;
        }
        if self.items.len() < cap {
            self.items.push(h);
        } else if let Some(slot) = self.items.get_mut(self.next % cap.max(1)) {
            *slot = h;
            self.next = (self.next + 1) % cap.max(1);
        }
        true
    }
}

#[derive(Debug, Clone, Default)]
struct Principal {
    n: u32,
    first_ms: i64,
    last_ms: i64,
    tick: u64,
    apis: HashMap<u64, u32>,
    services: Ring,
    regions: Ring,
    uas: Ring,
    ips: Ring,
    /// Outcomes of the last 32 calls, bit 0 = the latest, 1 = failed.
    outcomes: u32,
    fail: Decay,
    recon: Decay,
    data: Decay,
    iam: Decay,
    new_api: Decay,
}

impl Principal {
    fn bytes(&self) -> usize {
        std::mem::size_of::<Principal>()
            + self.apis.capacity() * (std::mem::size_of::<(u64, u32)>() + 1)
            + 8 * (self.services.items.capacity()
                + self.regions.items.capacity()
                + self.uas.items.capacity()
                + self.ips.items.capacity())
    }
}

/// FNV-1a over ASCII-lowercased bytes: keys of the history, never features.
fn hash(parts: &[&str]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for (i, p) in parts.iter().enumerate() {
        if i > 0 {
            h ^= 0x1f;
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        for b in p.bytes() {
            h ^= u64::from(b.to_ascii_lowercase());
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}

/// The fields of one CloudTrail event the extractor reads, borrowed from it.
#[derive(Debug, Clone, Copy, Default)]
pub struct CallView<'a> {
    /// Event time, ms.
    pub time_ms: i64,
    /// `api.operation` (`ListBuckets`).
    pub operation: &'a str,
    /// `api.service.name` (`s3.amazonaws.com`).
    pub service: &'a str,
    /// `actor.user.type` (`IAMUser`, `AssumedRole`, `Root`, `AWSService`...).
    pub actor_type: &'a str,
    /// `actor.user.uid` (the ARN), when present.
    pub actor_uid: Option<&'a str>,
    /// `actor.user.name`.
    pub actor_name: Option<&'a str>,
    /// The account (`actor.user.account.uid`, else `cloud.account.uid`).
    pub account: Option<&'a str>,
    /// `actor.session.is_mfa`, or the login's `is_mfa`.
    pub is_mfa: Option<bool>,
    /// `src_endpoint.ip`.
    pub src_ip: Option<&'a str>,
    /// `src_endpoint.svc_name` (an AWS service calling on the principal's behalf).
    pub src_svc: Option<&'a str>,
    /// `http_request.user_agent`.
    pub user_agent: Option<&'a str>,
    /// `cloud.region`.
    pub region: Option<&'a str>,
    /// `status_id` = 2 (failure).
    pub failed: bool,
    /// `api.response.error` / `status_code`.
    pub error: Option<&'a str>,
    /// The console login's result (`Success`, `Failure`), for `ConsoleLogin`.
    pub login_result: Option<&'a str>,
    /// The request parameters (`unmapped.requestParameters`), when recorded.
    pub request: Option<&'a Value>,
}

/// Whether an OCSF event is a CloudTrail event the cloud model covers.
pub fn is_cloudtrail(event: &Value) -> bool {
    event
        .pointer("/metadata/product/name")
        .and_then(Value::as_str)
        .is_some_and(|p| p.eq_ignore_ascii_case("cloudtrail"))
}

impl<'a> CallView<'a> {
    /// The view of a CloudTrail event; `None` for other events and for events without an
    /// operation or time.
    pub fn of(event: &'a Value) -> Option<CallView<'a>> {
        if !is_cloudtrail(event) {
            return None;
        }
        let s = |p: &str| {
            event
                .pointer(p)
                .and_then(Value::as_str)
                .map(str::trim)
                .filter(|v| !v.is_empty())
        };
        let operation = s("/api/operation")?;
        let time_ms = event.get("time").and_then(Value::as_i64)?;
        let is_mfa = event
            .pointer("/actor/session/is_mfa")
            .and_then(Value::as_bool)
            .or_else(|| event.get("is_mfa").and_then(Value::as_bool));
        Some(CallView {
            time_ms,
            operation,
            service: s("/api/service/name").unwrap_or(""),
            actor_type: s("/actor/user/type").unwrap_or(""),
            actor_uid: s("/actor/user/uid"),
            actor_name: s("/actor/user/name"),
            account: s("/actor/user/account/uid").or_else(|| s("/cloud/account/uid")),
            is_mfa,
            src_ip: s("/src_endpoint/ip"),
            src_svc: s("/src_endpoint/svc_name").or_else(|| s("/actor/invoked_by")),
            user_agent: s("/http_request/user_agent"),
            region: s("/cloud/region"),
            failed: event.get("status_id").and_then(Value::as_u64) == Some(2),
            error: s("/api/response/error").or_else(|| s("/status_code")),
            login_result: s("/api/response/data/ConsoleLogin"),
            request: event
                .pointer("/unmapped/requestParameters")
                .or_else(|| event.pointer("/api/request/data"))
                .filter(|v| v.is_object() || v.is_array()),
        })
    }

    /// The principal's history key: the canonical cloud-principal key of
    /// `shrike_normalize::entities` when the ARN parses, else type + account + name.
    fn principal_key(&self) -> u64 {
        if let Some(k) = self
            .actor_uid
            .and_then(shrike_normalize::entities::normalize_arn)
        {
            return hash(&[&k]);
        }
        if self.actor_type.eq_ignore_ascii_case("root") {
            return hash(&["root", self.account.unwrap_or("")]);
        }
        hash(&[
            self.actor_type,
            self.account.unwrap_or(""),
            self.actor_name.or(self.src_svc).unwrap_or(""),
        ])
    }
}

fn starts_any(op: &str, prefixes: &[&str]) -> bool {
    prefixes.iter().any(|p| op.starts_with(p))
}

const READ_PREFIXES: &[&str] = &[
    "Get", "List", "Describe", "Head", "Lookup", "Search", "Scan", "Query", "BatchGet", "Select",
    "Filter", "Check", "Preview", "Simulate", "Validate", "View", "Download", "Generate", "Test",
    "Estimate",
];

fn is_read(op: &str) -> bool {
    starts_any(op, READ_PREFIXES) && !matches!(op, "GetFederationToken" | "GetSessionToken")
}

fn is_data_read(op: &str) -> bool {
    matches!(
        op,
        "GetObject" | "CopyObject" | "SelectObjectContent" | "GetObjectTorrent" | "RestoreObject"
    )
}

fn is_secret_read(op: &str) -> bool {
    matches!(
        op,
        "GetSecretValue"
            | "BatchGetSecretValue"
            | "GetParameter"
            | "GetParameters"
            | "GetParametersByPath"
            | "GetPasswordData"
            | "Decrypt"
            | "GenerateDataKey"
            | "GetAuthorizationToken"
            | "GetCredentialReport"
    )
}

fn is_whoami(op: &str) -> bool {
    matches!(op, "GetCallerIdentity" | "GetAccessKeyInfo")
}

fn is_recon(op: &str) -> bool {
    (op.starts_with("List") || op.starts_with("Describe"))
        || matches!(
            op,
            "GetAccountAuthorizationDetails"
                | "GetAccountSummary"
                | "GetCallerIdentity"
                | "GetBucketAcl"
                | "GetBucketPolicy"
                | "GetBucketPolicyStatus"
                | "GetPolicy"
                | "GetPolicyVersion"
                | "GetRolePolicy"
                | "GetUserPolicy"
                | "GetUser"
                | "GetRole"
                | "GetAccountPasswordPolicy"
                | "HeadBucket"
        )
}

fn is_iam_change(op: &str, svc: &str) -> bool {
    let iam = svc.starts_with("iam.") || svc.is_empty();
    (iam && starts_any(
        op,
        &[
            "CreatePolicy",
            "CreatePolicyVersion",
            "SetDefaultPolicyVersion",
            "AttachUserPolicy",
            "AttachRolePolicy",
            "AttachGroupPolicy",
            "PutUserPolicy",
            "PutRolePolicy",
            "PutGroupPolicy",
            "DetachUserPolicy",
            "DetachRolePolicy",
            "DeleteUserPolicy",
            "DeleteRolePolicy",
            "CreateUser",
            "CreateRole",
            "CreateGroup",
            "AddUserToGroup",
            "AddRoleToInstanceProfile",
            "UpdateAssumeRolePolicy",
            "PutUserPermissionsBoundary",
            "DeleteRolePermissionsBoundary",
            "DeleteUserPermissionsBoundary",
            "CreateSAMLProvider",
            "UpdateSAMLProvider",
            "CreateOpenIDConnectProvider",
            "DeleteUser",
            "DeleteRole",
        ],
    )) || matches!(
        op,
        "CreatePermissionSet"
            | "AttachManagedPolicyToPermissionSet"
            | "PutInlinePolicyToPermissionSet"
            | "CreateAccountAssignment"
    )
}

fn is_cred_create(op: &str) -> bool {
    matches!(
        op,
        "CreateAccessKey"
            | "UpdateAccessKey"
            | "CreateLoginProfile"
            | "UpdateLoginProfile"
            | "GetFederationToken"
            | "CreateServiceSpecificCredential"
            | "UploadSSHPublicKey"
            | "CreateKeyPair"
            | "ImportKeyPair"
            | "PasswordRecoveryRequested"
            | "ChangePassword"
            | "UpdateUser"
    )
}

fn is_defense_change(op: &str, svc: &str) -> bool {
    matches!(
        op,
        "StopLogging"
            | "DeleteTrail"
            | "UpdateTrail"
            | "PutEventSelectors"
            | "PutInsightSelectors"
            | "DeleteFlowLogs"
            | "DeleteDetector"
            | "UpdateDetector"
            | "DisassociateFromMasterAccount"
            | "DisassociateFromAdministratorAccount"
            | "StopMonitoringMembers"
            | "DeleteMembers"
            | "DisassociateMembers"
            | "CreateIPSet"
            | "UpdateIPSet"
            | "CreateFilter"
            | "UpdateFilter"
            | "DeletePublishingDestination"
            | "StopConfigurationRecorder"
            | "DeleteConfigurationRecorder"
            | "DeleteDeliveryChannel"
            | "DeleteConfigRule"
            | "PutConfigurationRecorder"
            | "DisableSecurityHub"
            | "BatchDisableStandards"
            | "DeleteLogGroup"
            | "DeleteLogStream"
            | "PutRetentionPolicy"
            | "DeleteSubscriptionFilter"
            | "DisableAlarmActions"
            | "DeleteAlarms"
            | "DisableEbsEncryptionByDefault"
            | "ScheduleKeyDeletion"
            | "DisableKey"
            | "PutBucketLogging"
            | "DeleteBucketLifecycle"
            | "DeleteAnalyzer"
            | "DisableOrganizationAdminAccount"
            | "DeleteWebACL"
            | "DeleteRuleGroup"
    ) || (svc.starts_with("guardduty.") && op.starts_with("Disable"))
        || (svc.starts_with("cloudtrail.") && op.starts_with("Delete"))
}

fn is_mfa_change(op: &str) -> bool {
    matches!(
        op,
        "DeactivateMFADevice"
            | "DeleteVirtualMFADevice"
            | "CreateVirtualMFADevice"
            | "EnableMFADevice"
            | "ResyncMFADevice"
    )
}

fn is_exposure(op: &str) -> bool {
    matches!(
        op,
        "PutBucketPolicy"
            | "PutBucketAcl"
            | "PutObjectAcl"
            | "DeleteBucketPolicy"
            | "PutBucketPublicAccessBlock"
            | "DeleteBucketPublicAccessBlock"
            | "PutAccountPublicAccessBlock"
            | "DeleteAccountPublicAccessBlock"
            | "ModifySnapshotAttribute"
            | "ModifyImageAttribute"
            | "ModifyDBSnapshotAttribute"
            | "ModifyDBClusterSnapshotAttribute"
            | "AuthorizeSecurityGroupIngress"
            | "AuthorizeSecurityGroupEgress"
            | "CreateSecurityGroup"
            | "ModifyInstanceAttribute"
            | "PutKeyPolicy"
            | "PutResourcePolicy"
            | "AddPermission"
            | "AddPermission20150331"
            | "AddPermission20150331v2"
            | "SetRepositoryPolicy"
            | "ShareSnapshot"
            | "CreateNetworkAclEntry"
            | "ReplaceNetworkAclEntry"
            | "CreateRoute"
            | "UpdateFunctionUrlConfig"
            | "CreateFunctionUrlConfig"
    )
}

fn is_compute_change(op: &str) -> bool {
    starts_any(
        op,
        &[
            "RunInstances",
            "CreateFunction",
            "UpdateFunctionCode",
            "UpdateFunctionConfiguration",
            "PublishLayerVersion",
            "SendCommand",
            "StartSession",
            "CreateCluster",
            "RegisterTaskDefinition",
            "RunTask",
            "CreateStack",
            "CreateImage",
            "CreateSnapshot",
            "CopySnapshot",
            "ImportImage",
            "RequestSpotInstances",
            "CreateLaunchTemplate",
            "ModifyLaunchTemplate",
            "CreateNotebookInstance",
            "CreateProcessingJob",
            "CreateTrainingJob",
            "CreateDevEndpoint",
            "UpdateDevEndpoint",
        ],
    )
}

fn is_assume_role(op: &str) -> bool {
    op.starts_with("AssumeRole") || op == "GetSessionToken" || op == "SwitchRole"
}

fn is_org_change(svc: &str, op: &str) -> bool {
    (svc.starts_with("organizations.") && !is_read(op))
        || matches!(
            op,
            "PutAlternateContact"
                | "DeleteAlternateContact"
                | "UpdateAccountPasswordPolicy"
                | "DeleteAccountPasswordPolicy"
                | "CloseAccount"
        )
}

fn is_denied(err: &str) -> bool {
    contains_ci(err, "accessdenied")
        || contains_ci(err, "unauthorized")
        || contains_ci(err, "forbidden")
}

fn starts_ci(s: &str, prefix: &str) -> bool {
    s.get(..prefix.len())
        .is_some_and(|p| p.eq_ignore_ascii_case(prefix))
}

fn ua_family(ua: &str) -> usize {
    let l = ua;
    const OFFENSIVE: &[&str] = &[
        "kali",
        "parrot",
        "pentoo",
        "pacu",
        "stratus",
        "curl/",
        "python-requests",
        "nmap",
        "sqlmap",
        "cloudfox",
        "scoutsuite",
        "prowler",
        "weirdaal",
        "cloudsploit",
    ];
    if OFFENSIVE.iter().any(|k| contains_ci(l, k)) {
        F::UaOffensive as usize
    } else if starts_ci(l, "aws-cli") || contains_ci(l, " aws-cli/") {
        F::UaCli as usize
    } else if contains_ci(l, "boto")
        || contains_ci(l, "aws-sdk")
        || (contains_ci(l, "aws-internal") && contains_ci(l, "sdk"))
    {
        F::UaSdk as usize
    } else if contains_ci(l, "console.")
        || contains_ci(l, "signin.amazonaws")
        || starts_ci(l, "mozilla")
    {
        F::UaConsole as usize
    } else if contains_ci(l, "amazonaws.com") || contains_ci(l, "aws internal") {
        F::UaInternal as usize
    } else {
        usize::MAX
    }
}

fn is_private_ip(ip: &str) -> bool {
    match ip.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V4(v)) => v.is_private() || v.is_link_local() || v.is_loopback(),
        Ok(std::net::IpAddr::V6(v)) => {
            let s = v.segments();
            (s[0] & 0xfe00) == 0xfc00 || (s[0] & 0xffc0) == 0xfe80 || v.is_loopback()
        }
        Err(_) => false,
    }
}

fn is_instance_session(uid: Option<&str>) -> bool {
    // `arn:aws:sts::<acct>:assumed-role/<role>/i-0123456789abcdef0`
    uid.and_then(|u| u.rsplit('/').next()).is_some_and(|s| {
        s.len() >= 10
            && s.starts_with("i-")
            && s.get(2..)
                .is_some_and(|h| h.bytes().all(|b| b.is_ascii_hexdigit()))
    })
}

/// What the request parameters say (see the `request_*` features).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RequestFlags {
    /// Opens something to everyone.
    pub public: bool,
    /// Turns a protection off.
    pub disables: bool,
    /// Grants administrator rights.
    pub admin: bool,
    /// Names another account.
    pub foreign_account: bool,
}

/// Most JSON nodes of the request parameters looked at (hostile events stay cheap).
const MAX_REQUEST_NODES: usize = 2_000;
/// Deepest nesting looked at.
const MAX_REQUEST_DEPTH: usize = 12;

const PROTECTION_KEYS: &[&str] = &[
    "deletionprotection",
    "encrypt",
    "logging",
    "versioning",
    "mfadelete",
    "protection",
    "monitoring",
    "enabled",
    "enable",
    "multiaz",
    "backupretentionperiod",
    "retention",
];

fn eq_any(s: &str, list: &[&str]) -> bool {
    list.iter().any(|x| s.eq_ignore_ascii_case(x))
}

fn contains_ci(hay: &str, needle: &str) -> bool {
    hay.as_bytes()
        .windows(needle.len().max(1))
        .any(|w| w.eq_ignore_ascii_case(needle.as_bytes()))
}

fn is_account_id(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

/// Scans request parameters (bounded by [`MAX_REQUEST_NODES`] and [`MAX_REQUEST_DEPTH`]).
pub fn scan_request(request: Option<&Value>, own_account: Option<&str>) -> RequestFlags {
    let mut f = RequestFlags::default();
    let Some(root) = request else {
        return f;
    };
    let mut budget = MAX_REQUEST_NODES;
    scan_node(None, root, 0, own_account, &mut budget, &mut f);
    f
}

fn scan_node(
    key: Option<&str>,
    v: &Value,
    depth: usize,
    own_account: Option<&str>,
    budget: &mut usize,
    f: &mut RequestFlags,
) {
    if *budget == 0 {
        return;
    }
    *budget -= 1;
    let key_is = |list: &[&str]| key.is_some_and(|k| list.iter().any(|x| contains_ci(k, x)));
    match v {
        Value::Object(m) if depth < MAX_REQUEST_DEPTH => {
            for (k, v) in m {
                scan_node(Some(k), v, depth + 1, own_account, budget, f);
            }
        }
        Value::Array(a) if depth < MAX_REQUEST_DEPTH => {
            for v in a {
                scan_node(key, v, depth + 1, own_account, budget, f);
            }
        }
        Value::Bool(b) => {
            if *b && key_is(&["publiclyaccessible", "publicaccess"]) {
                f.public = true;
            }
            if !*b && key_is(PROTECTION_KEYS) {
                f.disables = true;
            }
        }
        Value::Number(n) => {
            if n.as_u64() == Some(0) && key_is(&["backupretentionperiod"]) {
                f.disables = true;
            }
            if let Some(x) = n
                .as_u64()
                .filter(|x| (100_000_000_000..1_000_000_000_000).contains(x))
            {
                let mut buf = [0u8; 12];
                let mut y = x;
                for slot in buf.iter_mut().rev() {
                    *slot = b'0' + (y % 10) as u8;
                    y /= 10;
                }
                if own_account.is_some_and(|a| a.as_bytes() != buf) {
                    f.foreign_account = true;
                }
            }
        }
        Value::String(s) => {
            let t = s.trim();
            if eq_any(
                t,
                &[
                    "0.0.0.0/0",
                    "::/0",
                    "AllUsers",
                    "PUBLIC",
                    "PUBLIC_READ",
                    "public-read",
                    "public-read-write",
                    "AuthenticatedUsers",
                ],
            ) || (t == "*" && key_is(&["principal", "aws"]))
                || (eq_any(t, &["all"])
                    && key_is(&[
                        "group",
                        "userids",
                        "launchpermission",
                        "attributevalues",
                        "valuestoadd",
                    ]))
                || contains_ci(t, "acs.amazonaws.com/groups/global/AllUsers")
                || contains_ci(t, "\"Principal\":\"*\"")
                || contains_ci(t, "\"AWS\":\"*\"")
            {
                f.public = true;
            }
            if eq_any(t, &["Suspended", "Disabled"])
                || (eq_any(t, &["false", "off"]) && key_is(PROTECTION_KEYS))
            {
                f.disables = true;
            }
            if contains_ci(t, "AdministratorAccess")
                || (key_is(&["action"]) && eq_any(t, &["*", "*:*", "iam:*"]))
                || contains_ci(t, "\"Action\":\"*\"")
            {
                f.admin = true;
            }
            // Account ids: a bare 12-digit value or inside an ARN (`:123456789012:`).
            let foreign = |id: &str| is_account_id(id) && own_account.is_some_and(|a| a != id);
            if foreign(t) || t.split(':').any(foreign) {
                f.foreign_account = true;
            }
        }
        _ => {}
    }
}

/// The stateful cloud feature extractor.
#[derive(Debug, Clone, Default)]
pub struct CloudFeatures {
    caps: Caps,
    principals: HashMap<u64, Principal>,
    global: HashMap<u64, u32>,
    tick: u64,
}

fn flag(b: bool) -> f32 {
    if b {
        1.0
    } else {
        0.0
    }
}

fn ln1p(v: f64) -> f32 {
    v.max(0.0).ln_1p() as f32
}

impl CloudFeatures {
    /// An extractor with the default [`Caps`].
    pub fn new() -> Self {
        Self::with_caps(Caps::default())
    }

    /// An extractor with the given bounds.
    pub fn with_caps(caps: Caps) -> Self {
        CloudFeatures {
            caps,
            ..CloudFeatures::default()
        }
    }

    /// Forgets all history.
    pub fn reset(&mut self) {
        self.principals.clear();
        self.global.clear();
    }

    /// Principals currently tracked.
    pub fn n_principals(&self) -> usize {
        self.principals.len()
    }

    /// Approximate bytes of history held.
    pub fn state_bytes(&self) -> usize {
        std::mem::size_of::<Self>()
            + self
                .principals
                .values()
                .map(|p| p.bytes() + std::mem::size_of::<u64>() + 1)
                .sum::<usize>()
            + self.global.capacity() * (std::mem::size_of::<(u64, u32)>() + 1)
    }

    /// Observes a CloudTrail event and writes its features (computed against the history
    /// *before* it) into `out` (cleared first). Returns `false`, leaving state and `out`
    /// untouched, for events that are not CloudTrail calls.
    pub fn extract(&mut self, event: &Value, out: &mut Vec<f32>) -> bool {
        match CallView::of(event) {
            Some(v) => {
                self.extract_view(&v, out);
                true
            }
            None => false,
        }
    }

    /// As [`CloudFeatures::extract`], from a view.
    pub fn extract_view(&mut self, v: &CallView<'_>, out: &mut Vec<f32>) {
        out.clear();
        out.resize(N_FEATURES, f32::NAN);
        let mut set = |f: F, x: f32| {
            if let Some(slot) = out.get_mut(f as usize) {
                *slot = x;
            }
        };
        let op = v.operation;
        let svc = v.service;
        // Actor.
        let t = v.actor_type;
        let root = t.eq_ignore_ascii_case("root");
        let iam_user = t.eq_ignore_ascii_case("iamuser");
        let assumed = t.eq_ignore_ascii_case("assumedrole");
        let service = t.eq_ignore_ascii_case("awsservice");
        set(F::ActorRoot, flag(root));
        set(F::ActorIamUser, flag(iam_user));
        set(F::ActorAssumedRole, flag(assumed));
        set(F::ActorService, flag(service));
        set(
            F::ActorOther,
            flag(!(root || iam_user || assumed || service)),
        );
        if let Some(m) = v.is_mfa {
            set(F::SessionMfa, flag(m));
        }
        let instance = is_instance_session(v.actor_uid);
        set(F::InstanceSession, flag(instance));
        // Source.
        let private = v.src_ip.is_some_and(is_private_ip);
        set(
            F::SrcService,
            flag(v.src_ip.is_none() && v.src_svc.is_some()),
        );
        set(F::SrcPrivateIp, flag(private));
        set(F::SrcPublicIp, flag(v.src_ip.is_some() && !private));
        let fam = v.user_agent.map_or(usize::MAX, ua_family);
        for f in [
            F::UaCli,
            F::UaSdk,
            F::UaConsole,
            F::UaInternal,
            F::UaOffensive,
        ] {
            set(f, flag(fam == f as usize));
        }
        set(F::UaMissing, flag(v.user_agent.is_none()));
        // API.
        let read = is_read(op);
        let recon = is_recon(op);
        let data = is_data_read(op);
        let iam = is_iam_change(op, svc);
        let cred = is_cred_create(op);
        let defense = is_defense_change(op, svc);
        let mfa = is_mfa_change(op);
        let exposure = is_exposure(op);
        set(F::IsRead, flag(read));
        set(F::IsRecon, flag(recon));
        set(F::IsWhoami, flag(is_whoami(op)));
        set(F::IsDataRead, flag(data));
        set(F::IsSecretRead, flag(is_secret_read(op)));
        set(F::IsIamChange, flag(iam));
        set(F::IsCredCreate, flag(cred));
        set(F::IsDefenseChange, flag(defense));
        set(F::IsMfaChange, flag(mfa));
        set(F::IsExposure, flag(exposure));
        set(
            F::IsDestructive,
            flag(
                !(iam || defense || mfa || exposure)
                    && starts_any(op, &["Delete", "Terminate", "Disable", "Remove", "Purge"]),
            ),
        );
        set(F::IsComputeChange, flag(is_compute_change(op)));
        set(F::IsAssumeRole, flag(is_assume_role(op)));
        set(F::IsOrgChange, flag(is_org_change(svc, op)));
        set(F::IsWrite, flag(!read));
        set(
            F::SvcIam,
            flag(svc.starts_with("iam.") || svc.starts_with("sts.")),
        );
        set(F::SvcS3, flag(svc.starts_with("s3.")));
        set(F::SvcEc2, flag(svc.starts_with("ec2.")));
        set(
            F::SvcLogging,
            flag(starts_any(
                svc,
                &[
                    "cloudtrail.",
                    "config.",
                    "guardduty.",
                    "logs.",
                    "securityhub.",
                    "monitoring.",
                ],
            )),
        );
        set(
            F::SvcSecrets,
            flag(starts_any(svc, &["kms.", "secretsmanager.", "ssm."])),
        );
        set(F::SvcSignin, flag(svc.starts_with("signin.")));
        let login = op == "ConsoleLogin";
        set(F::ConsoleLogin, flag(login));
        set(F::ConsoleLoginNoMfa, flag(login && v.is_mfa == Some(false)));
        let login_failed = login
            && (v.failed
                || v.login_result
                    .is_some_and(|r| r.eq_ignore_ascii_case("failure")));
        set(F::ConsoleLoginFailed, flag(login_failed));
        let failed = v.failed || login_failed;
        set(F::Failed, flag(failed));
        let req = scan_request(v.request, v.account);
        set(F::ReqPublic, flag(req.public));
        set(F::ReqDisable, flag(req.disables));
        set(F::ReqAdmin, flag(req.admin));
        set(F::ReqForeignAccount, flag(req.foreign_account));
        set(F::AccessDenied, flag(v.error.is_some_and(is_denied)));

        // Global history.
        let api_key = hash(&[svc, op]);
        let g = self.global.get(&api_key).copied().unwrap_or(0);
        set(F::ApiGlobalCount, ln1p(f64::from(g)));
        if self.global.len() >= self.caps.global_apis && !self.global.contains_key(&api_key) {
            self.global.retain(|_, c| *c > 1);
            if self.global.len() >= self.caps.global_apis {
                self.global.clear();
            }
        }
        let c = self.global.entry(api_key).or_insert(0);
        *c = c.saturating_add(1);

        // Principal history.
        self.tick += 1;
        let tick = self.tick;
        let key = v.principal_key();
        if !self.principals.contains_key(&key) && self.principals.len() >= self.caps.principals {
            self.evict();
        }
        let caps = self.caps;
        let p = self.principals.entry(key).or_default();
        let t_ms = v.time_ms;
        let known = p.n > 0;
        set(F::PrincipalEvents, ln1p(f64::from(p.n)));
        let api_n = p.apis.get(&api_key).copied().unwrap_or(0);
        let api_new = api_n == 0;
        if known {
            set(
                F::PrincipalAge,
                ln1p(t_ms.saturating_sub(p.first_ms) as f64 / 1000.0),
            );
            set(
                F::SinceLast,
                ln1p(t_ms.saturating_sub(p.last_ms) as f64 / 1000.0),
            );
            set(F::ApiFirstSeen, flag(api_new));
            let n = p.n.min(32);
            let mask = if n >= 32 { u32::MAX } else { (1u32 << n) - 1 };
            set(
                F::FailRate,
                (p.outcomes & mask).count_ones() as f32 / n as f32,
            );
        }
        set(F::ApiCount, ln1p(f64::from(api_n)));
        set(F::DistinctApis, ln1p(p.apis.len() as f64));
        set(F::DistinctRegions, p.regions.items.len() as f32);
        set(F::DistinctIps, p.ips.items.len() as f32);
        let svc_new = p.services.insert(hash(&[svc]), caps.apis);
        if known {
            set(F::ServiceFirstSeen, flag(svc_new));
        }
        let mut new_of = |ring: &mut Ring, val: Option<&str>, f: F| -> Option<bool> {
            let val = val?;
            let new = ring.insert(hash(&[val]), caps.values);
            if known {
                set(f, flag(new));
            }
            Some(new)
        };
        new_of(&mut p.regions, v.region, F::RegionNew);
        new_of(&mut p.uas, v.user_agent, F::UaNew);
        let ip_new = new_of(&mut p.ips, v.src_ip, F::IpNew);
        set(
            F::InstanceNewIp,
            flag(instance && known && ip_new == Some(true) && !private),
        );
        set(F::FailBurst, p.fail.add(t_ms, 0.0));
        if failed {
            p.fail.add(t_ms, 1.0);
        }
        set(F::ReconBurst, p.recon.add(t_ms, flag(recon)));
        set(F::DataBurst, p.data.add(t_ms, flag(data)));
        set(
            F::IamBurst,
            p.iam.add(t_ms, flag(iam || cred || defense || mfa)),
        );
        set(F::NewApiBurst, p.new_api.add(t_ms, flag(api_new)));
        // Update the principal.
        if !known {
            p.first_ms = t_ms;
        }
        p.last_ms = p.last_ms.max(t_ms);
        p.n = p.n.saturating_add(1);
        p.tick = tick;
        p.outcomes = (p.outcomes << 1) | u32::from(failed);
        if api_new && p.apis.len() >= caps.apis {
            p.apis.retain(|_, c| *c > 1);
            if p.apis.len() >= caps.apis {
                p.apis.clear();
            }
        }
        let c = p.apis.entry(api_key).or_insert(0);
        *c = c.saturating_add(1);
    }

    /// Evicts the least recently seen eighth of the principals.
    fn evict(&mut self) {
        let n = (self.principals.len() / 8).max(1);
        let mut ticks: Vec<u64> = self.principals.values().map(|p| p.tick).collect();
        ticks.sort_unstable();
        let cut = ticks.get(n.saturating_sub(1)).copied().unwrap_or(0);
        self.principals.retain(|_, p| p.tick > cut);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_matches_the_index_enum() {
        assert_eq!(cloud_schema().len(), N_FEATURES);
        assert_eq!(DEFS.len(), N_FEATURES);
        let mut names: Vec<&str> = DEFS.iter().map(|d| d.0).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), N_FEATURES, "duplicate feature names");
    }

    #[test]
    fn decay_halves_after_one_half_life() {
        let mut d = Decay::default();
        d.add(0, 1.0);
        let v = d.at(BURST_HALF_LIFE_MS as i64);
        assert!((v - 0.5).abs() < 1e-4, "{v}");
    }

    #[test]
    fn request_flags() {
        let own = Some("111122223333");
        let f = |v: serde_json::Value| scan_request(Some(&v), own);
        assert!(f(serde_json::json!({"publiclyAccessible": true})).public);
        assert!(!f(serde_json::json!({"publiclyAccessible": false})).public);
        assert!(f(serde_json::json!({"ipPermissions": {"items": [{"ipRanges": {"items": [{"cidrIp": "0.0.0.0/0"}]}}]}})).public);
        assert!(f(serde_json::json!({"deletionProtection": false})).disables);
        assert!(
            f(serde_json::json!({"VersioningConfiguration": {"Status": "Suspended"}})).disables
        );
        assert!(
            f(serde_json::json!({"policyArn": "arn:aws:iam::aws:policy/AdministratorAccess"}))
                .admin
        );
        assert!(f(serde_json::json!({"launchPermission": {"add": {"items": [{"userId": "999988887777"}]}}})).foreign_account);
        assert!(!f(serde_json::json!({"userId": "111122223333"})).foreign_account);
        assert_eq!(f(serde_json::json!({"a": 1})), RequestFlags::default());
        // Deep nesting is cut off, not a stack overflow.
        let mut deep = serde_json::json!("0.0.0.0/0");
        for _ in 0..100 {
            deep = serde_json::json!({"k": deep});
        }
        assert!(!f(deep).public);
    }

    #[test]
    fn ring_is_bounded() {
        let mut r = Ring::default();
        for i in 0..100 {
            assert!(r.insert(i, 4));
        }
        assert_eq!(r.items.len(), 4);
        assert!(!r.insert(99, 4));
    }
}
