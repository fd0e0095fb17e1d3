//! Sender features: who the message claims to be from, and whether the sender-side headers
//! agree with each other.
//!
//! Reads only `From` (display name and address), `Reply-To`, `Return-Path`, `Message-ID` and the
//! caller's [`FeatureContext`]. Domains are compared by registrable domain.
//!
//! Mailing lists rewrite sender headers for every subscriber, so on list mail these headers say
//! "this came through a list" (a collection artifact in the corpus, where most ham is list mail),
//! not anything about the sender. Undone here:
//! - a DMARC "via" rewrite (`"Jane via USRP-users" <usrp-users@lists.ettus.com>`, author moved
//!   to Reply-To) is reversed: the author's address is the From, the display name `Jane`;
//! - a Reply-To that is one of the recipients (`Reply-To: <the list>`) is ignored;
//! - a `Return-Path` that is a list or VERP bounce address (local part with `=`, `bounce`,
//!   `-return-`, `owner-`, Mailman 2.0 `-admin`, Google Groups `+bnc`) is unknown (NaN).

use super::clean::Masks;
use super::domain::{brands, has_risky_tld, is_freemail, registrable, Scratch};
use super::{put, FeatureContext};
use shrike_types::{EmailRecord, Mailbox};

super::feature_group! {
    "sender" {
        DisplayBrand => "sender_display_brand", "1 when the From display name mentions a well-known brand (PayPal, Microsoft, DHL, ...) after homoglyph folding";
        DisplayBrandMismatch => "sender_display_brand_mismatch", "1 when the display name mentions a brand and the From domain is not one of that brand's domains";
        DisplayRole => "sender_display_role", "1 when the display name reads like a role account (security, support, admin, team, billing, webmail, ...)";
        DisplayAddress => "sender_display_has_address", "1 when the display name contains an email address";
        DisplayAddressMismatch => "sender_display_address_mismatch", "1 when the display name contains an email address other than the real From address";
        FromMissing => "sender_from_missing", "1 when there is no usable From address (no From, or no domain)";
        FromLookalike => "sender_from_lookalike", "1 when the From domain imitates a brand domain (homoglyphs, punycode, typos, brand + words) without being it";
        ReplyToLookalike => "sender_reply_to_lookalike", "1 when the Reply-To domain imitates a brand domain without being it";
        Punycode => "sender_punycode", "1 when the From or Reply-To domain has a punycode (xn--) label";
        NonAsciiDomain => "sender_non_ascii_domain", "1 when the From or Reply-To domain has non-ASCII characters";
        Freemail => "sender_freemail", "1 when the From domain is a free-mail provider (gmail, yahoo, outlook, mail.ru, qq, ...)";
        FreemailBrandDisplay => "sender_freemail_brand_display", "1 when a free-mail From has a brand or role-account display name";
        FromRiskyTld => "sender_from_risky_tld", "1 when the From domain is under a frequently abused TLD";
        ReplyToDiffers => "sender_reply_to_differs", "1 when Reply-To is on another registrable domain than From (0 without Reply-To); NaN without a From domain";
        ReplyToFreemail => "sender_reply_to_freemail", "1 when Reply-To is a free-mail address on another domain than From";
        ReturnPathDiffers => "sender_return_path_differs", "1 when the Return-Path domain differs from the From domain; NaN when absent, a list/VERP bounce address, or no From domain";
        MessageIdDiffers => "sender_message_id_differs", "1 when the Message-ID domain differs from the From domain; NaN when either is missing";
        DomainAgeDays => "sender_domain_age_days", "Age of the From domain in days at message time (RDAP, supplied by the caller); NaN when unknown";
        FromDomainLabels => "sender_from_domain_labels", "Labels in the From domain; NaN without one";
        FromDomainDigits => "sender_from_domain_digits", "Digits in the From domain; NaN without one";
        FromLocalDigits => "sender_from_local_digits", "Digits in the From local part; NaN without a From address";
    }
}

/// Reusable buffers; `from_reg` is read by the URL group afterwards.
#[derive(Debug, Default)]
pub(super) struct SenderScratch {
    from: String,
    reply: String,
    other: String,
    /// The From registrable domain (lower case), or empty.
    pub(super) from_reg: String,
    sk: Scratch,
}

