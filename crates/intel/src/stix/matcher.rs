//! Evaluation of patterns against observed-data, after the reference `stix2-matcher`.
//!
//! A comparison expression selects, per observed-data SDO, the set of root objects it holds
//! for (AND intersects those sets, so `[a:x = 1 AND a:y = 2]` needs one object with both).
//! Each SDO stands for `number_observed` observations, each with the SDO's
//! `[first_observed, last_observed]` interval. An observation expression yields *bindings*:
//! sets of observations; AND and FOLLOWEDBY join disjoint sets, REPEATS n joins n disjoint ones,
//! WITHIN needs `max(first) - min(last) <= d`, START/STOP needs every interval to overlap
//! `[start, stop)`, FOLLOWEDBY needs `max(first of left) <= min(last of right)`.

use std::cmp::Ordering;
use std::collections::{BTreeSet, HashMap, HashSet};
use std::net::IpAddr;

use serde_json::{Map, Value};

use super::pattern::{decode_base64, CompOp, CompareExpr, Literal, ObsExpr, PathStep, Qualifier};
use super::pattern::{Pattern, Timestamp};
use super::StixError;

/// Work budget per evaluation (binding pair checks and path steps).
const BUDGET: u64 = 50_000_000;
/// Most observations (after `number_observed` expansion) one evaluation accepts.
const MAX_OBSERVATIONS: usize = 100_000;

struct Sdo<'a> {
    first: i128,
    last: i128,
    count: usize,
    roots: Vec<&'a Value>,
    objects: Option<&'a Map<String, Value>>,
}

/// Observed-data SDOs ready for matching, borrowed from their JSON.
pub struct Observations<'a> {
    sdos: Vec<Sdo<'a>>,
    ids: HashMap<&'a str, &'a Value>,
}

