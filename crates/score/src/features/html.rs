//! A small, tolerant HTML tag scanner: one pass over a (cleaned) HTML body that yields the
//! visible text, the links (`href`, `src`, form `action`, meta refresh), anchor texts, and
//! counts of what matters for phishing (forms, password inputs, scripts, iframes, images,
//! hidden text).
//!
//! It is not an HTML5 parser and does not build a tree: tags are recognised by `<` + name,
//! attributes are read with HTML's quoting rules, comments/`<!...>` are skipped, and the
//! contents of `script`, `style`, `title` and `textarea` are not text. Hidden text is tracked with
//! a small stack of "styled regions" (elements whose inline style or attributes hide text:
//! `display:none`, `visibility:hidden`, `font-size` under 2px, `opacity:0`, `mso-hide:all`,
//! zero size with `overflow:hidden`, the `hidden` attribute, or white text without a non-white
//! background set by an enclosing element). Unclosed elements are tolerated: a closing tag pops
//! back to the nearest open region of that name, unknown closings are ignored.
//!
//! Never panics and never allocates per tag once its buffers have grown.

use memchr::{memchr, memmem};

/// Where a link came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum LinkKind {
    /// `<a href>` / `<area href>`.
    Href,
    /// `<img src>`, `<iframe src>`, `<script src>`.
    Src,
    /// `<form action>`.
    Action,
    /// `<meta http-equiv=refresh content="0;url=...">`.
    Refresh,
}

/// A link value (entity-decoded) as a range of [`HtmlScan::attr`].
#[derive(Debug, Clone, Copy)]
pub(super) struct Link {
    pub(super) start: usize,
    pub(super) end: usize,
    pub(super) kind: LinkKind,
}

/// An anchor: the index of its `href` in [`HtmlScan::links`] and its text as a range of
/// [`HtmlScan::text`].
#[derive(Debug, Clone, Copy)]
pub(super) struct Anchor {
    pub(super) link: usize,
    pub(super) text: (usize, usize),
}

/// A styled region on the stack.
#[derive(Debug, Clone, Copy)]
struct Region {
    /// Hash of the lower-case tag name.
    name: u64,
    depth: u32,
    hidden: bool,
    /// `Some(is_white)` when the element sets a text colour.
    color: Option<bool>,
    /// `Some(is_white)` when the element sets a background.
    bg: Option<bool>,
}

/// A byte range of the HTML buffer (bodies are capped well below 4 GiB).
type Span = Option<(u32, u32)>;

/// Attribute value ranges of the tag being read (into the HTML buffer).
#[derive(Debug, Default, Clone, Copy)]
struct Attrs {
    href: Span,
    src: Span,
    action: Span,
    style: Span,
    typ: Span,
    http_equiv: Span,
    content: Span,
    bgcolor: Span,
    color: Span,
    hidden: bool,
    self_closing: bool,
}

/// The result of scanning one HTML body; reused across messages.
#[derive(Debug, Default)]
pub(super) struct HtmlScan {
    /// Visible text, entities decoded, whitespace collapsed to single spaces.
    pub(super) text: Vec<u8>,
    /// Non-space characters of hidden text.
    pub(super) hidden_chars: u32,
    /// Elements that hide their text.
    pub(super) hidden_elements: u32,
    /// `<img>` tags.
    pub(super) images: u32,
    /// `<script>` tags.
    pub(super) scripts: u32,
    /// `<iframe>`, `<frame>`, `<object>`, `<embed>`, `<applet>` tags.
    pub(super) frames: u32,
    /// `<form>` tags.
    pub(super) forms: u32,
    /// `<input>`, `<textarea>`, `<select>`, `<button>` tags.
    pub(super) inputs: u32,
    /// `<input type=password>` tags.
    pub(super) password_inputs: u32,
    /// `<meta http-equiv=refresh>` tags.
    pub(super) meta_refresh: u32,
    /// Zero-width characters written as entities (`&#8203;`, `&zwnj;`, `&shy;`).
    pub(super) zero_width: u32,
    /// Decoded link values, concatenated.
    pub(super) attr: Vec<u8>,
    /// Links found.
    pub(super) links: Vec<Link>,
    /// Anchors with an `href`.
    pub(super) anchors: Vec<Anchor>,
    regions: Vec<Region>,
    text_hidden: bool,
    open_anchor: Option<(usize, usize)>,
}

