//! Content features (body text, HTML structure, subject) and the hashed n-gram group.
//!
//! The body text used is the cleaned `text/plain` part, or the visible text of the HTML part
//! when there is no text part or the text part is a stub (under a quarter of the HTML's visible
//! text). The subject loses list tags (`[USRP-users]`) before anything reads it.

use super::clean::{self, CleanStats, Cleaner, Kind, Masks};
use super::html::HtmlScan;
use super::put;
use super::text::{self, Ngrams, TextStats, CHAR_BUCKETS, WORD_BUCKETS};

super::feature_group! {
    "content" {
        HtmlOnly => "content_html_only", "1 when the message has an HTML part and no (non-empty) text part";
        WordCount => "content_word_count_log", "ln(1 + words) of the body text";
        Length => "content_length_log", "ln(1 + bytes) of the body text after normalisation (LF line endings, list footers cut, recipients masked)";
        Urgency => "content_urgency_density", "Urgency/threat phrases per 100 words (urgent, suspended, within 24 hours, unusual activity, ...); NaN without words";
        Credential => "content_credential_density", "Credential phrases per 100 words (password, verify your account, sign in, mailbox, ...); NaN without words";
        Financial => "content_financial_density", "Financial phrases per 100 words (invoice, wire transfer, gift card, bitcoin, refund, ...); NaN without words";
        Action => "content_action_density", "Calls to action per 100 words (click here, kindly, open the attachment, ...); NaN without words";
        Greeting => "content_generic_greeting", "1 when the text greets impersonally (dear customer, dear user, dear <recipient address>, ...)";
        Money => "content_money_amounts", "Money amounts in the body text ($25, € 100, 100 USD)";
        Upper => "content_uppercase_ratio", "Share of capitals among ASCII letters of the body text; NaN without letters";
        Exclaim => "content_exclaim_density", "! per 100 words of body text; NaN without words";
        ZeroWidth => "content_zero_width_chars", "Zero-width characters and soft hyphens in the bodies (keyword-splitting obfuscation)";
        HiddenShare => "content_hidden_text_share", "Share of the HTML's text characters that are hidden (display:none, tiny font, white on white, ...); NaN without HTML";
        HiddenElements => "content_hidden_elements", "HTML elements that hide their text";
        Script => "content_has_script", "1 when the HTML has a <script>";
        Frame => "content_has_iframe", "1 when the HTML has an <iframe>, <frame>, <object>, <embed> or <applet>";
        Form => "content_has_form", "1 when the HTML has a <form> or input fields";
        MetaRefresh => "content_meta_refresh", "1 when the HTML has a meta refresh (automatic redirect)";
        TextRatio => "content_html_text_ratio", "Visible text bytes / HTML bytes (low: markup-heavy or image-only); NaN without HTML";
        Images => "content_image_count", "<img> tags in the HTML";
        SubjectUrgency => "subject_urgency", "Urgency/threat phrases in the subject";
        SubjectLure => "subject_lure", "Credential, financial or call-to-action phrases in the subject";
        SubjectFakeReply => "subject_fake_reply", "1 when the subject starts with RE:/FW:/FWD:/AW:/SV:/... but the message has no In-Reply-To or References";
        SubjectUpper => "subject_uppercase_ratio", "Share of capitals among ASCII letters of the subject; NaN without letters";
        SubjectExclaim => "subject_exclaim_count", "! in the subject";
        SubjectLength => "subject_length", "Characters in the subject (list tags removed, recipients masked)";
        SubjectMissing => "subject_missing", "1 when there is no subject or it is blank";
    }
}

/// The cleaned bodies.
pub(super) struct Bodies<'a> {
    /// Cleaned text part (lower case); empty when absent.
    pub(super) text: &'a [u8],
    /// Its cleaning counts.
    pub(super) text_stats: CleanStats,
    /// The HTML scan, HTML length and cleaning counts, when there is an HTML part.
    pub(super) html: Option<(&'a HtmlScan, usize, CleanStats)>,
    /// The message says it is a reply (`In-Reply-To` / `References`).
    pub(super) threaded: bool,
}

/// Reusable buffers.
#[derive(Debug, Default)]
pub(super) struct ContentScratch {
    stripped: Vec<u8>,
    subject: Vec<u8>,
    ngrams: Ngrams,
}

impl ContentScratch {
    /// The cleaned subject of the last message (for tests).
    #[cfg(test)]
    pub(super) fn subject(&self) -> &[u8] {
        &self.subject
    }
}

fn flag(b: bool) -> f32 {
    f32::from(u8::from(b))
}

fn ratio(num: u32, den: u32) -> f32 {
    if den == 0 {
        f32::NAN
    } else {
        num as f32 / den as f32
    }
}

const REPLY_PREFIXES: &[&[u8]] = &[
    b"re", b"fw", b"fwd", b"aw", b"sv", b"vs", b"antw", b"wg", b"tr", b"rv", b"rif", b"res",
    b"enc", b"odp", b"r",
];

/// Whether a subject starts with a reply/forward prefix (`Re:`, `FWD :`, `RE[2]:`).
fn is_reply(subject: &[u8]) -> bool {
    let s = clean::trim_ascii(subject);
    let end = s
        .iter()
        .position(|b| !b.is_ascii_alphabetic())
        .unwrap_or(s.len());
    let word = s.get(..end).unwrap_or(&[]);
    let mut rest = s.get(end..).unwrap_or(&[]);
    if rest.first() == Some(&b'[') {
        let close = rest.iter().position(|&b| b == b']').unwrap_or(0);
        rest = rest.get(close + 1..).unwrap_or(&[]);
    }
    let rest = clean::trim_ascii(rest);
    REPLY_PREFIXES.iter().any(|p| p.eq_ignore_ascii_case(word)) && rest.first() == Some(&b':')
}