impl<'a> Observations<'a> {
    /// Collects observed-data from bundles, observed-data objects and arrays of either.
    /// SCOs are found through `object_refs` (STIX 2.1, by id anywhere in the input) or the
    /// embedded `objects` dictionary (STIX 2.0).
    pub fn new(values: &'a [Value]) -> Result<Observations<'a>, StixError> {
        let mut ids = HashMap::new();
        let mut sdo_values = Vec::new();
        let mut stack: Vec<&'a Value> = values.iter().rev().collect();
        while let Some(v) = stack.pop() {
            match v {
                Value::Array(items) => stack.extend(items.iter().rev()),
                Value::Object(o) => {
                    match o.get("type").and_then(Value::as_str) {
                        Some("bundle") => {
                            if let Some(Value::Array(objs)) = o.get("objects") {
                                stack.extend(objs.iter().rev());
                            }
                            continue;
                        }
                        Some("observed-data") => sdo_values.push(o),
                        _ => {}
                    }
                    if let Some(id) = o.get("id").and_then(Value::as_str) {
                        ids.insert(id, v);
                    }
                }
                _ => {}
            }
        }
        let mut sdos = Vec::new();
        let mut total = 0usize;
        for o in sdo_values {
            let ts = |k: &str| -> Result<i128, StixError> {
                let s = o
                    .get(k)
                    .and_then(Value::as_str)
                    .ok_or_else(|| StixError::Match(format!("observed-data without {k}")))?;
                Timestamp::parse(s)
                    .map(Timestamp::epoch_nanos)
                    .ok_or_else(|| StixError::Match(format!("invalid {k}: {s}")))
            };
            let count = match o.get("number_observed") {
                None => 1,
                Some(n) => match n.as_u64() {
                    Some(n) if n >= 1 => usize::try_from(n).unwrap_or(usize::MAX),
                    _ => {
                        return Err(StixError::Match(format!(
                            "observed-data with invalid number_observed {n}"
                        )))
                    }
                },
            };
            total = total.saturating_add(count);
            if total > MAX_OBSERVATIONS {
                return Err(StixError::Match(format!(
                    "more than {MAX_OBSERVATIONS} observations"
                )));
            }
            let objects = o.get("objects").and_then(Value::as_object);
            let mut roots: Vec<&Value> = Vec::new();
            if let Some(Value::Array(refs)) = o.get("object_refs") {
                roots.extend(
                    refs.iter()
                        .filter_map(Value::as_str)
                        .filter_map(|r| ids.get(r).copied()),
                );
            }
            if let Some(objs) = objects {
                roots.extend(objs.values());
            }
            sdos.push(Sdo {
                first: ts("first_observed")?,
                last: ts("last_observed")?,
                count,
                roots,
                objects,
            });
        }
        Ok(Observations { sdos, ids })
    }

    /// How many observed-data SDOs were found.
    pub fn len(&self) -> usize {
        self.sdos.len()
    }

    /// No observed-data found.
    pub fn is_empty(&self) -> bool {
        self.sdos.is_empty()
    }
}

impl Pattern {
    /// Whether the pattern matches the observations.
    pub fn matches(&self, obs: &Observations<'_>) -> Result<bool, StixError> {
        let mut ev = Eval {
            obs,
            steps: 0,
            expanded: Vec::new(),
            words: 0,
        };
        for (i, s) in obs.sdos.iter().enumerate() {
            ev.expanded.extend(std::iter::repeat_n(i, s.count));
        }
        ev.words = ev.expanded.len().div_ceil(64).max(1);
        Ok(!ev.obs_expr(&self.root)?.is_empty())
    }
}

#[derive(Clone)]
enum V<'a> {
    J(&'a Value),
    B(Vec<u8>),
    L(Vec<V<'a>>),
}

#[derive(Clone)]
struct Binding {
    bits: Vec<u64>,
    max_first: i128,
    min_last: i128,
}

struct Eval<'o, 'a> {
    obs: &'o Observations<'a>,
    steps: u64,
    expanded: Vec<usize>,
    words: usize,
}

impl<'a> Eval<'_, 'a> {
    fn tick(&mut self, n: u64) -> Result<(), StixError> {
        self.steps = self.steps.saturating_add(n);
        if self.steps > BUDGET {
            return Err(StixError::Budget(BUDGET));
        }
        Ok(())
    }

    fn obs_expr(&mut self, e: &ObsExpr) -> Result<Vec<Binding>, StixError> {
        Ok(match e {
            ObsExpr::Simple(c) => {
                let hits = self.compare(c)?;
                let mut out = Vec::new();
                for (k, &sdo) in self.expanded.iter().enumerate() {
                    if hits.get(sdo).is_some_and(|s| !s.is_empty()) {
                        let s = &self.obs.sdos[sdo];
                        let mut bits = vec![0u64; self.words];
                        bits[k / 64] |= 1 << (k % 64);
                        out.push(Binding {
                            bits,
                            max_first: s.first,
                            min_last: s.last,
                        });
                    }
                }
                out
            }
            ObsExpr::Or(a, b) => {
                let mut l = self.obs_expr(a)?;
                l.extend(self.obs_expr(b)?);
                dedup(l)
            }
            ObsExpr::And(a, b) => {
                let l = self.obs_expr(a)?;
                let r = self.obs_expr(b)?;
                self.join(&l, &r, false)?
            }
            ObsExpr::FollowedBy(a, b) => {
                let l = self.obs_expr(a)?;
                let r = self.obs_expr(b)?;
                self.join(&l, &r, true)?
            }
            ObsExpr::Qualified(inner, Qualifier::Repeats(n)) => {
                // `x REPEATS a TIMES REPEATS b TIMES` binds exactly the unions of a*b disjoint
                // bindings of x: evaluate it as one REPEATS (far fewer intermediate sets).
                let (mut base, mut count) = (inner.as_ref(), u64::from(*n));
                while let ObsExpr::Qualified(x, Qualifier::Repeats(m)) = base {
                    base = x;
                    count = count.saturating_mul(u64::from(*m));
                }
                let b = self.obs_expr(base)?;
                self.repeats(b, usize::try_from(count).unwrap_or(usize::MAX))?
            }
            ObsExpr::Qualified(inner, q) => {
                let b = self.obs_expr(inner)?;
                match q {
                    Qualifier::Within(secs) => {
                        let d = (secs * 1e9).round() as i128;
                        b.into_iter()
                            .filter(|x| x.max_first - x.min_last <= d)
                            .collect()
                    }
                    Qualifier::StartStop(start, stop) => {
                        let (s, t) = (start.epoch_nanos(), stop.epoch_nanos());
                        if s >= t {
                            return Ok(Vec::new());
                        }
                        b.into_iter()
                            .filter(|x| {
                                members(&x.bits).all(|k| {
                                    let sdo = &self.obs.sdos[self.expanded[k]];
                                    sdo.first < t && sdo.last >= s
                                })
                            })
                            .collect()
                    }
                    Qualifier::Repeats(n) => self.repeats(b, *n as usize)?,
                }
            }
        })
    }

    fn join(
        &mut self,
        l: &[Binding],
        r: &[Binding],
        ordered: bool,
    ) -> Result<Vec<Binding>, StixError> {
        self.tick((l.len() as u64).saturating_mul(r.len() as u64))?;
        let mut seen = HashSet::new();
        let mut out = Vec::new();
        for a in l {
            for b in r {
                if !disjoint(&a.bits, &b.bits) || (ordered && a.max_first > b.min_last) {
                    continue;
                }
                let u = union(a, b);
                if seen.insert(u.bits.clone()) {
                    out.push(u);
                }
            }
        }
        Ok(out)
    }

    fn repeats(&mut self, base: Vec<Binding>, n: usize) -> Result<Vec<Binding>, StixError> {
        let base = dedup(base);
        if n <= 1 {
            return Ok(base);
        }
        if n > self.expanded.len() || base.len() < n {
            return Ok(Vec::new());
        }
        // Level k: unions of k disjoint base bindings, built with increasing base indices;
        // deduplicated by observation set, keeping the smallest last index (it extends most).
        let mut level: Vec<(Binding, usize)> = base
            .iter()
            .cloned()
            .enumerate()
            .map(|(i, b)| (b, i))
            .collect();
        for _ in 1..n {
            let mut next: Vec<(Binding, usize)> = Vec::new();
            let mut index: HashMap<Vec<u64>, usize> = HashMap::new();
            for (b, last) in &level {
                self.tick((base.len() - last) as u64)?;
                for (j, c) in base.iter().enumerate().skip(last + 1) {
                    if !disjoint(&b.bits, &c.bits) {
                        continue;
                    }
                    let u = union(b, c);
                    match index.get(&u.bits) {
                        Some(&at) => {
                            if let Some(slot) = next.get_mut(at) {
                                slot.1 = slot.1.min(j);
                            }
                        }
                        None => {
                            index.insert(u.bits.clone(), next.len());
                            next.push((u, j));
                        }
                    }
                }
            }
            if next.is_empty() {
                return Ok(Vec::new());
            }
            level = next;
        }
        Ok(level.into_iter().map(|(b, _)| b).collect())
    }

    /// Per SDO, the root objects (by index) the comparison holds for.
    fn compare(&mut self, c: &CompareExpr) -> Result<Vec<BTreeSet<usize>>, StixError> {
        match c {
            CompareExpr::And(a, b) => {
                let l = self.compare(a)?;
                let r = self.compare(b)?;
                Ok(l.into_iter()
                    .zip(r)
                    .map(|(x, y)| x.intersection(&y).copied().collect())
                    .collect())
            }
            CompareExpr::Or(a, b) => {
                let l = self.compare(a)?;
                let r = self.compare(b)?;
                Ok(l.into_iter()
                    .zip(r)
                    .map(|(mut x, y)| {
                        x.extend(y);
                        x
                    })
                    .collect())
            }
            CompareExpr::Exists { object_type, path } => {
                self.each_root(object_type, path, |vals| Ok(!vals.is_empty()))
            }
            CompareExpr::Test {
                object_type,
                path,
                not,
                neq,
                op,
            } => self.each_root(object_type, path, |vals| {
                for v in vals {
                    if test(v, op, *not, *neq)? {
                        return Ok(true);
                    }
                }
                Ok(false)
            }),
        }
    }

    fn each_root(
        &mut self,
        object_type: &str,
        path: &[PathStep],
        mut pred: impl FnMut(&[V<'a>]) -> Result<bool, StixError>,
    ) -> Result<Vec<BTreeSet<usize>>, StixError> {
        let obs = self.obs;
        let mut out = Vec::with_capacity(obs.sdos.len());
        for sdo in &obs.sdos {
            let mut set = BTreeSet::new();
            for (ri, root) in sdo.roots.iter().enumerate() {
                if root.get("type").and_then(Value::as_str) != Some(object_type) {
                    continue;
                }
                let vals = self.walk(sdo, root, path)?;
                if pred(&vals)? {
                    set.insert(ri);
                }
            }
            out.push(set);
        }
        Ok(out)
    }

    fn resolve(&self, sdo: &Sdo<'a>, r: &str) -> Option<&'a Value> {
        sdo.objects
            .and_then(|m| m.get(r))
            .or_else(|| self.obs.ids.get(r).copied())
    }

    fn walk(
        &mut self,
        sdo: &Sdo<'a>,
        root: &'a Value,
        path: &[PathStep],
    ) -> Result<Vec<V<'a>>, StixError> {
        let mut cur = vec![V::J(root)];
        for step in path {
            self.tick(cur.len() as u64 + 1)?;
            let mut next = Vec::new();
            for v in cur {
                match step {
                    PathStep::Key(k) => {
                        let V::J(Value::Object(o)) = v else { continue };
                        let Some(val) = o.get(k) else { continue };
                        if k.ends_with("_hex") {
                            let s = val.as_str().unwrap_or_default();
                            let b = hex(s).ok_or_else(|| {
                                StixError::Match(format!("invalid hex in '{k}': {s}"))
                            })?;
                            next.push(V::B(b));
                        } else if k.ends_with("_bin") {
                            let s = val.as_str().unwrap_or_default();
                            let b = decode_base64(s).ok_or_else(|| {
                                StixError::Match(format!("invalid base64 in '{k}': {s}"))
                            })?;
                            next.push(V::B(b));
                        } else if k.ends_with("_ref") {
                            if let Some(t) = val.as_str().and_then(|r| self.resolve(sdo, r)) {
                                next.push(V::J(t));
                            }
                        } else if k.ends_with("_refs") {
                            if let Value::Array(refs) = val {
                                let l: Vec<V<'a>> = refs
                                    .iter()
                                    .filter_map(Value::as_str)
                                    .filter_map(|r| self.resolve(sdo, r))
                                    .map(V::J)
                                    .collect();
                                if !l.is_empty() {
                                    next.push(V::L(l));
                                }
                            }
                        } else {
                            next.push(V::J(val));
                        }
                    }
                    PathStep::Index(i) => {
                        let Ok(i) = usize::try_from(*i) else { continue };
                        match v {
                            V::J(Value::Array(a)) => next.extend(a.get(i).map(V::J)),
                            V::L(l) => next.extend(l.into_iter().nth(i)),
                            _ => {}
                        }
                    }
                    PathStep::Any => match v {
                        V::J(Value::Array(a)) => next.extend(a.iter().map(V::J)),
                        V::L(l) => next.extend(l),
                        _ => {}
                    },
                }
            }
            cur = next;
            if cur.is_empty() {
                break;
            }
        }
        Ok(cur)
    }
}

fn members(bits: &[u64]) -> impl Iterator<Item = usize> + '_ {
    bits.iter().enumerate().flat_map(|(w, &word)| {
        (0..64)
            .filter(move |b| word & (1 << b) != 0)
            .map(move |b| w * 64 + b)
    })
}

fn disjoint(a: &[u64], b: &[u64]) -> bool {
    a.iter().zip(b).all(|(x, y)| x & y == 0)
}

fn union(a: &Binding, b: &Binding) -> Binding {
    Binding {
        bits: a.bits.iter().zip(&b.bits).map(|(x, y)| x | y).collect(),
        max_first: a.max_first.max(b.max_first),
        min_last: a.min_last.min(b.min_last),
    }
}

fn dedup(v: Vec<Binding>) -> Vec<Binding> {
    let mut seen = HashSet::new();
    v.into_iter()
        .filter(|b| seen.insert(b.bits.clone()))
        .collect()
}

fn hex(s: &str) -> Option<Vec<u8>> {
    let b = s.as_bytes();
    if !b.len().is_multiple_of(2) {
        return None;
    }
    b.chunks(2)
        .map(|p| {
            let hi = (p[0] as char).to_digit(16)?;
            let lo = (p[1] as char).to_digit(16)?;
            Some((hi * 16 + lo) as u8)
        })
        .collect()
}

/// A value as the comparison tables see it.
enum Op<'x> {
    Int(i64),
    Float(f64),
    Str(&'x str),
    Bool(bool),
    Bytes(&'x [u8]),
    Ts(Timestamp),
    Other,
}

fn op_of<'x>(v: &'x V<'_>) -> Op<'x> {
    match v {
        V::B(b) => Op::Bytes(b),
        V::L(_) => Op::Other,
        V::J(j) => match j {
            Value::Number(n) => match n.as_i64() {
                Some(i) => Op::Int(i),
                None => Op::Float(n.as_f64().unwrap_or(f64::NAN)),
            },
            Value::String(s) => Op::Str(s),
            Value::Bool(b) => Op::Bool(*b),
            _ => Op::Other,
        },
    }
}

fn lit_op(l: &Literal) -> Op<'_> {
    match l {
        Literal::Int(i) => Op::Int(*i),
        Literal::Float(f) => Op::Float(*f),
        Literal::Str(s) => Op::Str(s),
        Literal::Bool(b) => Op::Bool(*b),
        Literal::Binary(b) => Op::Bytes(b),
        Literal::Timestamp(t) => Op::Ts(*t),
    }
}

/// With a timestamp literal, a JSON string must be a timestamp (else the match errors).
fn coerce<'x>(v: Op<'x>, lit_is_ts: bool) -> Result<Op<'x>, StixError> {
    match v {
        Op::Str(s) if lit_is_ts => Timestamp::parse(s)
            .map(Op::Ts)
            .ok_or_else(|| StixError::Match(format!("invalid timestamp in JSON: {s}"))),
        v => Ok(v),
    }
}

