//! A small regular-expression engine for MATCHES and LIKE: Python `re` syntax subset compiled
//! to a Pike VM (a set of threads stepped over the input), so matching is O(input × program)
//! with no backtracking. Supported: literals, `.`, classes `[..]` with ranges and `\d\w\s`,
//! escapes (`\xHH`, `\uHHHH`, `\n`, ...), `^ $ \A \Z \b \B`, groups `( )` `(?: )` `(?P<n> )`,
//! `|`, and `* + ? {n} {n,} {n,m}` (lazy forms accepted; they match the same strings).
//! Rejected with an error: backreferences, lookaround, inline flags.

/// Largest compiled program accepted (bounds `{n,m}` expansion).
const MAX_PROGRAM: usize = 20_000;

#[derive(Debug, Clone, PartialEq)]
enum ClassItem {
    Range(u32, u32),
    Perl(Perl, bool),
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Perl {
    Digit,
    Word,
    Space,
}

#[derive(Debug, Clone, PartialEq)]
struct Class {
    items: Vec<ClassItem>,
    negated: bool,
}

#[derive(Debug, Clone, PartialEq)]
enum Node {
    Empty,
    Char(u32),
    Any,
    Class(Class),
    Start,
    End,
    TextStart,
    TextEnd,
    WordB(bool),
    Concat(Vec<Node>),
    Alt(Vec<Node>),
    Repeat(Box<Node>, u32, Option<u32>),
}

#[derive(Debug, Clone, PartialEq)]
enum Inst {
    Char(u32),
    Any,
    Class(Class),
    Split(usize, usize),
    Jmp(usize),
    Start,
    End,
    TextStart,
    TextEnd,
    WordB(bool),
    Match,
}

/// A compiled pattern.
#[derive(Debug, Clone, PartialEq)]
pub struct Regex {
    prog: Vec<Inst>,
    /// Every literal code point < 256: may be applied to binary values.
    byte_compatible: bool,
}

impl Regex {
    /// Compiles a Python-syntax regex (subset; see the module docs).
    pub fn new(src: &str) -> Result<Regex, String> {
        let chars: Vec<char> = src.chars().collect();
        let mut p = RParser {
            c: &chars,
            i: 0,
            depth: 0,
        };
        let node = p.alt()?;
        if p.i < chars.len() {
            return Err(format!("regex: unbalanced ')' at {}", p.i));
        }
        Regex::compile(&node, src.chars().all(|c| (c as u32) < 256))
    }

    /// Compiles a LIKE pattern (`%` any run, `_` one character; anchored both ends).
    pub fn like(src: &str) -> Regex {
        let mut parts = vec![Node::Start];
        for c in src.chars() {
            parts.push(match c {
                '%' => Node::Repeat(Box::new(Node::Any), 0, None),
                '_' => Node::Any,
                c => Node::Char(c as u32),
            });
        }
        parts.push(Node::End);
        let byte_compatible = src.chars().all(|c| (c as u32) < 256);
        // A LIKE program is linear in the pattern and never exceeds the limit for patterns
        // the parser accepts; fall back to a never-matching program rather than panic.
        Regex::compile(&Node::Concat(parts), byte_compatible).unwrap_or(Regex {
            prog: Vec::new(),
            byte_compatible,
        })
    }

    fn compile(node: &Node, byte_compatible: bool) -> Result<Regex, String> {
        let mut prog = Vec::new();
        emit(node, &mut prog)?;
        prog.push(Inst::Match);
        Ok(Regex {
            prog,
            byte_compatible,
        })
    }

    /// Searches a string (Python `re.search`; LIKE programs are anchored themselves).
    pub fn is_match_str(&self, s: &str) -> bool {
        let text: Vec<u32> = s.chars().map(|c| c as u32).collect();
        self.run(&text, false)
    }

    /// Searches binary data, bytes as code points 0–255; `false` when the pattern has
    /// characters above 255.
    pub fn is_match_bytes(&self, b: &[u8]) -> bool {
        if !self.byte_compatible {
            return false;
        }
        let text: Vec<u32> = b.iter().map(|&x| u32::from(x)).collect();
        self.run(&text, true)
    }

