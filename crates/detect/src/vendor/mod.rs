//! Detections a security product already made, as [`Hit`]s: Suricata alerts ([`suricata`]) and
//! GuardDuty findings ([`guardduty`]), their categories mapped to ATT&CK where the mapping is
//! sound (unmapped categories carry no technique rather than a guessed one).

use serde_json::Value;

use crate::alert::Hit;

pub mod guardduty;
pub mod suricata;

/// The vendor hits of one OCSF event (none for events that are not a product's detection).
pub fn hits(event: &Value, out: &mut Vec<Hit>) {
    suricata::hits(event, out);
    guardduty::hits(event, out);
}
