//! SPF / DKIM / DMARC verdicts from `Authentication-Results` (RFC 8601) and `Received-SPF`.
//!
//! Only the top-most `Authentication-Results` counts: it is the one the receiving MTA added;
//! lower ones come from earlier hops or from the sender and can be forged. For DKIM any `pass`
//! among several signatures wins.

use shrike_types::{AuthResults, AuthVerdict};

/// Maps a result keyword (`pass`, `softfail`, `permerror`, ...) to a verdict.
pub(crate) fn verdict(word: &str) -> AuthVerdict {
    let w = word.trim().trim_end_matches([';', ',', '.']);
    match w.to_ascii_lowercase().as_str() {
        "pass" => AuthVerdict::Pass,
        "fail" | "hardfail" => AuthVerdict::Fail,
        "softfail" => AuthVerdict::SoftFail,
        "neutral" => AuthVerdict::Neutral,
        "none" => AuthVerdict::None,
        "temperror" | "permerror" | "error" => AuthVerdict::Error,
        _ => AuthVerdict::Other,
    }
}

fn strip_comments(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut depth = 0u32;
    let mut in_quote = false;
    for c in s.chars() {
        match c {
            '"' if depth == 0 => {
                in_quote = !in_quote;
                out.push(c);
            }
            '(' if !in_quote => depth = depth.saturating_add(1),
            ')' if !in_quote && depth > 0 => depth -= 1,
            _ if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out
}

/// Fills the unset fields of `auth` from one `Authentication-Results` value
/// (`mx.example.com; spf=pass smtp.mailfrom=...; dkim=fail ...; dmarc=none ...`).
pub(crate) fn apply_authentication_results(value: &str, auth: &mut AuthResults) {
    let clean = strip_comments(value);
    let mut dkim: Option<AuthVerdict> = None;
    let mut spf: Option<AuthVerdict> = None;
    let mut dmarc: Option<AuthVerdict> = None;
    for segment in clean.split(';') {
        // The first segment is normally the authserv-id; a header without one starts with a
        // method, which the `=` test below picks up.
        let segment = segment.trim();
        let Some((method, rest)) = segment.split_once('=') else {
            continue;
        };
        let method = method.trim();
        // `dkim/1` carries a version.
        let method = method.split('/').next().unwrap_or(method).trim();
        if method.contains(char::is_whitespace) {
            continue;
        }
        let word = rest.split_whitespace().next().unwrap_or("");
        let v = verdict(word);
        if method.eq_ignore_ascii_case("spf") {
            spf.get_or_insert(v);
        } else if method.eq_ignore_ascii_case("dmarc") {
            dmarc.get_or_insert(v);
        } else if method.eq_ignore_ascii_case("dkim") {
            dkim = match dkim {
                Some(AuthVerdict::Pass) => Some(AuthVerdict::Pass),
                Some(_) if v == AuthVerdict::Pass => Some(v),
                Some(prev) => Some(prev),
                None => Some(v),
            };
        }
    }
    if auth.spf.is_none() {
        auth.spf = spf;
    }
    if auth.dkim.is_none() {
        auth.dkim = dkim;
    }
    if auth.dmarc.is_none() {
        auth.dmarc = dmarc;
    }
}

/// Fills `auth.spf` from a `Received-SPF` value (`Pass (sender SPF authorized) ...`) if unset.
pub(crate) fn apply_received_spf(value: &str, auth: &mut AuthResults) {
    if auth.spf.is_none() {
        if let Some(word) = value.split_whitespace().next() {
            auth.spf = Some(verdict(word));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_methods_and_dkim_any_pass() {
        let mut a = AuthResults::default();
        apply_authentication_results(
            "mx.google.com; dkim=fail (bad sig) header.i=@x.com; dkim=pass header.i=@y.com; \
             spf=softfail (google.com: domain of transitioning x@y) smtp.mailfrom=x@y; \
             dmarc=fail (p=REJECT sp=REJECT dis=NONE) header.from=paypal.com",
            &mut a,
        );
        assert_eq!(a.spf, Some(AuthVerdict::SoftFail));
        assert_eq!(a.dkim, Some(AuthVerdict::Pass));
        assert_eq!(a.dmarc, Some(AuthVerdict::Fail));
    }

    #[test]
    fn no_authserv_id_and_versions() {
        let mut a = AuthResults::default();
        apply_authentication_results("spf=pass smtp.mailfrom=a@b; dkim/1=permerror", &mut a);
        assert_eq!(a.spf, Some(AuthVerdict::Pass));
        assert_eq!(a.dkim, Some(AuthVerdict::Error));
        assert_eq!(a.dmarc, None);
    }

    #[test]
    fn received_spf_only_fills_gaps() {
        let mut a = AuthResults::default();
        apply_received_spf("Pass (sender SPF authorized) identity=mailfrom", &mut a);
        assert_eq!(a.spf, Some(AuthVerdict::Pass));
        apply_received_spf("Fail", &mut a);
        assert_eq!(a.spf, Some(AuthVerdict::Pass));
        assert_eq!(verdict("bestguesspass"), AuthVerdict::Other);
        assert_eq!(verdict("HardFail"), AuthVerdict::Fail);
    }
}
