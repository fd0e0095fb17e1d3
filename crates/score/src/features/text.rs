//! Word tokenizer, the keyword phrase table and the hashed n-gram accumulators.
//!
//! Text arrives cleaned (see `clean`), in its original case: words are lower-cased (ASCII) as
//! they are hashed, and capitals are counted only on words that were not masked. A word is a maximal run of ASCII letters
//! and digits and non-ASCII characters; ASCII punctuation, general punctuation (U+2000..U+206F),
//! currency signs and Latin-1 symbols separate words. Words made only of digits become one
//! number token (so dates, years, order and ticket numbers do not become features). A recipient's
//! local part used as a word ("Dear jose") becomes `rcptname`; a word that starts with a
//! base64-encoded recipient or placeholder address becomes the mask token `rcptmask`.
//!
//! One pass per text does all of: keyword/phrase counting (unigram to 4-gram phrases, looked up
//! in an open-addressing table built once, behind a one-load bit filter), word unigram and bigram hashing (stop words skipped)
//! into [`WORD_BUCKETS`] buckets, and character 4-gram hashing over the word stream (words
//! joined by one space, digits as `0`, first [`CHAR_GRAM_BYTES`] bytes) into [`CHAR_BUCKETS`].
//!
//! The hash is this module's own (multiply-rotate over little-endian 8-byte chunks with a
//! splitmix64 finaliser): deterministic across runs, platforms and Rust versions, which the
//! feature schema depends on.

use super::clean::{Masks, B64_PREFIX};
use super::tables::{cat, MASK_TOKEN, NAME_TOKEN, PHRASES};
use std::sync::OnceLock;

/// Word n-gram buckets.
pub(super) const WORD_BUCKETS: usize = 128;
/// Character 4-gram buckets.
pub(super) const CHAR_BUCKETS: usize = 64;
/// Bytes of the word stream that feed character 4-grams (language and style need no more).
pub(super) const CHAR_GRAM_BYTES: usize = 1024;

const K0: u64 = 0x9E37_79B9_7F4A_7C15;
const K1: u64 = 0xBF58_476D_1CE4_E5B9;
const K2: u64 = 0x94D0_49BB_1331_11EB;

/// splitmix64's finaliser.
const fn mix(mut z: u64) -> u64 {
    z ^= z >> 30;
    z = z.wrapping_mul(K1);
    z ^= z >> 27;
    z = z.wrapping_mul(K2);
    z ^ (z >> 31)
}

/// The word hash, of the ASCII-lower-cased bytes (so `Verify` and `verify` are one word); never
/// 0 (0 marks empty table slots). `const` for the constants below; [`hash_bytes`] is the same
/// function, faster at run time (a test checks they agree).
pub(super) const fn hash_const(b: &[u8]) -> u64 {
    let mut h = K0 ^ (b.len() as u64).wrapping_mul(K2);
    let mut i = 0;
    while i < b.len() {
        let mut chunk = 0u64;
        let mut k = 0;
        while k < 8 && i + k < b.len() {
            chunk |= (b[i + k].to_ascii_lowercase() as u64) << (8 * k);
            k += 1;
        }
        h = (h ^ chunk).wrapping_mul(K1).rotate_left(29);
        i += 8;
    }
    nonzero(mix(h))
}

const fn nonzero(h: u64) -> u64 {
    if h == 0 {
        1
    } else {
        h
    }
}

/// ASCII-lower-cases the 8 bytes packed in `x` (bytes >= 0x80 unchanged).
#[inline]
const fn lower8(x: u64) -> u64 {
    const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let h = x & LOW7;
    let ge_a = h.wrapping_add(0x3f3f_3f3f_3f3f_3f3f); // bit 7 set where byte >= 'A'
    let gt_z = h.wrapping_add(0x2525_2525_2525_2525); // bit 7 set where byte > 'Z'
    let upper = ge_a & !gt_z & !x & HIGH;
    x | (upper >> 2)
}

/// The word hash (see [`hash_const`]): 8 bytes at a time, lower-cased with SWAR.
#[inline]
pub(super) fn hash_bytes(b: &[u8]) -> u64 {
    hash_in(b, 0, b.len())
}