const MAX_REGIONS: usize = 32;
const MAX_LINKS: usize = 1024;

impl HtmlScan {
    /// Scans `html`, replacing the previous result.
    pub(super) fn scan(&mut self, html: &[u8]) {
        self.reset();
        let n = html.len();
        let mut i = 0;
        while i < n {
            let Some(off) = find_byte(html.get(i..).unwrap_or(&[]), b'<') else {
                self.push_text(html.get(i..).unwrap_or(&[]));
                break;
            };
            self.push_text(html.get(i..i + off).unwrap_or(&[]));
            i += off;
            i = self.tag(html, i);
        }
        self.close_anchor();
        while self.text.last() == Some(&b' ') {
            self.text.pop();
        }
    }

    fn reset(&mut self) {
        self.text.clear();
        self.attr.clear();
        self.links.clear();
        self.anchors.clear();
        self.regions.clear();
        self.hidden_chars = 0;
        self.hidden_elements = 0;
        self.images = 0;
        self.scripts = 0;
        self.frames = 0;
        self.forms = 0;
        self.inputs = 0;
        self.password_inputs = 0;
        self.meta_refresh = 0;
        self.zero_width = 0;
        self.text_hidden = false;
        self.open_anchor = None;
    }

    /// Reads the markup at `i` (a `<`) and returns the position after it.
    fn tag(&mut self, h: &[u8], i: usize) -> usize {
        let n = h.len();
        let rest = h.get(i..).unwrap_or(&[]);
        if rest.starts_with(b"<!--") {
            return memmem::find(rest.get(4..).unwrap_or(&[]), b"-->").map_or(n, |p| i + 4 + p + 3);
        }
        if matches!(rest.get(1), Some(b'!' | b'?')) {
            return memchr(b'>', rest).map_or(n, |p| i + p + 1);
        }
        let closing = rest.get(1) == Some(&b'/');
        let ns = i + 1 + usize::from(closing);
        let mut ne = ns;
        while h
            .get(ne)
            .is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'-' || *b == b':')
        {
            ne += 1;
        }
        if ne == ns || !h.get(ns).is_some_and(u8::is_ascii_alphabetic) {
            self.push_text(b"<");
            return i + 1;
        }
        let mut name = [0u8; 12];
        let name_len = (ne - ns).min(name.len());
        for (d, s) in name.iter_mut().zip(h.get(ns..ne).unwrap_or(&[])) {
            *d = s.to_ascii_lowercase();
        }
        let (attrs, end) = read_attrs(h, ne);
        let raw = name.get(..name_len).unwrap_or(&[]);
        let tag = Tag::of(raw);
        let key = super::text::hash_bytes(raw);
        if closing {
            self.close_tag(tag, key);
            return end;
        }
        self.open_tag(h, tag, key, &attrs);
        if matches!(tag, Tag::Script | Tag::Style | Tag::Title | Tag::Textarea)
            && !attrs.self_closing
        {
            return skip_raw_text(h, end, raw);
        }
        end
    }

    fn open_tag(&mut self, h: &[u8], tag: Tag, name: u64, a: &Attrs) {
        let val = |r: Span| r.and_then(|(s, e)| h.get(s as usize..e as usize));
        match tag {
            Tag::A | Tag::Area => {
                self.close_anchor();
                if let Some(l) = self.add_link(h, a.href, LinkKind::Href) {
                    if tag == Tag::A {
                        self.open_anchor = Some((l, self.text.len()));
                    }
                }
            }
            Tag::Img => {
                self.images += 1;
                self.add_link(h, a.src, LinkKind::Src);
            }
            Tag::Frame => {
                self.frames += 1;
                self.add_link(h, a.src, LinkKind::Src);
            }
            Tag::Object | Tag::Embed => self.frames += 1,
            Tag::Script => {
                self.scripts += 1;
                self.add_link(h, a.src, LinkKind::Src);
            }
            Tag::Form => {
                self.forms += 1;
                self.add_link(h, a.action, LinkKind::Action);
            }
            Tag::Input | Tag::Control | Tag::Textarea => {
                self.inputs += 1;
                if val(a.typ).is_some_and(|t| trim(t).eq_ignore_ascii_case(b"password")) {
                    self.password_inputs += 1;
                }
            }
            Tag::Meta
                if val(a.http_equiv).is_some_and(|t| trim(t).eq_ignore_ascii_case(b"refresh")) =>
            {
                self.meta_refresh += 1;
                if let Some((s, e)) = a.content {
                    let c = h.get(s as usize..e as usize).unwrap_or(&[]);
                    if let Some(p) = find_ci(c, b"url=") {
                        self.add_link(h, Some((s + p as u32 + 4, e)), LinkKind::Refresh);
                    }
                }
            }
            _ => {}
        }
        if tag.is_block() {
            self.sep();
        }
        if tag.is_void() || a.self_closing {
            return;
        }
        for r in &mut self.regions {
            if r.name == name {
                r.depth += 1;
            }
        }
        let mut hidden = a.hidden;
        let mut color = val(a.color).map(is_white);
        let mut bg = val(a.bgcolor).map(is_white);
        if let Some(style) = val(a.style) {
            let s = style_flags(style);
            hidden |= s.hidden;
            color = s.color.or(color);
            bg = s.bg.or(bg);
        }
        if hidden || color.is_some() || bg.is_some() {
            if self.regions.len() < MAX_REGIONS {
                self.regions.push(Region {
                    name,
                    depth: 1,
                    hidden,
                    color,
                    bg,
                });
            }
            let was = self.text_hidden;
            self.update_hidden();
            if self.text_hidden && !was {
                self.hidden_elements += 1;
            }
        }
    }

    fn close_tag(&mut self, tag: Tag, name: u64) {
        if tag == Tag::A {
            self.close_anchor();
        }
        if tag.is_block() {
            self.sep();
        }
        if let Some(pos) = self.regions.iter().rposition(|r| r.name == name) {
            if let Some(r) = self.regions.get_mut(pos) {
                r.depth = r.depth.saturating_sub(1);
                if r.depth == 0 {
                    self.regions.truncate(pos);
                    self.update_hidden();
                }
            }
        }
    }

    fn update_hidden(&mut self) {
        let hidden = self.regions.iter().any(|r| r.hidden);
        let white_text = self
            .regions
            .iter()
            .rev()
            .find_map(|r| r.color)
            .unwrap_or(false);
        let white_bg = self.regions.iter().rev().find_map(|r| r.bg).unwrap_or(true);
        self.text_hidden = hidden || (white_text && white_bg);
    }

    fn close_anchor(&mut self) {
        if let Some((link, start)) = self.open_anchor.take() {
            self.anchors.push(Anchor {
                link,
                text: (start, self.text.len()),
            });
        }
    }

    /// Decodes an attribute value into `attr` and records it as a link.
    fn add_link(&mut self, h: &[u8], r: Span, kind: LinkKind) -> Option<usize> {
        let (s, e) = r?;
        let (s, e) = (s as usize, e as usize);
        if self.links.len() >= MAX_LINKS {
            return None;
        }
        let v = trim(h.get(s..e)?);
        if v.is_empty() {
            return None;
        }
        let start = self.attr.len();
        let mut i = 0;
        while i < v.len() {
            let rest = v.get(i..).unwrap_or(&[]);
            let Some(p) = memchr::memchr3(b'&', b'\n', b'\t', rest) else {
                self.attr.extend_from_slice(rest);
                break;
            };
            self.attr.extend_from_slice(rest.get(..p).unwrap_or(&[]));
            i += p;
            if v.get(i) == Some(&b'&') {
                if let Some((d, used)) = decode_entity(v.get(i..).unwrap_or(&[])) {
                    match d {
                        Decoded::Char(c) => {
                            let mut tmp = [0u8; 4];
                            self.attr
                                .extend_from_slice(c.encode_utf8(&mut tmp).as_bytes());
                        }
                        Decoded::Space => self.attr.push(b' '),
                        Decoded::Drop => {}
                    }
                    i += used;
                    continue;
                }
                self.attr.push(b'&');
            }
            i += 1;
        }
        self.links.push(Link {
            start,
            end: self.attr.len(),
            kind,
        });
        Some(self.links.len() - 1)
    }

    fn sep(&mut self) {
        if !self.text_hidden && !self.text.is_empty() && self.text.last() != Some(&b' ') {
            self.text.push(b' ');
        }
    }

    /// Appends a text segment (between tags): decoded, whitespace collapsed; or counted as
    /// hidden.
    fn push_text(&mut self, seg: &[u8]) {
        if self.text_hidden {
            self.hidden_chars += seg
                .iter()
                .filter(|&&b| !b.is_ascii_whitespace() && (b & 0xC0) != 0x80)
                .count() as u32;
            return;
        }
        let mut i = 0;
        while i < seg.len() {
            let b = seg.get(i).copied().unwrap_or(0);
            if b.is_ascii_whitespace() {
                if !self.text.is_empty() && self.text.last() != Some(&b' ') {
                    self.text.push(b' ');
                }
            } else if b == b'&' {
                match decode_entity(seg.get(i..).unwrap_or(&[])) {
                    Some((d, used)) => {
                        match d {
                            Decoded::Char(c) => self.push_char(c),
                            Decoded::Space => {
                                if !self.text.is_empty() && self.text.last() != Some(&b' ') {
                                    self.text.push(b' ');
                                }
                            }
                            Decoded::Drop => self.zero_width += 1,
                        }
                        i += used;
                        continue;
                    }
                    None => self.text.push(b'&'),
                }
            } else {
                self.text.push(b);
            }
            i += 1;
        }
    }

    fn push_char(&mut self, c: char) {
        if c.is_ascii() {
            self.push_text(&[c as u8]);
        } else {
            let mut tmp = [0u8; 4];
            self.text
                .extend_from_slice(c.encode_utf8(&mut tmp).as_bytes());
        }
    }
}

