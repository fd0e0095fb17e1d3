//! The Sigma condition grammar: `and`, `or`, `not`, parentheses, `1 of x*`, `all of x*`,
//! `1 of them`, `all of them`; precedence not > and > or. Aggregations (`| count() …`) and
//! `near` are rejected with a reason.

/// A compiled condition over selection indices.
#[derive(Debug, Clone, PartialEq)]
pub enum Cond {
    /// A selection.
    Sel(usize),
    /// All of.
    And(Vec<Cond>),
    /// Any of.
    Or(Vec<Cond>),
    /// Negation.
    Not(Box<Cond>),
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    And,
    Or,
    Not,
    Open,
    Close,
    Of(Quant),
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Quant {
    One,
    All,
}

fn lex(s: &str) -> Result<Vec<Tok>, String> {
    if s.contains('|') {
        return Err("aggregation in condition".to_string());
    }
    let mut out = Vec::new();
    let spaced = s.replace('(', " ( ").replace(')', " ) ");
    let words: Vec<&str> = spaced.split_whitespace().collect();
    let mut i = 0;
    while let Some(&w) = words.get(i) {
        let lw = w.to_ascii_lowercase();
        match lw.as_str() {
            "and" => out.push(Tok::And),
            "or" => out.push(Tok::Or),
            "not" => out.push(Tok::Not),
            "(" => out.push(Tok::Open),
            ")" => out.push(Tok::Close),
            "1" | "any" | "all"
                if words.get(i + 1).map(|x| x.to_ascii_lowercase()) == Some("of".to_string()) =>
            {
                out.push(Tok::Of(if lw == "all" { Quant::All } else { Quant::One }));
                i += 1;
            }
            "near" => return Err("near in condition".to_string()),
            _ => {
                if lw.chars().all(|c| c.is_ascii_digit())
                    && words
                        .get(i + 1)
                        .is_some_and(|x| x.eq_ignore_ascii_case("of"))
                {
                    return Err(format!("{w} of (count other than 1)"));
                }
                if !w
                    .chars()
                    .all(|c| c.is_alphanumeric() || c == '_' || c == '*' || c == '-' || c == '.')
                {
                    return Err(format!("bad token {w:?} in condition"));
                }
                out.push(Tok::Ident(w.to_string()));
            }
        }
        i += 1;
    }
    Ok(out)
}

/// Glob over selection names (`selection_*`).
fn name_match(pat: &str, name: &str) -> bool {
    match pat.split_once('*') {
        None => pat == name,
        Some((pre, rest)) => {
            if !name.starts_with(pre) {
                return false;
            }
            let tail = &name[pre.len()..];
            if rest.is_empty() {
                return true;
            }
            (0..=tail.len())
                .filter(|&i| tail.is_char_boundary(i))
                .any(|i| name_match(rest, &tail[i..]))
        }
    }
}

struct Parser<'a> {
    toks: Vec<Tok>,
    pos: usize,
    names: &'a [String],
    depth: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }

    fn or(&mut self) -> Result<Cond, String> {
        let mut items = vec![self.and()?];
        while self.peek() == Some(&Tok::Or) {
            self.pos += 1;
            items.push(self.and()?);
        }
        Ok(if items.len() == 1 {
            items.pop().ok_or("empty")?
        } else {
            Cond::Or(items)
        })
    }

    fn and(&mut self) -> Result<Cond, String> {
        let mut items = vec![self.not()?];
        while self.peek() == Some(&Tok::And) {
            self.pos += 1;
            items.push(self.not()?);
        }
        Ok(if items.len() == 1 {
            items.pop().ok_or("empty")?
        } else {
            Cond::And(items)
        })
    }

    fn not(&mut self) -> Result<Cond, String> {
        if self.peek() == Some(&Tok::Not) {
            self.pos += 1;
            self.depth += 1;
            if self.depth > 64 {
                return Err("condition nested too deeply".to_string());
            }
            let inner = self.not()?;
            self.depth -= 1;
            return Ok(Cond::Not(Box::new(inner)));
        }
        self.atom()
    }

    fn atom(&mut self) -> Result<Cond, String> {
        let t = self.peek().cloned();
        self.pos += 1;
        match t {
            Some(Tok::Open) => {
                self.depth += 1;
                if self.depth > 64 {
                    return Err("condition nested too deeply".to_string());
                }
                let c = self.or()?;
                self.depth -= 1;
                if self.peek() != Some(&Tok::Close) {
                    return Err("unbalanced parentheses in condition".to_string());
                }
                self.pos += 1;
                Ok(c)
            }
            Some(Tok::Ident(name)) => self
                .names
                .iter()
                .position(|n| *n == name)
                .map(Cond::Sel)
                .ok_or_else(|| format!("condition names unknown selection {name}")),
            Some(Tok::Of(q)) => {
                let Some(Tok::Ident(pat)) = self.peek().cloned() else {
                    return Err("`of` without a selection pattern".to_string());
                };
                self.pos += 1;
                let idx: Vec<usize> = if pat == "them" {
                    // `them` leaves out identifiers starting with an underscore (spec 2.0).
                    (0..self.names.len())
                        .filter(|&i| !self.names[i].starts_with('_'))
                        .collect()
                } else {
                    (0..self.names.len())
                        .filter(|&i| name_match(&pat, &self.names[i]))
                        .collect()
                };
                if idx.is_empty() {
                    return Err(format!("condition pattern {pat} matches no selection"));
                }
                let items = idx.into_iter().map(Cond::Sel).collect();
                Ok(match q {
                    Quant::One => Cond::Or(items),
                    Quant::All => Cond::And(items),
                })
            }
            _ => Err("malformed condition".to_string()),
        }
    }
}