/// [`hash_bytes`] of `t[start..end]`. A last partial chunk is loaded as 8 bytes from `t` and
/// masked when `t` has them (no copy), else assembled byte by byte.
#[inline]
fn hash_in(t: &[u8], start: usize, end: usize) -> u64 {
    let len = end.saturating_sub(start);
    let mut h = K0 ^ (len as u64).wrapping_mul(K2);
    let mut p = start;
    while p + 8 <= end {
        let x = t
            .get(p..p + 8)
            .and_then(|c| c.try_into().ok())
            .map_or(0, u64::from_le_bytes);
        h = (h ^ lower8(x)).wrapping_mul(K1).rotate_left(29);
        p += 8;
    }
    let rem = end.saturating_sub(p);
    if rem > 0 {
        let x = match t.get(p..p + 8).and_then(|c| <[u8; 8]>::try_from(c).ok()) {
            Some(c) => u64::from_le_bytes(c) & ((1u64 << (8 * rem)) - 1),
            None => t
                .get(p..end)
                .unwrap_or(&[])
                .iter()
                .rev()
                .fold(0u64, |acc, &b| (acc << 8) | u64::from(b)),
        };
        h = (h ^ lower8(x)).wrapping_mul(K1).rotate_left(29);
    }
    nonzero(mix(h))
}

/// Combines two hashes (order matters): phrase keys and bigrams.
pub(super) const fn combine(a: u64, b: u64) -> u64 {
    nonzero(mix(a.rotate_left(23) ^ b.wrapping_mul(K0)))
}

/// The token every all-digit word becomes.
pub(super) const NUM_HASH: u64 = hash_const(b"#");
/// The mask token's hash.
pub(super) const MASK_HASH: u64 = hash_const(MASK_TOKEN.as_bytes());
/// The hash of the token a recipient's local part used as a word ("Dear jose") becomes.
pub(super) const NAME_HASH: u64 = hash_const(NAME_TOKEN.as_bytes());
const BIGRAM_SEED: u64 = 0x5151_7EED_0B16_0000;
const USD: u64 = hash_const(b"usd");
const EUR: u64 = hash_const(b"eur");
const GBP: u64 = hash_const(b"gbp");

const START2: u16 = 1 << 8;
const START3: u16 = 1 << 9;
const START4: u16 = 1 << 10;
const CATEGORIES: u16 =
    cat::URGENCY | cat::CREDENTIAL | cat::FINANCIAL | cat::ACTION | cat::GREETING;

/// Open-addressing table of phrase keys to flags.
struct PhraseTable {
    keys: Vec<u64>,
    vals: Vec<u16>,
    mask: usize,
    /// One bit per key (indexed by 12 hash bits): most words are not in the table and are
    /// rejected here with one load.
    filter: [u64; 64],
}

impl PhraseTable {
    fn build() -> PhraseTable {
        let size = 1024;
        let mut t = PhraseTable {
            keys: vec![0; size],
            vals: vec![0; size],
            mask: size - 1,
            filter: [0; 64],
        };
        for (flag, list) in PHRASES {
            for phrase in *list {
                let hs: Vec<u64> = phrase
                    .split(' ')
                    .map(|w| {
                        if w == "#" {
                            NUM_HASH
                        } else {
                            hash_bytes(w.as_bytes())
                        }
                    })
                    .collect();
                let key = hs
                    .iter()
                    .skip(1)
                    .fold(hs.first().copied().unwrap_or(1), |k, &h| combine(k, h));
                t.insert(key, *flag);
                let first = hs.first().copied().unwrap_or(1);
                match hs.len() {
                    2 => t.insert(first, START2),
                    3 => t.insert(first, START3),
                    4 => t.insert(first, START4),
                    _ => {}
                }
            }
        }
        t
    }

    fn insert(&mut self, key: u64, flag: u16) {
        let mut i = (key >> 48) as usize & self.mask;
        for _ in 0..self.keys.len() {
            match self.keys.get(i).copied() {
                Some(k) if k == key => {
                    if let Some(v) = self.vals.get_mut(i) {
                        *v |= flag;
                    }
                    return;
                }
                Some(0) => {
                    if let (Some(k), Some(v)) = (self.keys.get_mut(i), self.vals.get_mut(i)) {
                        *k = key;
                        *v = flag;
                    }
                    let bit = (key >> 20) as usize & 4095;
                    if let Some(w) = self.filter.get_mut(bit >> 6) {
                        *w |= 1 << (bit & 63);
                    }
                    return;
                }
                _ => i = (i + 1) & self.mask,
            }
        }
    }

    #[inline]
    fn get(&self, key: u64) -> u16 {
        let bit = (key >> 20) as usize & 4095;
        if self
            .filter
            .get(bit >> 6)
            .is_none_or(|w| w & (1 << (bit & 63)) == 0)
        {
            return 0;
        }
        let mut i = (key >> 48) as usize & self.mask;
        loop {
            match self.keys.get(i).copied() {
                Some(k) if k == key => return self.vals.get(i).copied().unwrap_or(0),
                Some(0) | None => return 0,
                _ => i = (i + 1) & self.mask,
            }
        }
    }
}