/// Reads attributes from `j` (just after the tag name) to the end of the tag; returns them and
/// the position after `>`.
fn read_attrs(h: &[u8], mut j: usize) -> (Attrs, usize) {
    let n = h.len();
    let mut a = Attrs::default();
    loop {
        while h.get(j).is_some_and(|b| b.is_ascii_whitespace()) {
            j += 1;
        }
        match h.get(j) {
            None => return (a, n),
            Some(b'>') => return (a, j + 1),
            Some(b'/') => {
                a.self_closing = h.get(j + 1) == Some(&b'>');
                j += 1;
                continue;
            }
            _ => {}
        }
        let ns = j;
        while h
            .get(j)
            .is_some_and(|&b| !b.is_ascii_whitespace() && !matches!(b, b'=' | b'>' | b'/'))
        {
            j += 1;
        }
        if j == ns {
            j += 1;
            continue;
        }
        let attr_name = h.get(ns..j).unwrap_or(&[]);
        while h.get(j).is_some_and(|b| b.is_ascii_whitespace()) {
            j += 1;
        }
        let mut value = None;
        if h.get(j) == Some(&b'=') {
            j += 1;
            while h.get(j).is_some_and(|b| b.is_ascii_whitespace()) {
                j += 1;
            }
            match h.get(j) {
                Some(&q @ (b'"' | b'\'')) => {
                    let vs = j + 1;
                    let ve = find_byte(h.get(vs..).unwrap_or(&[]), q).map_or(n, |p| vs + p);
                    value = Some((vs as u32, ve as u32));
                    j = (ve + 1).min(n);
                }
                Some(_) => {
                    let vs = j;
                    while h
                        .get(j)
                        .is_some_and(|&b| !b.is_ascii_whitespace() && b != b'>')
                    {
                        j += 1;
                    }
                    value = Some((vs as u32, j as u32));
                }
                None => {}
            }
        }
        // Dispatch on length and first letter before comparing names.
        let is = |s: &[u8]| attr_name.eq_ignore_ascii_case(s);
        let first = attr_name.first().map_or(0, u8::to_ascii_lowercase);
        match (attr_name.len(), first) {
            (4, b'h') if is(b"href") => a.href = value,
            (3, b's') if is(b"src") => a.src = value,
            (6, b'a') if is(b"action") => a.action = value,
            (5, b's') if is(b"style") => a.style = value,
            (4, b't') if is(b"type") => a.typ = value,
            (10, b'h') if is(b"http-equiv") => a.http_equiv = value,
            (7, b'c') if is(b"content") => a.content = value,
            (7, b'b') if is(b"bgcolor") => a.bgcolor = value,
            (5, b'c') if is(b"color") => a.color = value,
            (6, b'h') if is(b"hidden") => a.hidden = true,
            _ => {}
        }
    }
}