/// Puts the lower-cased domain of `addr` into `dst`; false when there is none.
fn domain_into(addr: &str, dst: &mut String) -> bool {
    dst.clear();
    let Some((_, d)) = addr.rsplit_once('@') else {
        return false;
    };
    let d = d
        .trim()
        .trim_end_matches(['>', '.', ' ', '"', '\'', ')', ']'])
        .trim();
    if d.is_empty() {
        return false;
    }
    dst.push_str(d);
    dst.make_ascii_lowercase();
    true
}

fn flag(b: bool) -> f32 {
    f32::from(u8::from(b))
}

/// Finds an email address written inside a display name.
fn address_in(name: &str) -> Option<&str> {
    name.split(|c: char| c.is_whitespace() || "<>()\"'[],;:".contains(c))
        .find(|t| {
            t.rsplit_once('@')
                .is_some_and(|(l, d)| !l.is_empty() && d.contains('.') && !d.ends_with('.'))
        })
}

/// Whether a Return-Path local part is a list/VERP bounce address.
fn is_bounce_local(local: &str) -> bool {
    let l = local.to_ascii_lowercase();
    local.is_empty()
        || l.contains('=')
        || l.contains("bounce")
        || l.contains("-return-")
        || l.starts_with("owner-")
        || l.ends_with("-owner")
        || l.contains("+bnc")
        || l.ends_with("-admin")
        || l.ends_with("-request")
}

/// A list's DMARC "via" rewrite of From: the display name is `Author via List` and the address
/// is the list's own (`list@...`, local part equal to `List` ignoring case and punctuation).
/// Returns the author's display name.
fn list_rewrite<'a>(name: &'a str, addr: &str) -> Option<&'a str> {
    let pos = name
        .as_bytes()
        .windows(5)
        .position(|w| w.eq_ignore_ascii_case(b" via "))?;
    let author = name.get(..pos)?.trim().trim_matches(['\'', '"']).trim();
    let list = name.get(pos + 5..)?.trim().trim_matches(['\'', '"']).trim();
    let local = addr.trim_matches(['<', '>']).rsplit_once('@')?.0;
    let norm = |s: &'a str| {
        s.chars()
            .filter(char::is_ascii_alphanumeric)
            .map(|c| c.to_ascii_lowercase())
    };
    (!list.is_empty()
        && norm(list).eq(local
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .map(|c| c.to_ascii_lowercase())))
    .then_some(author)
}

