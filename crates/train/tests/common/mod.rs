//! Seeded synthetic datasets shared by the integration tests and benches.

#![allow(dead_code)]

use shrike_train::rng::Rng;
use shrike_train::Dataset;

/// XOR of the signs of x0 and x1, plus noise features; 15% of x0 missing (then the label follows
/// x1's sign) and 30% of the noise features missing. `flip` = fraction of labels flipped.
pub fn xor(n: usize, n_features: usize, flip: f64, seed: u64) -> Dataset {
    assert!(n_features >= 2);
    let mut rng = Rng::new(seed);
    let mut x = Vec::with_capacity(n * n_features);
    let mut y = Vec::with_capacity(n);
    for _ in 0..n {
        let row: Vec<f32> = (0..n_features).map(|_| rng.normal() as f32).collect();
        let x0_missing = rng.next_f64() < 0.15;
        let mut label = if x0_missing {
            row[1] > 0.0
        } else {
            (row[0] > 0.0) != (row[1] > 0.0)
        };
        if rng.next_f64() < flip {
            label = !label;
        }
        for (f, v) in row.iter().enumerate() {
            let missing = (f == 0 && x0_missing) || (f >= 2 && rng.next_f64() < 0.3);
            x.push(if missing { f32::NAN } else { *v });
        }
        y.push(f32::from(u8::from(label)));
    }
    Dataset::new(x, n, n_features, y, vec![1.0; n]).expect("valid synthetic data")
}

/// A logistic model on the first five features (the rest is noise), labels drawn from it:
/// P(y = 1) = σ(2·x0 - 1.5·x1 + x2·x3 + |x4| - 1.5). Some features are discrete, 5% missing.
pub fn logistic(n: usize, n_features: usize, seed: u64) -> Dataset {
    assert!(n_features >= 5);
    let mut rng = Rng::new(seed);
    let mut x = Vec::with_capacity(n * n_features);
    let mut y = Vec::with_capacity(n);
    for _ in 0..n {
        let row: Vec<f64> = (0..n_features)
            .map(|f| {
                let v = rng.normal();
                // Every third noise feature is a small integer count, like many SOC features.
                if f >= 5 && f % 3 == 0 {
                    (v * 2.0).round().abs()
                } else {
                    v
                }
            })
            .collect();
        let z = 2.0 * row[0] - 1.5 * row[1] + row[2] * row[3] + row[4].abs() - 1.5;
        let p = 1.0 / (1.0 + (-z).exp());
        y.push(f32::from(u8::from(rng.next_f64() < p)));
        for v in row {
            x.push(if rng.next_f64() < 0.05 {
                f32::NAN
            } else {
                v as f32
            });
        }
    }
    Dataset::new(x, n, n_features, y, vec![1.0; n]).expect("valid synthetic data")
}

/// Raw ensemble values for every row of `d`.
pub fn raw_scores(e: &shrike_score::TreeEnsemble, d: &Dataset) -> Vec<f64> {
    (0..d.n_rows)
        .map(|r| e.raw(d.row(r).expect("row in range")))
        .collect()
}

/// Probabilities for every row of `d`.
pub fn probabilities(e: &shrike_score::TreeEnsemble, d: &Dataset) -> Vec<f64> {
    (0..d.n_rows)
        .map(|r| e.predict_proba(d.row(r).expect("row in range")))
        .collect()
}
