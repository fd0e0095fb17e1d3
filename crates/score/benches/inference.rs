//! Tree inference speed on a LightGBM-trained model, to compare with LightGBM's own predict
//! (`scripts/py/bench_lightgbm.py` on the same model and rows).
//!
//! The model (300 trees, up to 255 leaves at depth <= 8, 300 features) and 10,000 rows come from
//! `scripts/py/make_models.py <dir> --bench`, run into `target/bench-models/` on first use with
//! `$SHRIKE_PYTHON` or `<workspace>/.venv/bin/python`; without Python the bench prints
//! `skipping: ...` and measures nothing.
//!
//! Single-threaded. Measures, per row: `CompiledEnsemble::raw` (one row at a time),
//! `CompiledEnsemble::raw_batch` (all rows), the reference `TreeEnsemble::raw`, and TreeSHAP.
//!
//! ```text
//! cargo bench -p shrike-score --bench inference
//! .venv/bin/python scripts/py/bench_lightgbm.py target/bench-models/bench
//! ```

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use shrike_score::import::from_lightgbm_text;
use shrike_score::shap::ShapScratch;
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::process::Command;

const N_FEATURES: usize = 300;

fn workspace() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    std::fs::canonicalize(&dir).unwrap_or(dir)
}

/// The bench model's text and rows, generating them if needed; `None` without Python.
fn fixtures() -> Option<(String, Vec<f32>)> {
    let dir = workspace().join("target/bench-models/bench");
    let model = dir.join("lgb_bench.txt");
    let rows = dir.join("bench_rows.f32");
    if !(model.exists() && rows.exists()) {
        let python = std::env::var_os("SHRIKE_PYTHON")
            .map(PathBuf::from)
            .unwrap_or_else(|| workspace().join(".venv/bin/python"));
        if !python.exists() {
            eprintln!(
                "skipping: no bench model in {} and no Python at {} to make one",
                dir.display(),
                python.display()
            );
            return None;
        }
        eprintln!("generating the bench model (about 20 s)...");
        let status = Command::new(&python)
            .arg(workspace().join("scripts/py/make_models.py"))
            .arg(workspace().join("target/bench-models"))
            .arg("--bench")
            .status();
        if !status.is_ok_and(|s| s.success()) {
            eprintln!("skipping: make_models.py --bench failed");
            return None;
        }
    }
    let text = std::fs::read_to_string(&model).ok()?;
    let bytes = std::fs::read(&rows).ok()?;
    let rows = bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    Some((text, rows))
}

fn inference(c: &mut Criterion) {
    let Some((text, rows)) = fixtures() else {
        return;
    };
    let ensemble = from_lightgbm_text(&text).expect("bench model loads");
    let compiled = ensemble.compile().expect("bench model compiles");
    let n_rows = rows.len() / N_FEATURES;
    eprintln!(
        "model: {} trees, {} nodes, {} features; {} rows",
        compiled.n_trees(),
        compiled.n_nodes(),
        compiled.n_features(),
        n_rows
    );
    let row = |i: usize| &rows[(i % n_rows) * N_FEATURES..(i % n_rows + 1) * N_FEATURES];

    let mut g = c.benchmark_group("inference");
    g.throughput(Throughput::Elements(1));
    let mut i = 0;
    g.bench_function("compiled_single_row", |b| {
        b.iter(|| {
            i += 1;
            black_box(compiled.raw(black_box(row(i))))
        })
    });
    g.bench_function("reference_single_row", |b| {
        b.iter(|| {
            i += 1;
            black_box(ensemble.raw(black_box(row(i))))
        })
    });
    let mut out = vec![0.0; n_rows];
    g.throughput(Throughput::Elements(n_rows as u64));
    g.bench_function("compiled_batch_10k_rows", |b| {
        b.iter(|| {
            compiled.raw_batch(black_box(&rows), N_FEATURES, &mut out);
            black_box(out[0])
        })
    });
    g.throughput(Throughput::Elements(1));
    let mut scratch = ShapScratch::new();
    let mut phi = vec![0.0; N_FEATURES];
    g.bench_function("treeshap_single_row", |b| {
        b.iter(|| {
            i += 1;
            black_box(ensemble.shap_values_with(black_box(row(i)), &mut phi, &mut scratch))
        })
    });
    g.finish();

    // LightGBM's defaults (31 leaves, depth unbounded: max depths 8-14, mean leaf depth 6.6),
    // where a fixed-depth walk does more steps than the rows need.
    let small_path = workspace().join("target/bench-models/lgb_binary.txt");
    let Ok(small) = std::fs::read_to_string(&small_path) else {
        eprintln!("skipping the small model: no {}", small_path.display());
        return;
    };
    let small = from_lightgbm_text(&small).expect("small model loads");
    let small_compiled = small.compile().expect("small model compiles");
    let small_rows: Vec<f32> = rows
        .chunks_exact(N_FEATURES)
        .flat_map(|r| r[..small.n_features].iter().copied())
        .collect();
    let nf = small.n_features;
    let small_row = |i: usize| &small_rows[(i % n_rows) * nf..(i % n_rows + 1) * nf];
    let mut g = c.benchmark_group("inference_small");
    g.throughput(Throughput::Elements(1));
    g.bench_function("compiled_single_row", |b| {
        b.iter(|| {
            i += 1;
            black_box(small_compiled.raw(black_box(small_row(i))))
        })
    });
    g.bench_function("reference_single_row", |b| {
        b.iter(|| {
            i += 1;
            black_box(small.raw(black_box(small_row(i))))
        })
    });
    let mut phi = vec![0.0; nf];
    g.bench_function("treeshap_single_row", |b| {
        b.iter(|| {
            i += 1;
            black_box(small.shap_values_with(black_box(small_row(i)), &mut phi, &mut scratch))
        })
    });
    g.throughput(Throughput::Elements(n_rows as u64));
    g.bench_function("compiled_batch_10k_rows", |b| {
        b.iter(|| {
            small_compiled.raw_batch(black_box(&small_rows), nf, &mut out);
            black_box(out[0])
        })
    });
    g.finish();
}

criterion_group!(benches, inference);
criterion_main!(benches);