    fn run(&self, text: &[u32], bytes: bool) -> bool {
        let n = self.prog.len();
        if n == 0 {
            return false;
        }
        let mut clist: Vec<usize> = Vec::new();
        let mut nlist: Vec<usize> = Vec::new();
        let mut mark = vec![usize::MAX; n];
        let mut stack = Vec::new();
        for pos in 0..=text.len() {
            // Unanchored search: a new thread starts at every position.
            if self.add(
                0,
                pos,
                text,
                bytes,
                &mut clist,
                &mut mark,
                &mut stack,
                pos * 2,
            ) {
                return true;
            }
            let Some(&ch) = text.get(pos) else { break };
            nlist.clear();
            for &pc in &clist {
                let ok = match self.prog.get(pc) {
                    Some(Inst::Char(c)) => *c == ch,
                    Some(Inst::Any) => ch != u32::from(b'\n'),
                    Some(Inst::Class(cls)) => class_match(cls, ch, bytes),
                    _ => false,
                };
                if ok
                    && self.add(
                        pc + 1,
                        pos + 1,
                        text,
                        bytes,
                        &mut nlist,
                        &mut mark,
                        &mut stack,
                        pos * 2 + 1,
                    )
                {
                    return true;
                }
            }
            std::mem::swap(&mut clist, &mut nlist);
            // Threads for the next position were added under generation pos*2+1; the fresh
            // start thread uses (pos+1)*2, so re-mark the carried threads to avoid duplicates.
            for &pc in &clist {
                if let Some(m) = mark.get_mut(pc) {
                    *m = (pos + 1) * 2;
                }
            }
        }
        false
    }