/// Position of `b` in `h`: a plain loop over the first bytes (most hits are near, where
/// `memchr`'s set-up costs more than it saves), then `memchr`.
#[inline]
fn find_byte(h: &[u8], b: u8) -> Option<usize> {
    const NEAR: usize = 16;
    match h.iter().take(NEAR).position(|&c| c == b) {
        Some(p) => Some(p),
        None if h.len() > NEAR => memchr(b, h.get(NEAR..).unwrap_or(&[])).map(|p| p + NEAR),
        None => None,
    }
}

/// Skips the raw text of `script`/`style`/`title`/`textarea` up to and including its end tag.
fn skip_raw_text(h: &[u8], mut i: usize, tag: &[u8]) -> usize {
    let n = h.len();
    while i < n {
        let Some(p) = memchr(b'<', h.get(i..).unwrap_or(&[])) else {
            return n;
        };
        let at = i + p;
        let is_end = h.get(at + 1) == Some(&b'/')
            && h.get(at + 2..at + 2 + tag.len())
                .is_some_and(|t| t.eq_ignore_ascii_case(tag));
        if is_end {
            return memchr(b'>', h.get(at..).unwrap_or(&[])).map_or(n, |q| at + q + 1);
        }
        i = at + 1;
    }
    n
}

/// The tags the scanner treats specially (matched on bytes, without string compares).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tag {
    A,
    Area,
    Img,
    /// `iframe`, `frame`.
    Frame,
    /// `object`, `applet`.
    Object,
    Embed,
    Script,
    Style,
    Title,
    Form,
    Input,
    /// `select`, `button`.
    Control,
    Textarea,
    Meta,
    /// Block-level elements that separate words.
    Block,
    /// `br`, `hr`: void and block.
    Break,
    /// Other void elements.
    Void,
    Other,
}

