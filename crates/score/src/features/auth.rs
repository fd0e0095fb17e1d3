//! Authentication features from `EmailRecord::auth` (SPF, DKIM, DMARC as parsed by ingest).
//!
//! "Not recorded" is NaN, so a model can tell "no verdict" from "fail". Note: in the bundled
//! corpus these verdicts are written by the collecting mailbox, not the sender, so training
//! neutralises this group (see `shrike::training::neutralize`); at serving time they come from the
//! receiving MTA and are meaningful.

use super::put;
use shrike_types::{AuthResults, AuthVerdict};

super::feature_group! {
    "auth" {
        Spf => "auth_spf", "SPF verdict: 1 pass, 0.5 neutral/none/error/other, 0.25 softfail, 0 fail; NaN when not recorded";
        Dkim => "auth_dkim", "DKIM verdict (best signature): 1 pass, 0.5 neutral/none/error/other, 0.25 softfail, 0 fail; NaN when not recorded";
        Dmarc => "auth_dmarc", "DMARC verdict: 1 pass, 0.5 neutral/none/error/other, 0.25 softfail, 0 fail; NaN when not recorded";
        AnyFail => "auth_any_fail", "1 when any recorded SPF/DKIM/DMARC verdict is fail or softfail; NaN when none is recorded";
        AllPass => "auth_all_pass", "1 when every recorded verdict is pass; NaN when none is recorded";
    }
}

fn score(v: Option<AuthVerdict>) -> f32 {
    match v {
        None => f32::NAN,
        Some(AuthVerdict::Pass) => 1.0,
        Some(AuthVerdict::Fail) => 0.0,
        Some(AuthVerdict::SoftFail) => 0.25,
        Some(_) => 0.5,
    }
}

/// Computes the auth group into `out` (length `DEFS.len()`).
pub(super) fn extract(a: &AuthResults, out: &mut [f32]) {
    put(out, F::Spf, score(a.spf));
    put(out, F::Dkim, score(a.dkim));
    put(out, F::Dmarc, score(a.dmarc));
    let recorded = [a.spf, a.dkim, a.dmarc];
    let recorded = recorded.iter().flatten();
    if recorded.clone().next().is_none() {
        put(out, F::AnyFail, f32::NAN);
        put(out, F::AllPass, f32::NAN);
    } else {
        let fail = recorded
            .clone()
            .any(|v| matches!(v, AuthVerdict::Fail | AuthVerdict::SoftFail));
        let pass = recorded.clone().all(|v| *v == AuthVerdict::Pass);
        put(out, F::AnyFail, f32::from(u8::from(fail)));
        put(out, F::AllPass, f32::from(u8::from(pass)));
    }
}
