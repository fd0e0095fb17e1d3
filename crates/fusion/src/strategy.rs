//! Fusion strategies: [`Evidence`] (the decayed state of one entity) -> [`Fused`] (score in
//! `[0, 1]` + the share of every contribution). Formulas (also in `docs/fusion.md`), with
//! `lp = logit(prior)`, `e_i` an item's decayed, repeat-capped evidence in log-odds units
//! (`logit(p) - lp`, floored at 0), `S_s = sum of e_i over source s`, `w_s` its reliability,
//! `B = kill_chain_boost * max(0, kill_chain - 1) + criticality_boost * max(0, criticality - 1)`:
//!
//! - [`LogOdds`]: `sigmoid(lp + sum_s w_s S_s + B)`; shares `w_s e_i` (log-odds units).
//! - [`NoisyOr`]: per source `x_s = (sigmoid(lp + S_s) - prior) / (1 - prior)`, then
//!   `base = 1 - (1 - prior) prod_s (1 - min(w_s, 1) x_s)` and `sigmoid(logit(base) + B)`;
//!   shares split `base - prior` by each source's `-ln(1 - w x_s)` and within a source by `e_i`
//!   (probability units).
//! - [`StackedStrategy`]: `sigmoid(b + sum_j c_j f_j)` over [`FEATURE_NAMES`]; shares
//!   `c_s e_i` (log-odds units); kill chain and criticality enter as learned features, not `B`.
//! - [`SumSeverity`]: the baseline: `sum / (sum + sum_threshold)` with `sum` the decayed
//!   severity points (1..5 per detection); shares are points. No boosts, no repeat cap.

use serde::{Deserialize, Serialize};

use crate::state::{Source, FEATURE_NAMES, N_FEATURES, N_SOURCES};
use crate::FusionError;

/// One evidence item: a (source, rule) slot or a source's folded remainder.
#[derive(Debug, Clone, PartialEq)]
pub struct EvidenceItem {
    /// Source.
    pub source: Source,
    /// Decayed, repeat-capped evidence (log-odds units over the prior, >= 0).
    pub evidence: f64,
    /// Decayed severity points.
    pub severity: f64,
    /// Index of the slot in the entity's top-K list; `None` for the remainder of the source.
    pub slot: Option<usize>,
}

/// The decayed per-source state of one entity at one time.
#[derive(Debug, Clone, PartialEq)]
pub struct Evidence {
    /// Items: the top-K slots, then one remainder per source that has one.
    pub items: Vec<EvidenceItem>,
    /// Per-source sums of `items[].evidence`, in [`Source::ALL`] order.
    pub per_source: [f64; N_SOURCES],
    /// Sum of `items[].severity`.
    pub severity_sum: f64,
    /// Distinct ATT&CK tactics in the current and previous window epoch.
    pub kill_chain: u8,
    /// Asset criticality 1..5 when known.
    pub criticality: Option<u8>,
    /// Alerts fused into the entity.
    pub alerts: u32,
}

impl Evidence {
    /// The stacked feature vector ([`FEATURE_NAMES`]).
    pub fn features(&self) -> [f64; N_FEATURES] {
        let mut f = [0.0; N_FEATURES];
        for (d, s) in f.iter_mut().zip(self.per_source.iter()) {
            *d = *s;
        }
        if let Some(x) = f.get_mut(N_SOURCES) {
            *x = f64::from(self.kill_chain);
        }
        if let Some(x) = f.get_mut(N_SOURCES + 1) {
            *x = f64::from(self.criticality.unwrap_or(0));
        }
        if let Some(x) = f.get_mut(N_SOURCES + 2) {
            *x = f64::from(self.alerts).ln_1p();
        }
        f
    }
}

/// What a strategy needs from the configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Context {
    /// Base rate in (0, 1).
    pub prior: f64,
    /// Reliability per source.
    pub reliability: [f64; N_SOURCES],
    /// Log-odds per distinct tactic beyond the first.
    pub kill_chain_boost: f64,
    /// Log-odds per criticality level above 1.
    pub criticality_boost: f64,
    /// `sum_severity` half-point.
    pub sum_threshold: f64,
}

impl Context {
    /// The boost terms `(name, log-odds)` for kill chain and criticality (zero terms omitted).
    pub fn boosts(&self, ev: &Evidence) -> Vec<(String, f64)> {
        let mut out = Vec::new();
        let kc = f64::from(ev.kill_chain.saturating_sub(1)) * self.kill_chain_boost;
        if kc > 0.0 {
            out.push(("kill_chain".to_owned(), kc));
        }
        let cr = f64::from(ev.criticality.unwrap_or(1).clamp(1, 5) - 1) * self.criticality_boost;
        if cr > 0.0 {
            out.push(("criticality".to_owned(), cr));
        }
        out
    }
}