fn latin1(s: &str) -> Option<Vec<u8>> {
    s.chars().map(|c| u8::try_from(u32::from(c)).ok()).collect()
}

/// Ordering under the reference tables; `None` when the types don't compare.
fn order(a: &Op<'_>, b: &Op<'_>) -> Option<Ordering> {
    match (a, b) {
        (Op::Int(x), Op::Int(y)) => Some(x.cmp(y)),
        (Op::Int(x), Op::Float(y)) => (*x as f64).partial_cmp(y),
        (Op::Float(x), Op::Int(y)) => x.partial_cmp(&(*y as f64)),
        (Op::Float(x), Op::Float(y)) => x.partial_cmp(y),
        (Op::Str(x), Op::Str(y)) => Some(x.cmp(y)),
        (Op::Bytes(x), Op::Bytes(y)) => Some(x.cmp(y)),
        (Op::Bytes(x), Op::Str(y)) => latin1(y).map(|y| x.cmp(&y.as_slice())),
        (Op::Str(x), Op::Bytes(y)) => latin1(x).map(|x| x.as_slice().cmp(y)),
        (Op::Ts(x), Op::Ts(y)) => Some(x.cmp(y)),
        _ => None,
    }
}

fn equal(a: &Op<'_>, b: &Op<'_>) -> bool {
    match (a, b) {
        (Op::Bool(x), Op::Bool(y)) => x == y,
        _ => order(a, b) == Some(Ordering::Equal),
    }
}