    /// Adds the thread `pc` (following epsilon moves) at `pos`; true when it reaches Match.
    #[allow(clippy::too_many_arguments)]
    fn add(
        &self,
        pc: usize,
        pos: usize,
        text: &[u32],
        bytes: bool,
        list: &mut Vec<usize>,
        mark: &mut [usize],
        stack: &mut Vec<usize>,
        generation: usize,
    ) -> bool {
        stack.clear();
        stack.push(pc);
        while let Some(pc) = stack.pop() {
            match mark.get_mut(pc) {
                Some(m) if *m == generation => continue,
                Some(m) => *m = generation,
                None => continue,
            }
            let prev = pos.checked_sub(1).and_then(|p| text.get(p)).copied();
            let next = text.get(pos).copied();
            match self.prog.get(pc) {
                Some(Inst::Match) => return true,
                Some(Inst::Jmp(x)) => stack.push(*x),
                Some(Inst::Split(x, y)) => {
                    stack.push(*y);
                    stack.push(*x);
                }
                Some(Inst::Start) | Some(Inst::TextStart) if pos == 0 => stack.push(pc + 1),
                Some(Inst::Start) | Some(Inst::TextStart) => {}
                Some(Inst::End) => {
                    let at_end = pos == text.len()
                        || (pos + 1 == text.len() && next == Some(u32::from(b'\n')));
                    if at_end {
                        stack.push(pc + 1);
                    }
                }
                Some(Inst::TextEnd) if pos == text.len() => stack.push(pc + 1),
                Some(Inst::TextEnd) => {}
                Some(Inst::WordB(want)) => {
                    let w = |c: Option<u32>| c.is_some_and(|c| is_word(c, bytes));
                    if (w(prev) != w(next)) == *want {
                        stack.push(pc + 1);
                    }
                }
                Some(_) => list.push(pc),
                None => {}
            }
        }
        false
    }
}

fn is_word(c: u32, bytes: bool) -> bool {
    if bytes || c < 128 {
        return c < 128 && ((c as u8).is_ascii_alphanumeric() || c == u32::from(b'_'));
    }
    char::from_u32(c).is_some_and(char::is_alphanumeric)
}

fn perl_match(p: Perl, c: u32, bytes: bool) -> bool {
    match p {
        Perl::Digit => {
            if bytes || c < 128 {
                c < 128 && (c as u8).is_ascii_digit()
            } else {
                char::from_u32(c).is_some_and(char::is_numeric)
            }
        }
        Perl::Word => is_word(c, bytes),
        Perl::Space => {
            if bytes || c < 128 {
                matches!(c, 9..=13 | 32) || (!bytes && matches!(c, 28..=31))
            } else {
                char::from_u32(c).is_some_and(char::is_whitespace)
            }
        }
    }
}

fn class_match(cls: &Class, c: u32, bytes: bool) -> bool {
    let hit = cls.items.iter().any(|it| match it {
        ClassItem::Range(lo, hi) => (*lo..=*hi).contains(&c),
        ClassItem::Perl(p, neg) => perl_match(*p, c, bytes) != *neg,
    });
    hit != cls.negated
}

fn emit(node: &Node, prog: &mut Vec<Inst>) -> Result<(), String> {
    if prog.len() > MAX_PROGRAM {
        return Err(format!("regex too large (over {MAX_PROGRAM} instructions)"));
    }
    match node {
        Node::Empty => {}
        Node::Char(c) => prog.push(Inst::Char(*c)),
        Node::Any => prog.push(Inst::Any),
        Node::Class(c) => prog.push(Inst::Class(c.clone())),
        Node::Start => prog.push(Inst::Start),
        Node::End => prog.push(Inst::End),
        Node::TextStart => prog.push(Inst::TextStart),
        Node::TextEnd => prog.push(Inst::TextEnd),
        Node::WordB(b) => prog.push(Inst::WordB(*b)),
        Node::Concat(v) => {
            for n in v {
                emit(n, prog)?;
            }
        }
        Node::Alt(v) => {
            // split L1, next ; L1: a ; jmp end ; next: split ... ; last: z ; end:
            let mut jumps = Vec::new();
            for (k, n) in v.iter().enumerate() {
                if k + 1 < v.len() {
                    let split = prog.len();
                    prog.push(Inst::Split(split + 1, 0));
                    emit(n, prog)?;
                    jumps.push(prog.len());
                    prog.push(Inst::Jmp(0));
                    let here = prog.len();
                    if let Some(Inst::Split(_, y)) = prog.get_mut(split) {
                        *y = here;
                    }
                } else {
                    emit(n, prog)?;
                }
            }
            let end = prog.len();
            for j in jumps {
                if let Some(Inst::Jmp(x)) = prog.get_mut(j) {
                    *x = end;
                }
            }
        }
        Node::Repeat(n, min, max) => {
            for _ in 0..*min {
                emit(n, prog)?;
                if prog.len() > MAX_PROGRAM {
                    return Err(format!("regex too large (over {MAX_PROGRAM} instructions)"));
                }
            }
            match max {
                None => {
                    // L: split body, end ; body ; jmp L ; end:
                    let l = prog.len();
                    prog.push(Inst::Split(l + 1, 0));
                    emit(n, prog)?;
                    prog.push(Inst::Jmp(l));
                    let end = prog.len();
                    if let Some(Inst::Split(_, y)) = prog.get_mut(l) {
                        *y = end;
                    }
                }
                Some(max) => {
                    let mut splits = Vec::new();
                    for _ in *min..*max {
                        splits.push(prog.len());
                        prog.push(Inst::Split(prog.len() + 1, 0));
                        emit(n, prog)?;
                        if prog.len() > MAX_PROGRAM {
                            return Err(format!(
                                "regex too large (over {MAX_PROGRAM} instructions)"
                            ));
                        }
                    }
                    let end = prog.len();
                    for s in splits {
                        if let Some(Inst::Split(_, y)) = prog.get_mut(s) {
                            *y = end;
                        }
                    }
                }
            }
        }
    }
    Ok(())
}

struct RParser<'a> {
    c: &'a [char],
    i: usize,
    depth: usize,
}