/// A fused score with its breakdown.
#[derive(Debug, Clone, PartialEq)]
pub struct Fused {
    /// Score in `[0, 1]`.
    pub score: f64,
    /// Share of each evidence item (same order as [`Evidence::items`]), in `unit`.
    pub shares: Vec<f64>,
    /// Other terms: prior / intercept, boosts, learned feature terms, in `unit`.
    pub terms: Vec<(String, f64)>,
    /// `log_odds`, `probability` or `points`.
    pub unit: &'static str,
}

/// Turns evidence into a score.
pub trait FusionStrategy: Send + Sync {
    /// Strategy name (`log_odds`).
    fn name(&self) -> &'static str;
    /// Fuses one entity's evidence.
    fn fuse(&self, evidence: &Evidence, ctx: &Context) -> Fused;
}

pub(crate) fn sigmoid(z: f64) -> f64 {
    if z.is_nan() {
        return 0.0;
    }
    if z >= 0.0 {
        1.0 / (1.0 + (-z).exp())
    } else {
        let e = z.exp();
        e / (1.0 + e)
    }
}

pub(crate) fn logit(p: f64) -> f64 {
    let p = p.clamp(1e-12, 1.0 - 1e-12);
    (p / (1.0 - p)).ln()
}

fn unit_score(x: f64) -> f64 {
    if x.is_finite() {
        x.clamp(0.0, 1.0)
    } else {
        0.0
    }
}

fn weight(ctx: &Context, s: Source) -> f64 {
    ctx.reliability.get(s.index()).copied().unwrap_or(0.0)
}

/// Weighted log-odds (module doc).
#[derive(Debug, Clone, Copy, Default)]
pub struct LogOdds;

impl FusionStrategy for LogOdds {
    fn name(&self) -> &'static str {
        "log_odds"
    }

    fn fuse(&self, ev: &Evidence, ctx: &Context) -> Fused {
        let lp = logit(ctx.prior);
        let shares: Vec<f64> = ev
            .items
            .iter()
            .map(|i| weight(ctx, i.source) * i.evidence)
            .collect();
        let mut terms = vec![("prior".to_owned(), lp)];
        terms.extend(ctx.boosts(ev));
        let z = shares.iter().sum::<f64>() + terms.iter().map(|t| t.1).sum::<f64>();
        Fused {
            score: unit_score(sigmoid(z)),
            shares,
            terms,
            unit: "log_odds",
        }
    }
}

/// Noisy-OR across sources (module doc).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoisyOr;

impl FusionStrategy for NoisyOr {
    fn name(&self) -> &'static str {
        "noisy_or"
    }

    fn fuse(&self, ev: &Evidence, ctx: &Context) -> Fused {
        let lp = logit(ctx.prior);
        let mut hazard = [0.0f64; N_SOURCES];
        let mut survive = 1.0 - ctx.prior;
        for (i, s) in Source::ALL.iter().enumerate() {
            let total = ev.per_source.get(i).copied().unwrap_or(0.0);
            if total <= 0.0 {
                continue;
            }
            let x = ((sigmoid(lp + total) - ctx.prior) / (1.0 - ctx.prior)).clamp(0.0, 1.0);
            let q = (weight(ctx, *s).min(1.0) * x).clamp(0.0, 1.0 - 1e-12);
            survive *= 1.0 - q;
            if let Some(h) = hazard.get_mut(i) {
                *h = -(1.0 - q).ln();
            }
        }
        let base = unit_score(1.0 - survive);
        let gain = (base - ctx.prior).max(0.0);
        let h_total: f64 = hazard.iter().sum();
        let shares = ev
            .items
            .iter()
            .map(|it| {
                let i = it.source.index();
                let src_total = ev.per_source.get(i).copied().unwrap_or(0.0);
                let h = hazard.get(i).copied().unwrap_or(0.0);
                if h_total <= 0.0 || src_total <= 0.0 {
                    0.0
                } else {
                    gain * (h / h_total) * (it.evidence / src_total)
                }
            })
            .collect();
        let boosts = ctx.boosts(ev);
        let b: f64 = boosts.iter().map(|t| t.1).sum();
        let score = if b > 0.0 {
            unit_score(sigmoid(logit(base) + b))
        } else {
            base
        };
        let mut terms = vec![("prior".to_owned(), ctx.prior)];
        if b > 0.0 {
            // Boosts are applied in log-odds; their probability effect is split by size.
            let lift = score - base;
            for (name, v) in boosts {
                terms.push((name, lift * v / b));
            }
        }
        Fused {
            score,
            shares,
            terms,
            unit: "probability",
        }
    }
}