/// Set membership: like [`equal`] but binary and text never meet.
fn same(a: &Op<'_>, b: &Op<'_>) -> bool {
    match (a, b) {
        (Op::Bytes(_), Op::Str(_)) | (Op::Str(_), Op::Bytes(_)) => false,
        _ => equal(a, b),
    }
}

fn test(v: &V<'_>, op: &CompOp, not: bool, neq: bool) -> Result<bool, StixError> {
    let val = op_of(v);
    let r = match op {
        CompOp::Eq(l) => {
            let val = coerce(val, matches!(l, Literal::Timestamp(_)))?;
            equal(&val, &lit_op(l)) != neq
        }
        CompOp::Lt(l) | CompOp::Le(l) | CompOp::Gt(l) | CompOp::Ge(l) => {
            let val = coerce(val, matches!(l, Literal::Timestamp(_)))?;
            match order(&val, &lit_op(l)) {
                None => false,
                Some(o) => match op {
                    CompOp::Lt(_) => o == Ordering::Less,
                    CompOp::Le(_) => o != Ordering::Greater,
                    CompOp::Gt(_) => o == Ordering::Greater,
                    _ => o != Ordering::Less,
                },
            }
        }
        CompOp::In(set) => {
            let ts = matches!(set.first(), Some(Literal::Timestamp(_)));
            let val = coerce(val, ts)?;
            set.iter().any(|l| same(&val, &lit_op(l)))
        }
        CompOp::Like(_, re) | CompOp::Matches(_, re) => match val {
            Op::Str(s) => re.is_match_str(s),
            Op::Bytes(b) => re.is_match_bytes(b),
            _ => false,
        },
        CompOp::IsSubset(net) => match val {
            Op::Str(s) => in_subnet(s, net),
            _ => false,
        },
        CompOp::IsSuperset(net) => match val {
            Op::Str(s) => in_subnet(net, s),
            _ => false,
        },
    };
    Ok(r != not)
}

