//! The training table: dense row-major `f32` features, 0/1 labels and sample weights.
//!
//! Invariant checked by [`Dataset::validate`] (and by every trainer before use, since the fields
//! are public): `x.len() == n_rows * n_features`, one label and one weight per row, labels exactly
//! 0 or 1, weights finite and non-negative, at least one row and one feature. Feature values may be
//! anything: NaN means missing, infinities are ordinary (extreme) values.

use crate::TrainError;

/// A dense training (or validation) table.
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    /// Features, row-major: row `i` is `x[i * n_features..(i + 1) * n_features]`. NaN = missing.
    pub x: Vec<f32>,
    /// Number of rows.
    pub n_rows: usize,
    /// Number of features per row.
    pub n_features: usize,
    /// Labels, 0 or 1.
    pub y: Vec<f32>,
    /// Sample weights, finite and >= 0.
    pub w: Vec<f32>,
}

impl Dataset {
    /// Builds a dataset, checking shapes, labels and weights.
    pub fn new(
        x: Vec<f32>,
        n_rows: usize,
        n_features: usize,
        y: Vec<f32>,
        w: Vec<f32>,
    ) -> Result<Self, TrainError> {
        let d = Dataset {
            x,
            n_rows,
            n_features,
            y,
            w,
        };
        d.validate()?;
        Ok(d)
    }

    /// Checks the invariants listed in the module docs.
    pub fn validate(&self) -> Result<(), TrainError> {
        if self.n_rows == 0 {
            return Err(TrainError::EmptyDataset);
        }
        if self.n_features == 0 {
            return Err(TrainError::NoFeatures);
        }
        for (what, len) in [("n_rows", self.n_rows), ("n_features", self.n_features)] {
            if u32::try_from(len).is_err() {
                return Err(TrainError::TooLarge { what, len });
            }
        }
        let cells = self
            .n_rows
            .checked_mul(self.n_features)
            .ok_or(TrainError::ShapeMismatch {
                what: "x",
                expected: usize::MAX,
                found: self.x.len(),
            })?;
        for (what, len, expected) in [
            ("x", self.x.len(), cells),
            ("y", self.y.len(), self.n_rows),
            ("w", self.w.len(), self.n_rows),
        ] {
            if len != expected {
                return Err(TrainError::ShapeMismatch {
                    what,
                    expected,
                    found: len,
                });
            }
        }
        if let Some((row, &value)) = self
            .y
            .iter()
            .enumerate()
            .find(|(_, &v)| v != 0.0 && v != 1.0)
        {
            return Err(TrainError::InvalidLabel { row, value });
        }
        if let Some((row, &value)) = self
            .w
            .iter()
            .enumerate()
            .find(|(_, &v)| !(v.is_finite() && v >= 0.0))
        {
            return Err(TrainError::InvalidWeight { row, value });
        }
        Ok(())
    }

    /// Row `i`'s features, or `None` when out of range.
    pub fn row(&self, i: usize) -> Option<&[f32]> {
        let start = i.checked_mul(self.n_features)?;
        self.x.get(start..start.checked_add(self.n_features)?)
    }

    /// Total weight of positive and of negative rows, `(positive, negative)`.
    pub fn class_weights(&self) -> (f64, f64) {
        let mut pos = 0.0;
        let mut neg = 0.0;
        for (&y, &w) in self.y.iter().zip(&self.w) {
            if y == 1.0 {
                pos += f64::from(w);
            } else {
                neg += f64::from(w);
            }
        }
        (pos, neg)
    }

    /// The (positive, negative) class weights, or an error when the total weight is zero or one
    /// class carries none: both trainers need both classes.
    pub fn require_both_classes(&self) -> Result<(f64, f64), TrainError> {
        let (pos, neg) = self.class_weights();
        if pos + neg <= 0.0 {
            return Err(TrainError::ZeroTotalWeight);
        }
        if !(pos > 0.0 && neg > 0.0) {
            return Err(TrainError::OneClass {
                positive_weight: pos,
                negative_weight: neg,
            });
        }
        Ok((pos, neg))
    }

    /// Weights that balance the classes: each positive row's weight is multiplied by
    /// `negative_weight / positive_weight`, negatives keep theirs, so both classes carry the same
    /// total weight (the negatives' original total). With only one class weighted, the weights are
    /// returned unchanged.
    pub fn class_balance_weights(&self) -> Vec<f32> {
        let (pos, neg) = self.class_weights();
        if !(pos > 0.0 && neg > 0.0) {
            return self.w.clone();
        }
        let ratio = neg / pos;
        self.y
            .iter()
            .zip(&self.w)
            .map(|(&y, &w)| {
                if y == 1.0 {
                    (f64::from(w) * ratio) as f32
                } else {
                    w
                }
            })
            .collect()
    }