/// The `sum_severity` baseline (module doc).
#[derive(Debug, Clone, Copy, Default)]
pub struct SumSeverity;

impl FusionStrategy for SumSeverity {
    fn name(&self) -> &'static str {
        "sum_severity"
    }

    fn fuse(&self, ev: &Evidence, ctx: &Context) -> Fused {
        let sum: f64 = ev.items.iter().map(|i| i.severity).sum();
        let score = if sum > 0.0 {
            unit_score(sum / (sum + ctx.sum_threshold))
        } else {
            0.0
        };
        Fused {
            score,
            shares: ev.items.iter().map(|i| i.severity).collect(),
            terms: vec![("sum_threshold".to_owned(), ctx.sum_threshold)],
            unit: "points",
        }
    }
}

/// Logistic regression over the feature vector, learned from analyst dispositions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StackedModel {
    /// Feature names, must equal [`FEATURE_NAMES`].
    pub feature_names: Vec<String>,
    /// One coefficient per feature.
    pub coefficients: Vec<f64>,
    /// Intercept (log-odds).
    pub intercept: f64,
    /// Training rows.
    pub training_rows: usize,
    /// Positive (true-positive) rows.
    pub positives: usize,
    /// L2 penalty on the coefficients (not the intercept).
    pub l2: f64,
    /// How it was trained.
    pub method: String,
    /// Newton iterations run.
    pub iterations: u32,
    /// Whether the largest step fell below the tolerance.
    pub converged: bool,
}

const IRLS_MAX_ITER: u32 = 100;
const IRLS_TOL: f64 = 1e-9;

impl StackedModel {
    /// Checks that the model matches this crate's features and is finite.
    ///
    /// # Errors
    /// [`FusionError::Stacked`] saying what is wrong.
    pub fn check(&self) -> Result<(), FusionError> {
        let names: Vec<&str> = self.feature_names.iter().map(String::as_str).collect();
        if names != FEATURE_NAMES {
            return Err(FusionError::Stacked(format!(
                "feature_names {names:?} differ from this build's {FEATURE_NAMES:?}"
            )));
        }
        if self.coefficients.len() != N_FEATURES {
            return Err(FusionError::Stacked(format!(
                "{} coefficients for {N_FEATURES} features",
                self.coefficients.len()
            )));
        }
        if !self.intercept.is_finite() || self.coefficients.iter().any(|c| !c.is_finite()) {
            return Err(FusionError::Stacked("non-finite weight".into()));
        }
        Ok(())
    }

    /// Linear predictor `b + c . f`.
    pub fn logit(&self, f: &[f64]) -> f64 {
        self.intercept
            + self
                .coefficients
                .iter()
                .zip(f)
                .map(|(c, x)| c * x)
                .sum::<f64>()
    }