fn parse_cidr(s: &str) -> Option<(u128, u32, u32)> {
    let (ip, len) = match s.split_once('/') {
        Some((ip, len)) => (ip, Some(len.parse::<u32>().ok()?)),
        None => (s, None),
    };
    let (v, width) = match ip.parse::<IpAddr>().ok()? {
        IpAddr::V4(a) => (u128::from(u32::from(a)), 32),
        IpAddr::V6(a) => (u128::from(a), 128),
    };
    let len = len.unwrap_or(width);
    (len <= width).then_some((v, len, width))
}

/// Whether the address or network `a` lies inside network `b`.
pub(crate) fn in_subnet(a: &str, b: &str) -> bool {
    let (Some((av, al, aw)), Some((bv, bl, bw))) = (parse_cidr(a), parse_cidr(b)) else {
        return false;
    };
    if aw != bw || al < bl {
        return false;
    }
    let shift = aw - bl;
    let mask = |v: u128| if shift >= 128 { 0 } else { v >> shift };
    mask(av) == mask(bv)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn subnets() {
        assert!(in_subnet("11.22.33.44", "11.22.41.123/20"));
        assert!(!in_subnet("11.22.33.44", "11.22.123.41/20"));
        assert!(in_subnet("11.22.41.123/29", "11.22.33.44/20"));
        assert!(!in_subnet("11.22.33.44/13", "11.22.33.44/20"));
        assert!(in_subnet("2001:db8::1", "2001:0db8:dead:beef::/16"));
        assert!(in_subnet("1.2.3.4", "0.0.0.0/0"));
        assert!(!in_subnet("1.2.3.4", "::/0"));
    }
}