impl RParser<'_> {
    fn peek(&self) -> Option<char> {
        self.c.get(self.i).copied()
    }

    fn alt(&mut self) -> Result<Node, String> {
        self.depth += 1;
        if self.depth > 100 {
            return Err("regex nested too deeply".into());
        }
        let mut alts = vec![self.concat()?];
        while self.peek() == Some('|') {
            self.i += 1;
            alts.push(self.concat()?);
        }
        self.depth -= 1;
        Ok(if alts.len() == 1 {
            alts.pop().unwrap_or(Node::Empty)
        } else {
            Node::Alt(alts)
        })
    }

    fn concat(&mut self) -> Result<Node, String> {
        let mut items = Vec::new();
        while let Some(c) = self.peek() {
            if c == '|' || c == ')' {
                break;
            }
            let atom = self.atom()?;
            let atom = self.quantifier(atom)?;
            items.push(atom);
        }
        Ok(Node::Concat(items))
    }

    fn quantifier(&mut self, atom: Node) -> Result<Node, String> {
        let mut node = atom;
        loop {
            let (min, max) = match self.peek() {
                Some('*') => (0, None),
                Some('+') => (1, None),
                Some('?') => (0, Some(1)),
                Some('{') => match self.braces() {
                    Some((min, max, len)) => {
                        self.i += len - 1;
                        (min, max)
                    }
                    None => return Ok(node),
                },
                _ => return Ok(node),
            };
            self.i += 1;
            if matches!(
                node,
                Node::Start | Node::End | Node::TextStart | Node::TextEnd | Node::WordB(_)
            ) {
                return Err(format!("regex: nothing to repeat at {}", self.i - 1));
            }
            if let Some(max) = max {
                if max < min {
                    return Err("regex: min repeat greater than max repeat".into());
                }
            }
            if min > 1000 || max.is_some_and(|m| m > 1000) {
                return Err("regex: repeat count above 1000".into());
            }
            if self.peek() == Some('?') {
                self.i += 1; // lazy: same language
            }
            if matches!(self.peek(), Some('*' | '+' | '?')) {
                return Err(format!("regex: multiple repeat at {}", self.i));
            }
            node = Node::Repeat(Box::new(node), min, max);
        }
    }

    /// `{n}`, `{n,}`, `{n,m}` at the cursor: (min, max, length incl. braces).
    fn braces(&self) -> Option<(u32, Option<u32>, usize)> {
        let rest = self.c.get(self.i..)?;
        let close = rest.iter().position(|&c| c == '}')?;
        let inner: String = rest.get(1..close)?.iter().collect();
        let (a, b) = match inner.split_once(',') {
            Some((a, b)) => (a, Some(b)),
            None => (inner.as_str(), None),
        };
        let parse = |s: &str| -> Option<u32> {
            if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) || s.len() > 6 {
                None
            } else {
                s.parse().ok()
            }
        };
        let min = if a.is_empty() && b.is_some() {
            0
        } else {
            parse(a)?
        };
        let max = match b {
            None => Some(min),
            Some("") => None,
            Some(b) => Some(parse(b)?),
        };
        Some((min, max, close + 1))
    }

    fn atom(&mut self) -> Result<Node, String> {
        let Some(c) = self.peek() else {
            return Ok(Node::Empty);
        };
        self.i += 1;
        Ok(match c {
            '.' => Node::Any,
            '^' => Node::Start,
            '$' => Node::End,
            '*' | '+' | '?' => return Err(format!("regex: nothing to repeat at {}", self.i - 1)),
            '(' => {
                if self.peek() == Some('?') {
                    match (self.c.get(self.i + 1), self.c.get(self.i + 2)) {
                        (Some(':'), _) => self.i += 2,
                        (Some('P'), Some('<')) => {
                            let close = self.c[self.i..]
                                .iter()
                                .position(|&c| c == '>')
                                .ok_or("regex: unterminated group name")?;
                            self.i += close + 1;
                        }
                        _ => {
                            return Err(
                                "regex: lookaround, inline flags and other (?...) groups are not supported"
                                    .into(),
                            )
                        }
                    }
                }
                let inner = self.alt()?;
                if self.peek() != Some(')') {
                    return Err("regex: missing ')'".into());
                }
                self.i += 1;
                inner
            }
            '[' => Node::Class(self.class()?),
            '\\' => self.escape(false)?,
            c => Node::Char(c as u32),
        })
    }

    fn escape(&mut self, in_class: bool) -> Result<Node, String> {
        let c = self.peek().ok_or("regex: trailing backslash")?;
        self.i += 1;
        let perl = |p, neg| {
            Node::Class(Class {
                items: vec![ClassItem::Perl(p, neg)],
                negated: false,
            })
        };
        Ok(match c {
            'd' => perl(Perl::Digit, false),
            'D' => perl(Perl::Digit, true),
            'w' => perl(Perl::Word, false),
            'W' => perl(Perl::Word, true),
            's' => perl(Perl::Space, false),
            'S' => perl(Perl::Space, true),
            'b' if in_class => Node::Char(8),
            'b' => Node::WordB(true),
            'B' if !in_class => Node::WordB(false),
            'A' if !in_class => Node::TextStart,
            'Z' if !in_class => Node::TextEnd,
            'n' => Node::Char(10),
            't' => Node::Char(9),
            'r' => Node::Char(13),
            'f' => Node::Char(12),
            'v' => Node::Char(11),
            'a' => Node::Char(7),
            '0' => Node::Char(0),
            'x' => Node::Char(self.hex(2)?),
            'u' => Node::Char(self.hex(4)?),
            'U' => Node::Char(self.hex(8)?),
            '1'..='9' => return Err("regex: backreferences are not supported".into()),
            c if c.is_ascii_alphanumeric() => {
                return Err(format!("regex: bad escape \\{c}"));
            }
            c => Node::Char(c as u32),
        })
    }

    fn hex(&mut self, n: usize) -> Result<u32, String> {
        let digits: String = self
            .c
            .get(self.i..self.i + n)
            .ok_or("regex: incomplete hex escape")?
            .iter()
            .collect();
        let v = u32::from_str_radix(&digits, 16).map_err(|_| "regex: bad hex escape")?;
        self.i += n;
        Ok(v)
    }

    fn class(&mut self) -> Result<Class, String> {
        let mut negated = false;
        if self.peek() == Some('^') {
            negated = true;
            self.i += 1;
        }
        let mut items = Vec::new();
        let mut first = true;
        loop {
            let c = self.peek().ok_or("regex: unterminated character set")?;
            if c == ']' && !first {
                self.i += 1;
                break;
            }
            first = false;
            let lo = self.class_atom()?;
            let lo = match lo {
                Node::Char(c) => c,
                Node::Class(cls) => {
                    items.extend(cls.items);
                    continue;
                }
                _ => return Err("regex: bad item in character set".into()),
            };
            if self.peek() == Some('-') && self.c.get(self.i + 1).is_some_and(|&c| c != ']') {
                self.i += 1;
                match self.class_atom()? {
                    Node::Char(hi) if hi >= lo => items.push(ClassItem::Range(lo, hi)),
                    _ => return Err("regex: bad character range".into()),
                }
            } else {
                items.push(ClassItem::Range(lo, lo));
            }
        }
        Ok(Class { items, negated })
    }

    fn class_atom(&mut self) -> Result<Node, String> {
        let c = self.peek().ok_or("regex: unterminated character set")?;
        self.i += 1;
        if c == '\\' {
            self.escape(true)
        } else {
            Ok(Node::Char(c as u32))
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn m(re: &str, s: &str) -> bool {
        Regex::new(re).unwrap().is_match_str(s)
    }

    #[test]
    fn basics() {
        assert!(m("l+", "hello"));
        assert!(m(".lo$", "hello"));
        assert!(!m("^...?$", "alice"));
        assert!(m("^...?$", "bob"));
        assert!(m("", "x"));
        assert!(m(".+\\@example\\.com$", "a@example.com"));
        assert!(m("^(ab|cd){2}x$", "abcdx"));
        assert!(!m("^(ab|cd){2}x$", "abx"));
        assert!(m("[^a-c]", "abcd"));
        assert!(m("\\bfoo\\b", "a foo b"));
        assert!(!m("\\bfoo\\b", "afoob"));
        assert!(Regex::new("\\x61li[c\\x01]e")
            .unwrap()
            .is_match_bytes(b"alice"));
        assert!(Regex::new("(a)\\1").is_err());
        assert!(Regex::new("(?=a)").is_err());
        assert!(Regex::new("a{2000}").is_err());
    }

    #[test]
    fn pathological_is_linear() {
        let re = Regex::new("(a*)*b").unwrap();
        assert!(!re.is_match_str(&"a".repeat(5000)));
    }

    #[test]
    fn like() {
        let l = Regex::like("he%");
        assert!(l.is_match_str("hello"));
        assert!(!l.is_match_str("ahello"));
        assert!(Regex::like("he__o").is_match_str("hello"));
        assert!(!Regex::like("he_o").is_match_str("hello"));
    }
}