    /// Fits L2-regularised logistic regression by IRLS (Newton's method; deterministic: fixed
    /// start at the base-rate intercept, Gaussian elimination with partial pivoting). Labels:
    /// `1` true positive, `0` false positive; a label > 0.5 counts as 1.
    ///
    /// # Errors
    /// [`FusionError::Stacked`] for no rows, rows of the wrong length, non-finite values, a
    /// negative or non-finite `l2`, or a singular system.
    // Dense (d+1)x(d+1) Newton system: index loops read like the formulas; indices are ours.
    #[allow(clippy::needless_range_loop)]
    pub fn train(rows: &[(Vec<f64>, f32)], l2: f64) -> Result<StackedModel, FusionError> {
        if rows.is_empty() {
            return Err(FusionError::Stacked("no training rows".into()));
        }
        if !l2.is_finite() || l2 < 0.0 {
            return Err(FusionError::Stacked(format!("l2 {l2} must be >= 0")));
        }
        for (i, (x, y)) in rows.iter().enumerate() {
            if x.len() != N_FEATURES {
                return Err(FusionError::Stacked(format!(
                    "row {i}: {} features, expected {N_FEATURES}",
                    x.len()
                )));
            }
            if !y.is_finite() || x.iter().any(|v| !v.is_finite()) {
                return Err(FusionError::Stacked(format!("row {i}: non-finite value")));
            }
        }
        let d = N_FEATURES + 1;
        let ys: Vec<f64> = rows
            .iter()
            .map(|(_, y)| if *y > 0.5 { 1.0 } else { 0.0 })
            .collect();
        let n = rows.len() as f64;
        let positives = ys.iter().filter(|y| **y > 0.5).count();
        let rate = ((positives as f64 + 0.5) / (n + 1.0)).clamp(1e-6, 1.0 - 1e-6);
        // beta[0] = intercept, beta[1..] = coefficients.
        let mut beta = vec![0.0; d];
        if let Some(b0) = beta.first_mut() {
            *b0 = logit(rate);
        }
        let mut iterations = 0;
        let mut converged = false;
        let x_of = |x: &[f64], j: usize| -> f64 {
            if j == 0 {
                1.0
            } else {
                x.get(j - 1).copied().unwrap_or(0.0)
            }
        };
        while iterations < IRLS_MAX_ITER {
            iterations += 1;
            let mut grad = vec![0.0; d];
            let mut hess = vec![vec![0.0; d]; d];
            for ((x, _), y) in rows.iter().zip(&ys) {
                let z: f64 = (0..d).map(|j| beta[j] * x_of(x, j)).sum();
                let p = sigmoid(z);
                let w = (p * (1.0 - p)).max(1e-10);
                for j in 0..d {
                    let xj = x_of(x, j);
                    grad[j] += (y - p) * xj;
                    for k in j..d {
                        hess[j][k] += w * xj * x_of(x, k);
                    }
                }
            }
            for j in 0..d {
                for k in 0..j {
                    hess[j][k] = hess[k][j];
                }
                // The intercept gets a tiny ridge so an all-one-class set stays solvable.
                let pen = if j == 0 { 1e-6 } else { l2 };
                grad[j] -= pen * beta[j];
                hess[j][j] += pen;
            }
            let step = solve(hess, grad)
                .ok_or_else(|| FusionError::Stacked("singular system; raise --l2".into()))?;
            let mut max_step: f64 = 0.0;
            for (b, s) in beta.iter_mut().zip(&step) {
                *b += s;
                max_step = max_step.max(s.abs());
            }
            if !beta.iter().all(|b| b.is_finite()) {
                return Err(FusionError::Stacked("diverged; raise --l2".into()));
            }
            if max_step < IRLS_TOL {
                converged = true;
                break;
            }
        }
        let intercept = beta.first().copied().unwrap_or(0.0);
        Ok(StackedModel {
            feature_names: FEATURE_NAMES.iter().map(|s| (*s).to_owned()).collect(),
            coefficients: beta.get(1..).unwrap_or(&[]).to_vec(),
            intercept,
            training_rows: rows.len(),
            positives,
            l2,
            method: format!(
                "L2-regularised logistic regression by IRLS (Newton), l2 = {l2} on coefficients, \
                 intercept unpenalised (1e-6 ridge), start at the base-rate intercept, tolerance \
                 {IRLS_TOL:e}, at most {IRLS_MAX_ITER} iterations"
            ),
            iterations,
            converged,
        })
    }
}

/// Solves `a x = b` by Gaussian elimination with partial pivoting; `None` if singular.
#[allow(clippy::needless_range_loop)]
fn solve(mut a: Vec<Vec<f64>>, mut b: Vec<f64>) -> Option<Vec<f64>> {
    let n = b.len();
    for col in 0..n {
        let pivot = (col..n).max_by(|&i, &j| {
            a[i][col]
                .abs()
                .partial_cmp(&a[j][col].abs())
                .unwrap_or(std::cmp::Ordering::Equal)
        })?;
        if a[pivot][col].abs() < 1e-300 || !a[pivot][col].is_finite() {
            return None;
        }
        a.swap(col, pivot);
        b.swap(col, pivot);
        for row in col + 1..n {
            let f = a[row][col] / a[col][col];
            if f == 0.0 {
                continue;
            }
            for k in col..n {
                a[row][k] -= f * a[col][k];
            }
            b[row] -= f * b[col];
        }
    }
    let mut x = vec![0.0; n];
    for row in (0..n).rev() {
        let s: f64 = (row + 1..n).map(|k| a[row][k] * x[k]).sum();
        x[row] = (b[row] - s) / a[row][row];
    }
    x.iter().all(|v| v.is_finite()).then_some(x)
}

/// The stacked strategy: a trained [`StackedModel`].
#[derive(Debug, Clone)]
pub struct StackedStrategy {
    /// The weights.
    pub model: StackedModel,
}