fn table() -> &'static PhraseTable {
    static T: OnceLock<PhraseTable> = OnceLock::new();
    T.get_or_init(PhraseTable::build)
}

/// Whether a word hash is a content keyword or a stop word (never masked as a recipient name).
pub(super) fn is_keyword(h: u64) -> bool {
    table().get(h) & (CATEGORIES | cat::STOP) != 0
}

/// Keyword counts of one text.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct TextStats {
    /// Words (tokens).
    pub(super) words: u32,
    /// Urgency phrase hits.
    pub(super) urgency: u32,
    /// Credential phrase hits.
    pub(super) credential: u32,
    /// Financial phrase hits.
    pub(super) financial: u32,
    /// Call-to-action phrase hits.
    pub(super) action: u32,
    /// Generic greeting hits.
    pub(super) greeting: u32,
    /// Money amounts (`$25`, `€ 100`, `100 usd`).
    pub(super) money: u32,
    /// `!` characters.
    pub(super) exclaim: u32,
    /// Mask tokens seen.
    pub(super) masked: u32,
    /// Bytes the word-level masking added (negative: removed), so lengths can be reported as
    /// if the tokens had been in the text.
    pub(super) len_delta: i64,
    /// ASCII capitals in words that were not masked.
    pub(super) upper: u32,
    /// ASCII letters in words that were not masked.
    pub(super) letters: u32,
}

/// Hashed n-gram counts, accumulated over the subject and the body.
#[derive(Debug, Clone)]
pub(super) struct Ngrams {
    /// Word unigram + bigram counts per bucket.
    pub(super) words: [u32; WORD_BUCKETS],
    /// Character 4-gram counts per bucket.
    pub(super) chars: [u32; CHAR_BUCKETS],
    /// Character 4-grams counted.
    pub(super) char_total: u32,
    roll: u32,
    roll_len: u32,
    char_bytes: usize,
    prev_content: u64,
}

impl Default for Ngrams {
    fn default() -> Self {
        Ngrams {
            words: [0; WORD_BUCKETS],
            chars: [0; CHAR_BUCKETS],
            char_total: 0,
            roll: 0,
            roll_len: 0,
            char_bytes: 0,
            prev_content: 0,
        }
    }
}

impl Ngrams {
    /// Clears the counts.
    pub(super) fn reset(&mut self) {
        *self = Ngrams::default();
    }

    /// Ends a text: the next word starts a new bigram chain.
    pub(super) fn boundary(&mut self) {
        self.prev_content = 0;
    }

    #[inline]
    fn word(&mut self, h: u64, stop: bool) {
        if stop {
            return;
        }
        if let Some(c) = self.words.get_mut((h >> 57) as usize) {
            *c += 1;
        }
        if self.prev_content != 0 {
            // One multiply: both inputs are already well-mixed hashes.
            let b = (self.prev_content.rotate_left(31) ^ h ^ BIGRAM_SEED).wrapping_mul(K1);
            if let Some(c) = self.words.get_mut((b >> 57) as usize) {
                *c += 1;
            }
        }
        self.prev_content = h;
    }

    #[inline]
    fn chars(&mut self, w: &[u8]) {
        if self.char_bytes >= CHAR_GRAM_BYTES {
            return;
        }
        self.char_bytes += w.len() + 1;
        let (mut roll, mut len, mut total) = (self.roll, self.roll_len, self.char_total);
        for &b in w.iter().chain(std::iter::once(&b' ')) {
            roll = (roll << 8) | u32::from(CHAR_MAP.get(usize::from(b)).copied().unwrap_or(b));
            len += 1;
            if len >= 4 {
                let bucket = (roll.wrapping_mul(0x9E37_79B1) >> 26) as usize;
                if let Some(c) = self.chars.get_mut(bucket) {
                    *c += 1;
                }
                total += 1;
            }
        }
        (self.roll, self.roll_len, self.char_total) = (roll, len, total);
    }
}

/// Byte mapping for character n-grams: ASCII lower case, digits as `0`.
static CHAR_MAP: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        t[b] = if c.is_ascii_digit() {
            b'0'
        } else {
            c.to_ascii_lowercase()
        };
        b += 1;
    }
    t
};

/// Byte classes for the tokenizer.
const SEP: u8 = 0;
/// Part of a word.
const WORD: u8 = 1;
/// Lead bytes of multi-byte punctuation that may separate words (checked in context).
const LEAD: u8 = 2;
/// ASCII digit (with `WORD`).
const DIGIT: u8 = 4;
/// ASCII capital (with `WORD`).
const UPPER: u8 = 8;
/// ASCII letter (with `WORD`).
const LETTER: u8 = 16;
/// `!` and `$`: separators that are counted.
const MARK: u8 = 32;