/// Parses a condition over the named selections.
pub fn parse(s: &str, names: &[String]) -> Result<Cond, String> {
    let toks = lex(s)?;
    if toks.is_empty() {
        return Err("empty condition".to_string());
    }
    let mut p = Parser {
        toks,
        pos: 0,
        names,
        depth: 0,
    };
    let c = p.or()?;
    if p.pos != p.toks.len() {
        return Err("trailing tokens in condition".to_string());
    }
    Ok(c)
}

/// Evaluates a condition; `sel` evaluates a selection.
pub fn eval(c: &Cond, sel: &mut dyn FnMut(usize) -> bool) -> bool {
    match c {
        Cond::Sel(i) => sel(*i),
        Cond::And(items) => items.iter().all(|x| eval(x, sel)),
        Cond::Or(items) => items.iter().any(|x| eval(x, sel)),
        Cond::Not(x) => !eval(x, sel),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names() -> Vec<String> {
        ["selection_a", "selection_b", "filter", "_x"]
            .iter()
            .map(|s| s.to_string())
            .collect()
    }

    fn run(cond: &str, truth: [bool; 4]) -> bool {
        let c = parse(cond, &names()).expect("parses");
        eval(&c, &mut |i| truth[i])
    }

    #[test]
    fn grammar() {
        assert!(run(
            "selection_a and not filter",
            [true, false, false, false]
        ));
        assert!(!run(
            "selection_a and not filter",
            [true, false, true, false]
        ));
        assert!(run(
            "1 of selection_* and not filter",
            [false, true, false, false]
        ));
        assert!(!run("all of selection_*", [false, true, false, false]));
        assert!(run("all of selection_*", [true, true, false, false]));
        assert!(run(
            "selection_a or selection_b and filter",
            [true, false, false, false]
        ));
        assert!(!run(
            "(selection_a or selection_b) and filter",
            [true, false, false, false]
        ));
        assert!(run("all of them", [true, true, true, false]));
        assert!(run("1 of them", [false, false, true, false]));
        assert!(!run("1 of them", [false, false, false, true]));
        assert!(run("not not selection_a", [true, false, false, false]));
    }

    #[test]
    fn rejects() {
        let n = names();
        assert!(parse("selection_a | count() > 5", &n).is_err());
        assert!(parse("selection_c", &n).is_err());
        assert!(parse("(selection_a", &n).is_err());
        assert!(parse("selection_a selection_b", &n).is_err());
        assert!(parse("2 of selection_*", &n).is_err());
        assert!(parse("", &n).is_err());
    }
}