/// Computes the sender group into `out` (length `DEFS.len()`, zero-filled).
pub(super) fn extract(
    rec: &EmailRecord,
    ctx: &FeatureContext,
    masks: &Masks,
    s: &mut SenderScratch,
    out: &mut [f32],
) {
    let nan = f32::NAN;
    let bi = brands();
    let raw_addr = rec.from.as_ref().map_or("", |m| m.address.trim());
    let raw_name = rec
        .from
        .as_ref()
        .and_then(|m| m.name.as_deref())
        .map_or("", str::trim);
    // A mailing list's From rewrite ("Jane via USRP-users" <usrp-users@lists...>) moves the
    // author to Reply-To; a list's Reply-To pointing back at the list is a recipient address.
    // Both are the list's doing: undo them.
    let not_recipient = |m: &&Mailbox| m.address.contains('@') && !masks.is_recipient(&m.address);
    let (name, from_addr, author_in_reply) = match list_rewrite(raw_name, raw_addr) {
        Some(original) => match rec.reply_to.iter().find(not_recipient) {
            Some(author) => (original, author.address.trim(), true),
            None => (original, raw_addr, false),
        },
        None => (raw_name, raw_addr, false),
    };
    let from_addr = from_addr.trim_matches(['<', '>']);
    let has_from = domain_into(from_addr, &mut s.from);
    s.from_reg.clear();
    if has_from {
        s.from_reg.push_str(registrable(&s.from));
    }
    let from_reg = s.from_reg.as_str();
    put(out, F::FromMissing, flag(!has_from));

    let (set, role) = if name.is_empty() {
        (0, false)
    } else {
        bi.display_brands(name, &mut s.sk)
    };
    put(out, F::DisplayBrand, flag(set != 0));
    let mismatch = (0..64).any(|b| set & (1u64 << b) != 0 && (!has_from || !bi.owns(b, from_reg)));
    put(out, F::DisplayBrandMismatch, flag(mismatch));
    put(out, F::DisplayRole, flag(role));
    let shown = address_in(name);
    put(out, F::DisplayAddress, flag(shown.is_some()));
    put(
        out,
        F::DisplayAddressMismatch,
        flag(shown.is_some_and(|a| !a.eq_ignore_ascii_case(from_addr))),
    );

    let free = has_from && is_freemail(from_reg);
    put(out, F::Freemail, flag(free));
    put(
        out,
        F::FreemailBrandDisplay,
        flag(free && (set != 0 || role)),
    );
    put(
        out,
        F::FromLookalike,
        flag(has_from && bi.is_lookalike(from_reg, &mut s.sk)),
    );
    put(
        out,
        F::FromRiskyTld,
        flag(has_from && has_risky_tld(&s.from)),
    );

    let has_reply = !author_in_reply
        && rec
            .reply_to
            .iter()
            .filter(not_recipient)
            .any(|m| domain_into(&m.address, &mut s.reply));
    if !has_reply {
        s.reply.clear();
    }
    let reply_reg = if has_reply { registrable(&s.reply) } else { "" };
    put(
        out,
        F::ReplyToLookalike,
        flag(has_reply && bi.is_lookalike(reply_reg, &mut s.sk)),
    );
    let differs = has_reply && reply_reg != from_reg;
    put(
        out,
        F::ReplyToDiffers,
        if has_from { flag(differs) } else { nan },
    );
    put(
        out,
        F::ReplyToFreemail,
        flag(differs && is_freemail(reply_reg)),
    );
    let puny = |d: &str| d.split('.').any(|l| l.starts_with("xn--"));
    put(
        out,
        F::Punycode,
        flag((has_from && puny(&s.from)) || (has_reply && puny(&s.reply))),
    );
    put(
        out,
        F::NonAsciiDomain,
        flag(!s.from.is_ascii() || !s.reply.is_ascii()),
    );

    let rp = rec
        .return_path
        .as_deref()
        .map_or("", |r| r.trim().trim_matches(['<', '>']));
    let rp_local = rp.rsplit_once('@').map_or("", |(l, _)| l);
    let rp_value = if !has_from || is_bounce_local(rp_local) || !domain_into(rp, &mut s.other) {
        nan
    } else {
        flag(registrable(&s.other) != from_reg)
    };
    put(out, F::ReturnPathDiffers, rp_value);
    let mid = rec.message_id.as_deref().unwrap_or("");
    let mid_value = if has_from && domain_into(mid, &mut s.other) {
        flag(registrable(&s.other) != from_reg)
    } else {
        nan
    };
    put(out, F::MessageIdDiffers, mid_value);

    put(
        out,
        F::DomainAgeDays,
        ctx.sender_domain_age_days
            .filter(|v| v.is_finite())
            .unwrap_or(nan),
    );
    if has_from {
        put(out, F::FromDomainLabels, s.from.split('.').count() as f32);
        put(
            out,
            F::FromDomainDigits,
            s.from.bytes().filter(u8::is_ascii_digit).count() as f32,
        );
    } else {
        put(out, F::FromDomainLabels, nan);
        put(out, F::FromDomainDigits, nan);
    }
    match from_addr.rsplit_once('@') {
        Some((local, _)) => put(
            out,
            F::FromLocalDigits,
            local.bytes().filter(u8::is_ascii_digit).count() as f32,
        ),
        None => put(out, F::FromLocalDigits, nan),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helpers() {
        assert_eq!(
            address_in("support@paypal.com via Service"),
            Some("support@paypal.com")
        );
        assert_eq!(address_in("\"Jane (jane@x.org)\""), Some("jane@x.org"));
        assert_eq!(address_in("Jane Doe"), None);
        assert!(is_bounce_local(
            "usrp-users-bounces+lists+usrp-users=lfdr.de"
        ));
        assert!(is_bounce_local(""));
        assert!(!is_bounce_local("service"));
        assert!(is_bounce_local("open-iscsi+bncBDX4"));
        assert_eq!(
            list_rewrite("Jane Doe via USRP-users", "usrp-users@lists.ettus.com"),
            Some("Jane Doe")
        );
        assert_eq!(
            list_rewrite("'Bob' via open-iscsi", "<open-iscsi@googlegroups.com>"),
            Some("Bob")
        );
        assert_eq!(list_rewrite("PayPal via Service", "svc@paypa1.com"), None);
        assert_eq!(list_rewrite("Jane Doe", "jane@x.org"), None);
        let mut d = String::new();
        assert!(domain_into("A@Mail.Example.COM.>", &mut d));
        assert_eq!(d, "mail.example.com");
        assert!(!domain_into("nobody", &mut d));
    }
}