impl Tag {
    /// Classifies a lower-case tag name.
    fn of(t: &[u8]) -> Tag {
        match t {
            [b'a'] => Tag::A,
            [b'a', b'r', b'e', b'a'] => Tag::Area,
            [b'i', b'm', b'g'] => Tag::Img,
            [b'i', b'f', b'r', b'a', b'm', b'e'] | [b'f', b'r', b'a', b'm', b'e'] => Tag::Frame,
            [b'o', b'b', b'j', b'e', b'c', b't'] | [b'a', b'p', b'p', b'l', b'e', b't'] => {
                Tag::Object
            }
            [b'e', b'm', b'b', b'e', b'd'] => Tag::Embed,
            [b's', b'c', b'r', b'i', b'p', b't'] => Tag::Script,
            [b's', b't', b'y', b'l', b'e'] => Tag::Style,
            [b't', b'i', b't', b'l', b'e'] => Tag::Title,
            [b'f', b'o', b'r', b'm'] => Tag::Form,
            [b'i', b'n', b'p', b'u', b't'] => Tag::Input,
            [b's', b'e', b'l', b'e', b'c', b't'] | [b'b', b'u', b't', b't', b'o', b'n'] => {
                Tag::Control
            }
            [b't', b'e', b'x', b't', b'a', b'r', b'e', b'a'] => Tag::Textarea,
            [b'm', b'e', b't', b'a'] => Tag::Meta,
            [b'b', b'r'] | [b'h', b'r'] => Tag::Break,
            [b'p']
            | [b'd', b'i', b'v']
            | [b't', b'r']
            | [b't', b'd']
            | [b't', b'h']
            | [b'l', b'i']
            | [b'u', b'l']
            | [b'o', b'l'] => Tag::Block,
            [b'h', b'1'..=b'6']
            | [b't', b'a', b'b', b'l', b'e']
            | [b'c', b'e', b'n', b't', b'e', b'r'] => Tag::Block,
            [b's', b'e', b'c', b't', b'i', b'o', b'n']
            | [b'h', b'e', b'a', b'd', b'e', b'r']
            | [b'f', b'o', b'o', b't', b'e', b'r'] => Tag::Block,
            [b'b', b'l', b'o', b'c', b'k', b'q', b'u', b'o', b't', b'e'] => Tag::Block,
            [b'b', b'a', b's', b'e']
            | [b'c', b'o', b'l']
            | [b'l', b'i', b'n', b'k']
            | [b'p', b'a', b'r', b'a', b'm']
            | [b'w', b'b', b'r'] => Tag::Void,
            [b's', b'o', b'u', b'r', b'c', b'e'] | [b't', b'r', b'a', b'c', b'k'] => Tag::Void,
            _ => Tag::Other,
        }
    }

