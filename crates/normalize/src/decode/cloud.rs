//! CloudTrail records: kept as AWS writes them, except that all-lowercase top-level keys (some
//! Panther test events, Athena/Glue exports: `eventname`, `eventsource`) are renamed to
//! CloudTrail's camelCase when the camelCase key is absent. GuardDuty findings need nothing.

use serde_json::{Map, Value};

/// CloudTrail's top-level record fields.
const CLOUDTRAIL_KEYS: &[&str] = &[
    "eventVersion",
    "userIdentity",
    "eventTime",
    "eventSource",
    "eventName",
    "awsRegion",
    "sourceIPAddress",
    "userAgent",
    "errorCode",
    "errorMessage",
    "requestParameters",
    "responseElements",
    "additionalEventData",
    "requestID",
    "eventID",
    "readOnly",
    "resources",
    "eventType",
    "apiVersion",
    "managementEvent",
    "recipientAccountId",
    "serviceEventDetails",
    "sharedEventID",
    "vpcEndpointId",
    "vpcEndpointAccountId",
    "eventCategory",
    "tlsDetails",
    "sessionCredentialFromConsole",
    "edgeDeviceDetails",
    "insightDetails",
];

/// Renames lowercase CloudTrail keys to their canonical spelling.
pub(crate) fn canonicalize_cloudtrail(obj: &mut Map<String, Value>) {
    if obj.contains_key("eventName") || !obj.contains_key("eventname") {
        return;
    }
    for key in CLOUDTRAIL_KEYS {
        let lower = key.to_ascii_lowercase();
        if lower == *key || obj.contains_key(*key) {
            continue;
        }
        if let Some(v) = obj.remove(&lower) {
            obj.insert((*key).to_owned(), v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn renames_lowercase_keys() {
        let mut m = match json!({"eventname": "GetRecords", "eventsource": "dynamodb.amazonaws.com", "awsregion": "eu-west-1", "p_log_type": "AWS.CloudTrail"})
        {
            Value::Object(m) => m,
            _ => Map::new(),
        };
        canonicalize_cloudtrail(&mut m);
        assert_eq!(m.get("eventName"), Some(&json!("GetRecords")));
        assert_eq!(m.get("eventSource"), Some(&json!("dynamodb.amazonaws.com")));
        assert_eq!(m.get("awsRegion"), Some(&json!("eu-west-1")));
        assert!(!m.contains_key("eventname"));
    }
}