const fn classes() -> [u8; 256] {
    let mut t = [SEP; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        t[b] = if c.is_ascii_digit() {
            WORD | DIGIT
        } else if c.is_ascii_uppercase() {
            WORD | UPPER | LETTER
        } else if c.is_ascii_lowercase() {
            WORD | LETTER
        } else if c >= 0x80 {
            WORD
        } else {
            SEP
        };
        b += 1;
    }
    t[b'!' as usize] = MARK;
    t[b'$' as usize] = MARK;
    t[0xC2] = LEAD;
    t[0xE2] = LEAD;
    t[0xE3] = LEAD;
    t
}
static CLASS: [u8; 256] = classes();

/// Length of the separator sequence at `p` when the lead byte there starts punctuation:
/// Latin-1 symbols (U+00A0..U+00BF), general punctuation and currency (U+2000..U+20CF),
/// ideographic space and CJK punctuation (U+3000..U+303F). 0 when it starts a letter.
#[inline]
fn punct_len(t: &[u8], p: usize) -> usize {
    match (t.get(p), t.get(p + 1)) {
        (Some(0xC2), Some(0xA0..=0xBF)) => 2,
        (Some(0xE2), Some(0x80..=0x82)) | (Some(0xE3), Some(0x80)) => 3,
        _ => 0,
    }
}

/// Whether the separator at `p` is a currency sign (`$`, `£`, `¥`, `€`).
#[inline]
fn is_currency(t: &[u8], p: usize) -> bool {
    match t.get(p) {
        Some(b'$') => true,
        Some(0xC2) => matches!(t.get(p + 1), Some(0xA3 | 0xA5)),
        Some(0xE2) => t.get(p + 1) == Some(&0x82) && t.get(p + 2) == Some(&0xAC),
        _ => false,
    }
}