/// Computes the content group into `out` and the n-gram group into `ngram_out` (both
/// zero-filled, of `DEFS.len()` and [`ngram_len`] values).
pub(super) fn extract(
    subject: Option<&str>,
    b: &Bodies<'_>,
    masks: &Masks,
    cleaner: &mut Cleaner,
    s: &mut ContentScratch,
    out: &mut [f32],
    ngram_out: &mut [f32],
) {
    let ng = &mut s.ngrams;
    ng.reset();

    // Subject.
    let raw = subject.unwrap_or("");
    clean::strip_list_tags(raw.as_bytes(), &mut s.stripped);
    let stripped = std::str::from_utf8(&s.stripped).unwrap_or("");
    cleaner.clean(stripped, Kind::Short, masks, &mut s.subject);
    let mut sst = TextStats::default();
    text::scan(&s.subject, masks, &mut sst, ng);
    let sub_trim = clean::trim_ascii(&s.subject);
    put(out, F::SubjectMissing, flag(sub_trim.is_empty()));
    put(
        out,
        F::SubjectLength,
        sub_trim.iter().filter(|&&c| (c & 0xC0) != 0x80).count() as f32,
    );
    put(out, F::SubjectUrgency, sst.urgency as f32);
    put(
        out,
        F::SubjectLure,
        (sst.credential + sst.financial + sst.action) as f32,
    );
    put(out, F::SubjectExclaim, sst.exclaim as f32);
    put(out, F::SubjectUpper, ratio(sst.upper, sst.letters));
    put(
        out,
        F::SubjectFakeReply,
        flag(is_reply(sub_trim) && !b.threaded),
    );

    // Body text: the text part, or the HTML's visible text when the text part is missing or a stub.
    let text_len = clean::trim_ascii(b.text).len();
    let body = match b.html {
        Some((h, _, _)) if text_len * 4 < h.text.len() || text_len == 0 => h.text.as_slice(),
        _ => b.text,
    };
    let mut st = TextStats::default();
    text::scan(body, masks, &mut st, ng);
    let per100 = |x: u32| {
        if st.words == 0 {
            f32::NAN
        } else {
            100.0 * x as f32 / st.words as f32
        }
    };
    put(
        out,
        F::HtmlOnly,
        flag(text_len == 0 && b.html.is_some_and(|(h, _, _)| !h.text.is_empty())),
    );
    put(out, F::WordCount, (st.words as f32).ln_1p());
    put(
        out,
        F::Length,
        ((body.len() as i64 + st.len_delta).max(0) as f32).ln_1p(),
    );
    put(out, F::Urgency, per100(st.urgency));
    put(out, F::Credential, per100(st.credential));
    put(out, F::Financial, per100(st.financial));
    put(out, F::Action, per100(st.action));
    put(out, F::Exclaim, per100(st.exclaim));
    put(out, F::Greeting, flag(st.greeting > 0));
    put(out, F::Money, st.money as f32);
    put(out, F::Upper, ratio(st.upper, st.letters));

    let mut zero_width = b.text_stats.zero_width;
    match b.html {
        Some((h, html_len, hs)) => {
            zero_width += hs.zero_width + h.zero_width;
            let shown = h
                .text
                .iter()
                .filter(|&&c| c != b' ' && (c & 0xC0) != 0x80)
                .count() as u32;
            put(
                out,
                F::HiddenShare,
                ratio(h.hidden_chars, h.hidden_chars + shown),
            );
            put(out, F::HiddenElements, h.hidden_elements as f32);
            put(out, F::Script, flag(h.scripts > 0));
            put(out, F::Frame, flag(h.frames > 0));
            put(out, F::Form, flag(h.forms > 0 || h.inputs > 0));
            put(out, F::MetaRefresh, flag(h.meta_refresh > 0));
            put(
                out,
                F::TextRatio,
                ratio(h.text.len() as u32, html_len as u32),
            );
            put(out, F::Images, h.images as f32);
        }
        None => {
            put(out, F::HiddenShare, f32::NAN);
            put(out, F::TextRatio, f32::NAN);
        }
    }
    put(out, F::ZeroWidth, zero_width as f32);

    // N-grams: sublinear word counts, length-normalised character 4-gram shares.
    let (words, chars) = ngram_out.split_at_mut(WORD_BUCKETS.min(ngram_out.len()));
    let table = ln1p_table();
    for (o, &c) in words.iter_mut().zip(&ng.words) {
        *o = table
            .get(c as usize)
            .copied()
            .unwrap_or_else(|| (c as f32).ln_1p());
    }
    if ng.char_total > 0 {
        let total = ng.char_total as f32;
        for (o, &c) in chars.iter_mut().zip(&ng.chars) {
            *o = c as f32 / total;
        }
    }
}

/// `ln(1 + c)` for small counts, computed once (the word buckets need 128 per message).
fn ln1p_table() -> &'static [f32; 256] {
    static T: std::sync::OnceLock<[f32; 256]> = std::sync::OnceLock::new();
    T.get_or_init(|| std::array::from_fn(|c| (c as f32).ln_1p()))
}

/// Number of n-gram features.
pub(super) const fn ngram_len() -> usize {
    WORD_BUCKETS + CHAR_BUCKETS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reply_prefixes() {
        assert!(is_reply(b"re: hello"));
        assert!(is_reply(b"  fwd : hello"));
        assert!(is_reply(b"RE[2]: hello"));
        assert!(!is_reply(b"regarding: x"));
        assert!(!is_reply(b"re hello"));
        assert!(!is_reply(b""));
    }
}
