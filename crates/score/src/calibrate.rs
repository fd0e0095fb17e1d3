//! Probability calibration applied after the ensemble: Platt scaling or isotonic regression.
//! Fitting lives in `shrike-train`; this module only applies a fitted map.

use serde::{Deserialize, Serialize};

/// A fitted calibration map from the ensemble's probability to a calibrated probability.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(tag = "method", rename_all = "snake_case")]
pub enum Calibration {
    /// No calibration: the ensemble's probability is used as is.
    #[default]
    Identity,
    /// Platt scaling on the log-odds: `p = 1 / (1 + exp(-(a * logit(p0) + b)))`.
    Platt {
        /// Slope.
        a: f64,
        /// Intercept.
        b: f64,
    },
    /// Isotonic regression: a non-decreasing step function through `(x[i], y[i])`, linearly
    /// interpolated between knots and flat outside them.
    Isotonic {
        /// Knots' inputs, strictly increasing.
        x: Vec<f64>,
        /// Knots' outputs, non-decreasing, in [0, 1].
        y: Vec<f64>,
    },
}

impl Calibration {
    /// Maps an uncalibrated probability to a calibrated one. NaN in gives NaN out.
    pub fn apply(&self, p: f64) -> f64 {
        match self {
            Calibration::Identity => p,
            Calibration::Platt { a, b } => {
                let q = p.clamp(1e-12, 1.0 - 1e-12);
                let z = a * (q / (1.0 - q)).ln() + b;
                1.0 / (1.0 + (-z).exp())
            }
            Calibration::Isotonic { x, y } => interpolate(x, y, p),
        }
    }

    /// Checks the map is usable: finite numbers, increasing knots, outputs in [0, 1].
    pub fn validate(&self) -> Result<(), String> {
        match self {
            Calibration::Identity => Ok(()),
            Calibration::Platt { a, b } => {
                if a.is_finite() && b.is_finite() {
                    Ok(())
                } else {
                    Err("platt parameters must be finite".into())
                }
            }
            Calibration::Isotonic { x, y } => {
                if x.is_empty() || x.len() != y.len() {
                    return Err("isotonic knots: x and y must be non-empty and equally long".into());
                }
                if x.windows(2)
                    .any(|w| w[0].partial_cmp(&w[1]) != Some(std::cmp::Ordering::Less))
                    || x.iter().any(|v| !v.is_finite())
                {
                    return Err("isotonic knots: x must be finite and strictly increasing".into());
                }
                if y.windows(2).any(|w| {
                    w[0].partial_cmp(&w[1])
                        .is_none_or(|o| o == std::cmp::Ordering::Greater)
                }) || y.iter().any(|v| !(0.0..=1.0).contains(v))
                {
                    return Err("isotonic knots: y must be non-decreasing and within [0, 1]".into());
                }
                Ok(())
            }
        }
    }
}

fn interpolate(x: &[f64], y: &[f64], p: f64) -> f64 {
    if p.is_nan() || x.is_empty() {
        return f64::NAN;
    }
    let n = x.len().min(y.len());
    if p <= x[0] {
        return y[0];
    }
    if p >= x[n - 1] {
        return y[n - 1];
    }
    // First knot strictly greater than p; 1 <= i < n because of the checks above.
    let i = x[..n].partition_point(|&k| k <= p);
    let (x0, x1, y0, y1) = (x[i - 1], x[i], y[i - 1], y[i]);
    y0 + (y1 - y0) * (p - x0) / (x1 - x0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn isotonic_interpolates_and_clamps() {
        let c = Calibration::Isotonic {
            x: vec![0.1, 0.5, 0.9],
            y: vec![0.0, 0.2, 1.0],
        };
        c.validate().expect("valid");
        assert_eq!(c.apply(0.0), 0.0);
        assert_eq!(c.apply(1.0), 1.0);
        assert!((c.apply(0.3) - 0.1).abs() < 1e-12);
        assert!((c.apply(0.7) - 0.6).abs() < 1e-12);
        assert!(c.apply(f64::NAN).is_nan());
    }

    #[test]
    fn platt_identity_parameters_keep_probability() {
        let c = Calibration::Platt { a: 1.0, b: 0.0 };
        for p in [0.01, 0.3, 0.5, 0.77, 0.99] {
            assert!((c.apply(p) - p).abs() < 1e-9);
        }
    }

    #[test]
    fn validate_rejects_decreasing_knots() {
        let c = Calibration::Isotonic {
            x: vec![0.5, 0.1],
            y: vec![0.0, 1.0],
        };
        assert!(c.validate().is_err());
    }
}