    /// Elements with no content (never pushed as regions).
    fn is_void(self) -> bool {
        matches!(
            self,
            Tag::Area | Tag::Img | Tag::Embed | Tag::Input | Tag::Meta | Tag::Break | Tag::Void
        )
    }

    /// Elements whose boundaries separate words.
    fn is_block(self) -> bool {
        matches!(self, Tag::Block | Tag::Break | Tag::Title)
    }
}

fn trim(s: &[u8]) -> &[u8] {
    super::clean::trim_ascii(s)
}

/// ASCII case-insensitive substring search (short haystacks).
fn find_ci(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || hay.len() < needle.len() {
        return None;
    }
    (0..=hay.len() - needle.len()).find(|&i| {
        hay.get(i..i + needle.len())
            .is_some_and(|w| w.eq_ignore_ascii_case(needle))
    })
}

/// What an entity stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Decoded {
    Char(char),
    Space,
    Drop,
}

/// Decodes the entity at the start of `s` (which starts with `&`): the decoded value and the
/// bytes used, or `None` when it is not an entity (the `&` is then literal).
fn decode_entity(s: &[u8]) -> Option<(Decoded, usize)> {
    let semi = s.iter().take(12).position(|&b| b == b';')?;
    let body = s.get(1..semi)?;
    let used = semi + 1;
    if let Some(num) = body.strip_prefix(b"#") {
        let (digits, radix) = match num.first() {
            Some(b'x' | b'X') => (num.get(1..)?, 16),
            _ => (num, 10),
        };
        let text = std::str::from_utf8(digits).ok()?;
        let v = u32::from_str_radix(text, radix).ok()?;
        let d = match v {
            0xA0 | 0x2002 | 0x2003 | 0x2009 => Decoded::Space,
            0xAD | 0x34F | 0x200B..=0x200F | 0x202A..=0x202E | 0x2060..=0x2064 | 0xFEFF => {
                Decoded::Drop
            }
            _ => Decoded::Char(char::from_u32(v).unwrap_or('\u{FFFD}')),
        };
        return Some((d, used));
    }
    let d = match body {
        b"amp" | b"AMP" => Decoded::Char('&'),
        b"lt" | b"LT" => Decoded::Char('<'),
        b"gt" | b"GT" => Decoded::Char('>'),
        b"quot" | b"QUOT" => Decoded::Char('"'),
        b"apos" => Decoded::Char('\''),
        b"nbsp" | b"ensp" | b"emsp" | b"thinsp" => Decoded::Space,
        b"zwnj" | b"zwj" | b"shy" | b"lrm" | b"rlm" => Decoded::Drop,
        b"copy" => Decoded::Char('©'),
        b"reg" => Decoded::Char('®'),
        b"trade" => Decoded::Char('™'),
        b"hellip" => Decoded::Char('…'),
        b"ndash" => Decoded::Char('–'),
        b"mdash" => Decoded::Char('—'),
        b"lsquo" => Decoded::Char('‘'),
        b"rsquo" => Decoded::Char('’'),
        b"ldquo" => Decoded::Char('“'),
        b"rdquo" => Decoded::Char('”'),
        b"bull" => Decoded::Char('•'),
        b"middot" => Decoded::Char('·'),
        b"euro" => Decoded::Char('€'),
        b"pound" => Decoded::Char('£'),
        b"yen" => Decoded::Char('¥'),
        b"cent" => Decoded::Char('¢'),
        b"laquo" => Decoded::Char('«'),
        b"raquo" => Decoded::Char('»'),
        b"times" => Decoded::Char('×'),
        b"deg" => Decoded::Char('°'),
        _ => return None,
    };
    Some((d, used))
}

/// What an inline style says about visibility and colours.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct StyleFlags {
    hidden: bool,
    color: Option<bool>,
    bg: Option<bool>,
}