/// Tokenises one cleaned text: keyword counts into `st`, n-grams into `ng`.
pub(super) fn scan(t: &[u8], masks: &Masks, st: &mut TextStats, ng: &mut Ngrams) {
    let table = table();
    let n = t.len();
    // (hash, flags) of the previous three words.
    let mut hist = [(0u64, 0u16); 3];
    let mut pending_currency = false;
    let mut i = 0;
    while i < n {
        let b = t.get(i).copied().unwrap_or(0);
        let class = CLASS.get(usize::from(b)).copied().unwrap_or(SEP);
        if class == SEP {
            // Plain separators: spaces keep a pending currency sign, anything else ends it.
            pending_currency &= b <= b' ';
            i += 1;
            continue;
        }
        if class == MARK || (class == LEAD && punct_len(t, i) > 0) {
            if b == b'!' {
                st.exclaim += 1;
            }
            if is_currency(t, i) {
                pending_currency = true;
            } else if !matches!(b, b' ' | 0xC2) {
                pending_currency = false;
            }
            i += if class == LEAD { punct_len(t, i) } else { 1 };
            continue;
        }
        let start = i;
        let (mut non_digit, mut upper, mut letters) = (0u8, 0u32, 0u32);
        while let Some(&c) = t.get(i) {
            let f = CLASS.get(usize::from(c)).copied().unwrap_or(SEP);
            if f & WORD != 0 {
                non_digit |= !f & DIGIT;
                upper += u32::from((f & UPPER) >> 3);
                letters += u32::from((f & LETTER) >> 4);
                i += 1;
            } else if f == LEAD && punct_len(t, i) == 0 {
                non_digit = DIGIT;
                i += 1;
            } else {
                break;
            }
        }
        let digits = non_digit == 0;
        let w = t.get(start..i).unwrap_or(&[]);
        let mut h = if digits {
            NUM_HASH
        } else {
            hash_in(t, start, i)
        };
        let mut bytes = w;
        if !digits && masks.words.contains(&h) {
            h = NAME_HASH;
            bytes = NAME_TOKEN.as_bytes();
        } else if !digits
            && w.len() >= B64_PREFIX
            && masks.b64.iter().any(|p| {
                w.get(..B64_PREFIX)
                    .is_some_and(|x| x.eq_ignore_ascii_case(p))
            })
        {
            h = MASK_HASH;
            bytes = MASK_TOKEN.as_bytes();
        }
        st.len_delta += bytes.len() as i64 - w.len() as i64;
        if h == MASK_HASH || h == NAME_HASH {
            st.masked += 1;
        } else {
            st.upper += upper;
            st.letters += letters;
        }
        if digits && pending_currency {
            st.money += 1;
        }
        if (h == USD || h == EUR || h == GBP) && hist.first().is_some_and(|p| p.0 == NUM_HASH) {
            st.money += 1;
        }
        pending_currency = false;
        st.words += 1;
        let flags = table.get(h);
        let mut hits = flags;
        let [p1, p2, p3] = hist;
        if p1.1 & START2 != 0 {
            hits |= table.get(combine(p1.0, h)) & CATEGORIES;
        }
        if p2.1 & START3 != 0 {
            hits |= table.get(combine(combine(p2.0, p1.0), h)) & CATEGORIES;
        }
        if p3.1 & START4 != 0 {
            hits |= table.get(combine(combine(combine(p3.0, p2.0), p1.0), h)) & CATEGORIES;
        }
        if hits & CATEGORIES != 0 {
            st.urgency += u32::from(hits & cat::URGENCY != 0);
            st.credential += u32::from(hits & cat::CREDENTIAL != 0);
            st.financial += u32::from(hits & cat::FINANCIAL != 0);
            st.action += u32::from(hits & cat::ACTION != 0);
            st.greeting += u32::from(hits & cat::GREETING != 0);
        }
        hist = [(h, flags), p1, p2];
        ng.word(h, flags & cat::STOP != 0);
        ng.chars(if digits { b"0" } else { bytes });
    }
    ng.boundary();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(s: &str) -> (TextStats, Ngrams) {
        let mut st = TextStats::default();
        let mut ng = Ngrams::default();
        scan(s.as_bytes(), &Masks::default(), &mut st, &mut ng);
        (st, ng)
    }

    #[test]
    fn fast_and_const_hashes_agree() {
        let text =
            b"The QUICK brown fox JUMPS over the lazy dog 0123456789 \xc3\xa9t\xc3\xa9 @[`{ AZaz";
        for a in 0..text.len() {
            for b in a..=text.len().min(a + 40) {
                let w = text.get(a..b).unwrap_or(&[]);
                assert_eq!(hash_bytes(w), hash_const(w), "{w:?}");
            }
        }
        for c in 0u8..=255 {
            assert_eq!(
                lower8(u64::from(c)),
                u64::from(c.to_ascii_lowercase()),
                "{c}"
            );
        }
    }

    #[test]
    fn hash_is_stable() {
        // Pinned: the schema's n-gram buckets depend on these exact values.
        assert_eq!(hash_bytes(b"verify"), PINNED_VERIFY);
        assert_eq!(hash_bytes(b"a longer word over 8 bytes"), PINNED_LONG);
        assert_ne!(hash_bytes(b"paypal"), hash_bytes(b"paypa1"));
        assert_eq!(hash_bytes(b"VeRiFy"), PINNED_VERIFY);
        assert_ne!(combine(1, 2), combine(2, 1));
    }

    const PINNED_VERIFY: u64 = 2_778_973_017_961_910_323;
    const PINNED_LONG: u64 = 10_089_457_613_146_725_634;

    #[test]
    fn phrases_and_counts() {
        let (st, _) = run("Dear Customer, verify your account within 24 hours or it will be SUSPENDED! Click here. Pay $25 or 100 USD");
        assert_eq!(st.words, 20);
        assert_eq!(st.greeting, 1);
        assert_eq!(st.credential, 2); // "verify your", "verify your account"
                                      // Hits count once per word and category: "within # hours"/"# hours" end at one word,
                                      // "will be suspended"/"suspended" at another.
        assert_eq!(st.urgency, 2);
        assert_eq!(st.action, 2); // "click here", "click"
        assert_eq!(st.money, 2);
        assert_eq!(st.exclaim, 1);
        assert_eq!(st.financial, 1); // "usd"
        assert_eq!((st.upper, st.letters), (16, 76));
    }

    #[test]
    fn unicode_punctuation_separates_words() {
        let (st, _) = run("it\u{2019}s \u{20ac}50\u{2014}now\u{00a0}ok caf\u{e9}");
        assert_eq!(st.words, 6); // it, s, 50, now, ok, café
        assert_eq!(st.money, 1);
    }

    #[test]
    fn ngrams_skip_stop_words_and_numbers_are_one_token() {
        let (_, a) = run("the invoice 2002 attached");
        let (_, b) = run("the invoice 2024 attached");
        assert_eq!(a.words, b.words);
        assert_eq!(a.chars, b.chars);
        assert_eq!(a.words.iter().sum::<u32>(), 5); // 3 unigrams + 2 bigrams
    }
}