    /// A new dataset with the given rows, in the given order (e.g. the index lists of
    /// [`crate::time_split`]).
    pub fn subset(&self, rows: &[usize]) -> Result<Dataset, TrainError> {
        let mut x = Vec::with_capacity(rows.len().saturating_mul(self.n_features));
        let mut y = Vec::with_capacity(rows.len());
        let mut w = Vec::with_capacity(rows.len());
        for &r in rows {
            let (Some(row), Some(&label), Some(&weight)) =
                (self.row(r), self.y.get(r), self.w.get(r))
            else {
                return Err(TrainError::IndexOutOfRange {
                    index: r,
                    len: self.n_rows,
                });
            };
            x.extend_from_slice(row);
            y.push(label);
            w.push(weight);
        }
        Dataset::new(x, rows.len(), self.n_features, y, w)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small() -> Dataset {
        Dataset::new(
            vec![1.0, 2.0, 3.0, 4.0, 5.0, f32::NAN],
            3,
            2,
            vec![1.0, 0.0, 0.0],
            vec![1.0, 1.0, 2.0],
        )
        .expect("valid")
    }

    #[test]
    fn rejects_bad_shapes_labels_weights() {
        assert_eq!(
            Dataset::new(vec![], 0, 2, vec![], vec![]),
            Err(TrainError::EmptyDataset)
        );
        assert_eq!(
            Dataset::new(vec![1.0], 1, 0, vec![1.0], vec![1.0]),
            Err(TrainError::NoFeatures)
        );
        assert_eq!(
            Dataset::new(vec![1.0; 5], 3, 2, vec![1.0; 3], vec![1.0; 3]),
            Err(TrainError::ShapeMismatch {
                what: "x",
                expected: 6,
                found: 5
            })
        );
        assert_eq!(
            Dataset::new(vec![1.0; 6], 3, 2, vec![1.0; 2], vec![1.0; 3]),
            Err(TrainError::ShapeMismatch {
                what: "y",
                expected: 3,
                found: 2
            })
        );
        assert!(matches!(
            Dataset::new(vec![1.0; 2], 2, 1, vec![1.0, f32::NAN], vec![1.0; 2]),
            Err(TrainError::InvalidLabel { row: 1, .. })
        ));
        assert!(matches!(
            Dataset::new(vec![1.0; 2], 2, 1, vec![1.0, 0.5], vec![1.0; 2]),
            Err(TrainError::InvalidLabel { row: 1, .. })
        ));
        assert!(matches!(
            Dataset::new(vec![1.0; 2], 2, 1, vec![1.0, 0.0], vec![-1.0, 1.0]),
            Err(TrainError::InvalidWeight { row: 0, .. })
        ));
        assert!(matches!(
            Dataset::new(vec![1.0; 2], 2, 1, vec![1.0, 0.0], vec![1.0, f32::INFINITY]),
            Err(TrainError::InvalidWeight { row: 1, .. })
        ));
    }

    #[test]
    fn balance_weights_equalise_classes() {
        let d = small();
        assert_eq!(d.class_weights(), (1.0, 3.0));
        assert_eq!(d.class_balance_weights(), vec![3.0, 1.0, 2.0]);
        let one = Dataset::new(vec![0.0; 2], 2, 1, vec![0.0; 2], vec![1.0, 2.0]).expect("ok");
        assert_eq!(one.class_balance_weights(), vec![1.0, 2.0]);
    }

    #[test]
    fn rows_and_subsets() {
        let d = small();
        assert_eq!(d.row(1), Some(&[3.0f32, 4.0][..]));
        assert_eq!(d.row(3), None);
        let s = d.subset(&[2, 0]).expect("in range");
        assert_eq!(s.n_rows, 2);
        assert_eq!(s.y, vec![0.0, 1.0]);
        assert_eq!(s.w, vec![2.0, 1.0]);
        assert_eq!(s.x[0], 5.0);
        assert!(s.x[1].is_nan());
        assert_eq!(
            d.subset(&[5]),
            Err(TrainError::IndexOutOfRange { index: 5, len: 3 })
        );
    }
}