/// Reads the declarations of an inline style.
fn style_flags(style: &[u8]) -> StyleFlags {
    let mut f = StyleFlags::default();
    let (mut zero_size, mut overflow_hidden) = (false, false);
    // Declarations are short: plain loops beat `memchr` set-up here.
    for decl in style.split(|&b| b == b';') {
        let Some(colon) = decl.iter().position(|&b| b == b':') else {
            continue;
        };
        let prop = trim(decl.get(..colon).unwrap_or(&[]));
        let p = |s: &[u8]| prop.eq_ignore_ascii_case(s);
        // Only these properties matter; most declarations are rejected on length and letter.
        let relevant = match (prop.len(), prop.first().map_or(0, u8::to_ascii_lowercase)) {
            (7, b'd') => p(b"display"),
            (10, b'v') => p(b"visibility"),
            (8, b'm') => p(b"mso-hide"),
            (9, b'f') => p(b"font-size"),
            (7, b'o') => p(b"opacity"),
            (10, b'm') | (9, b'm') => p(b"max-height") || p(b"max-width"),
            (6, b'h') => p(b"height"),
            (5, b'w') => p(b"width"),
            (8, b'o') => p(b"overflow"),
            (5, b'c') => p(b"color"),
            (16, b'b') | (10, b'b') => p(b"background-color") || p(b"background"),
            _ => false,
        };
        if !relevant {
            continue;
        }
        let value = trim(decl.get(colon + 1..).unwrap_or(&[]));
        let value = value.strip_suffix(b"!important").map_or(value, trim);
        let v = |s: &[u8]| value.eq_ignore_ascii_case(s);
        match prop.first().map_or(0, u8::to_ascii_lowercase) {
            b'd' => f.hidden |= v(b"none"),
            b'v' => f.hidden |= v(b"hidden") || v(b"collapse"),
            b'm' if prop.len() == 8 => f.hidden |= v(b"all"),
            b'f' => f.hidden |= tiny_length(value, 2.0),
            b'o' if prop.len() == 7 => f.hidden |= number(value).is_some_and(|(x, _)| x < 0.1),
            b'o' => overflow_hidden |= v(b"hidden"),
            b'm' | b'h' | b'w' => zero_size |= number(value).is_some_and(|(x, _)| x == 0.0),
            b'c' => f.color = Some(is_white(value)),
            b'b' if !(v(b"none") || v(b"transparent") || v(b"inherit") || value.is_empty()) => {
                f.bg = Some(is_white(value));
            }
            _ => {}
        }
    }
    f.hidden |= zero_size && overflow_hidden;
    f
}

/// A leading number and the unit after it (`1.5px` gives `(1.5, "px")`).
fn number(v: &[u8]) -> Option<(f32, &[u8])> {
    let end = v
        .iter()
        .position(|b| !(b.is_ascii_digit() || *b == b'.'))
        .unwrap_or(v.len());
    let x: f32 = std::str::from_utf8(v.get(..end)?).ok()?.parse().ok()?;
    Some((x, trim(v.get(end..).unwrap_or(&[]))))
}

/// Whether a CSS length is (nearly) zero: 0 in any unit, under `px_limit` px/pt, under 0.2em.
fn tiny_length(v: &[u8], px_limit: f32) -> bool {
    match number(v) {
        Some((0.0, _)) => true,
        Some((x, unit))
            if unit.eq_ignore_ascii_case(b"px")
                || unit.eq_ignore_ascii_case(b"pt")
                || unit.is_empty() =>
        {
            x < px_limit
        }
        Some((x, unit))
            if unit.eq_ignore_ascii_case(b"em") || unit.eq_ignore_ascii_case(b"rem") =>
        {
            x < 0.2
        }
        _ => false,
    }
}