impl FusionStrategy for StackedStrategy {
    fn name(&self) -> &'static str {
        "stacked"
    }

    fn fuse(&self, ev: &Evidence, _ctx: &Context) -> Fused {
        let f = ev.features();
        let coef = |j: usize| self.model.coefficients.get(j).copied().unwrap_or(0.0);
        let shares: Vec<f64> = ev
            .items
            .iter()
            .map(|i| coef(i.source.index()) * i.evidence)
            .collect();
        let mut terms = vec![("intercept".to_owned(), self.model.intercept)];
        for (j, name) in FEATURE_NAMES.iter().enumerate().skip(N_SOURCES) {
            let v = coef(j) * f.get(j).copied().unwrap_or(0.0);
            if v != 0.0 {
                terms.push(((*name).to_owned(), v));
            }
        }
        let z = shares.iter().sum::<f64>() + terms.iter().map(|t| t.1).sum::<f64>();
        Fused {
            score: unit_score(sigmoid(z)),
            shares,
            terms,
            unit: "log_odds",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(per: &[(Source, f64)], sev: f64) -> Evidence {
        let mut per_source = [0.0; N_SOURCES];
        let items = per
            .iter()
            .enumerate()
            .map(|(k, (s, e))| {
                per_source[s.index()] += e;
                EvidenceItem {
                    source: *s,
                    evidence: *e,
                    severity: sev,
                    slot: Some(k),
                }
            })
            .collect();
        Evidence {
            items,
            per_source,
            severity_sum: sev * per.len() as f64,
            kill_chain: 1,
            criticality: None,
            alerts: per.len() as u32,
        }
    }

    fn ctx() -> Context {
        Context {
            prior: 0.01,
            reliability: [1.0; N_SOURCES],
            kill_chain_boost: 0.5,
            criticality_boost: 0.25,
            sum_threshold: 20.0,
        }
    }

    #[test]
    fn log_odds_matches_formula_and_shares_sum() {
        let e = ev(&[(Source::Sigma, 2.0), (Source::Endpoint, 3.0)], 3.0);
        let f = LogOdds.fuse(&e, &ctx());
        let z = logit(0.01) + 5.0;
        assert!((f.score - sigmoid(z)).abs() < 1e-12);
        assert_eq!(f.shares, vec![2.0, 3.0]);
        let empty = ev(&[], 0.0);
        assert!((LogOdds.fuse(&empty, &ctx()).score - 0.01).abs() < 1e-12);
        assert!((NoisyOr.fuse(&empty, &ctx()).score - 0.01).abs() < 1e-12);
        assert_eq!(SumSeverity.fuse(&empty, &ctx()).score, 0.0);
    }

    #[test]
    fn noisy_or_single_source_equals_its_posterior() {
        let e = ev(&[(Source::Sigma, 3.0)], 3.0);
        let f = NoisyOr.fuse(&e, &ctx());
        assert!((f.score - sigmoid(logit(0.01) + 3.0)).abs() < 1e-9);
        let total: f64 = f.shares.iter().sum();
        assert!((total - (f.score - 0.01)).abs() < 1e-9);
    }

    #[test]
    fn sum_severity_crosses_half_at_threshold() {
        let e = ev(&[(Source::Sigma, 1.0), (Source::Vendor, 1.0)], 10.0);
        assert!((SumSeverity.fuse(&e, &ctx()).score - 0.5).abs() < 1e-12);
    }

    #[test]
    fn irls_learns_a_separating_direction_deterministically() {
        let mut rows = Vec::new();
        for i in 0..200 {
            let x = f64::from(i % 20) / 2.0;
            let mut f = vec![0.0; N_FEATURES];
            f[5] = x;
            f[8] = f64::from(i % 3);
            let y = if x + 0.3 * f64::from(i % 7) > 5.0 {
                1.0
            } else {
                0.0
            };
            rows.push((f, y));
        }
        let a = StackedModel::train(&rows, 1.0).map_err(|e| e.to_string());
        let b = StackedModel::train(&rows, 1.0).map_err(|e| e.to_string());
        assert_eq!(a, b);
        let m = a.unwrap_or_else(|e| panic!("{e}"));
        assert!(m.converged);
        assert!(m.coefficients[5] > 0.5, "{:?}", m.coefficients);
        assert!(m.check().is_ok());
        assert!(StackedModel::train(&[], 1.0).is_err());
        assert!(StackedModel::train(&[(vec![f64::NAN; N_FEATURES], 1.0)], 1.0).is_err());
        assert!(StackedModel::train(&[(vec![0.0; 3], 1.0)], 1.0).is_err());
        // One class only: still finite.
        let one: Vec<_> = (0..10)
            .map(|i| (vec![f64::from(i); N_FEATURES], 1.0))
            .collect();
        assert!(StackedModel::train(&one, 1.0).is_ok());
    }
}