/// Whether a CSS/HTML colour is white or near-white (every channel at least 240).
fn is_white(v: &[u8]) -> bool {
    let v = trim(v);
    if v.eq_ignore_ascii_case(b"white") {
        return true;
    }
    let hex =
        |s: &[u8]| -> Option<u32> { u32::from_str_radix(std::str::from_utf8(s).ok()?, 16).ok() };
    if let Some(h) = v.strip_prefix(b"#") {
        let rgb = match h.len() {
            3 => hex(h).map(|x| (((x >> 8) & 15) * 17, ((x >> 4) & 15) * 17, (x & 15) * 17)),
            6 => hex(h).map(|x| ((x >> 16) & 255, (x >> 8) & 255, x & 255)),
            _ => None,
        };
        return rgb.is_some_and(|(r, g, b)| r >= 240 && g >= 240 && b >= 240);
    }
    if v.len() > 4 && v.get(..4).is_some_and(|p| p.eq_ignore_ascii_case(b"rgb(")) {
        let inner = v.get(4..).unwrap_or(&[]);
        let inner = inner.strip_suffix(b")").unwrap_or(inner);
        let inner = inner.strip_prefix(b"a(").unwrap_or(inner);
        let mut n = 0;
        for part in inner.split(|&b| b == b',').take(3) {
            match number(trim(part)) {
                Some((x, _)) if x >= 240.0 => n += 1,
                _ => return false,
            }
        }
        return n == 3;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan(h: &str) -> HtmlScan {
        let mut s = HtmlScan::default();
        s.scan(h.as_bytes());
        s
    }

    fn text(s: &HtmlScan) -> String {
        String::from_utf8_lossy(&s.text).into_owned()
    }

    #[test]
    fn visible_text_links_and_anchors() {
        let s = scan(
            "<html><head><title>T</title><style>p{color:red}</style></head><body><P>Hello&nbsp;<b>World</b> &amp; co&#33;</P>\
             <a href=\"http://192.168.4.7/login?a=1&amp;b=2\">https://www.paypal.com</a><img src='https://cdn.x.com/l.png'>\
             <script>var x = '<a href=\"http://no\">';</script><!-- <a href=\"http://comment\"> --></body></html>",
        );
        assert_eq!(text(&s), "Hello World & co! https://www.paypal.com");
        assert_eq!(s.links.len(), 2);
        let href = s.links.first().map(|l| {
            String::from_utf8_lossy(s.attr.get(l.start..l.end).unwrap_or(&[])).into_owned()
        });
        assert_eq!(href.as_deref(), Some("http://192.168.4.7/login?a=1&b=2"));
        assert_eq!(s.anchors.len(), 1);
        let a = s.anchors.first().map(|a| {
            String::from_utf8_lossy(s.text.get(a.text.0..a.text.1).unwrap_or(&[])).into_owned()
        });
        assert_eq!(a.as_deref(), Some("https://www.paypal.com"));
        assert_eq!((s.images, s.scripts, s.forms), (1, 1, 0));
    }

    #[test]
    fn forms_and_password_inputs() {
        let s = scan("<form action=\"https://evil.example/collect\" method=post><input type=\"text\" name=u><INPUT TYPE=PASSWORD name=p></form>");
        assert_eq!((s.forms, s.inputs, s.password_inputs), (1, 2, 1));
        assert_eq!(s.links.first().map(|l| l.kind), Some(LinkKind::Action));
    }

    #[test]
    fn hidden_text() {
        let s = scan("<div style=\"display:none\">secret <b>words</b></div>shown<span style='font-size:0px'>x</span><p style=\"color:#FFFFFF\">white</p><td bgcolor=\"#0070ba\"><a style=\"color:#fff\">button</a></td>");
        assert_eq!(text(&s), "shown button");
        assert_eq!(s.hidden_chars, "secretwordsxwhite".len() as u32);
        assert_eq!(s.hidden_elements, 3);
        let s = scan("<div style=\"max-height:0;overflow:hidden;mso-hide:all\">pre</div><div style=\"opacity: 0.5\">half</div>");
        assert_eq!(text(&s), "half");
        assert_eq!(s.hidden_chars, 3);
    }

    #[test]
    fn meta_refresh_and_entities() {
        let s = scan("<meta http-equiv=\"Refresh\" content=\"0; URL=https://x.example/\">pa&#8203;ss&shy;word &#x41;&unknown; &#99999999;");
        assert_eq!(s.meta_refresh, 1);
        assert_eq!(s.links.first().map(|l| l.kind), Some(LinkKind::Refresh));
        assert_eq!(text(&s), "password A&unknown; \u{fffd}");
        assert_eq!(s.zero_width, 2);
    }

    #[test]
    fn tolerates_broken_markup() {
        for h in [
            "<",
            "<a",
            "<a href=\"x",
            "<div style='display:none'",
            "</div></div>",
            "a < b > c",
            "<!--",
            "<script>",
            "&#x;",
            "&",
            "<p style=\"color:\">x",
            "<\u{e9}>",
        ] {
            let s = scan(h);
            assert!(s.text.len() <= h.len() + 4, "{h}");
        }
        assert_eq!(text(&scan("a < b")), "a < b");
    }
}
