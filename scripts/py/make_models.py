#!/usr/bin/env python3
"""Train small XGBoost and LightGBM models with fixed seeds and write parity fixtures.

Used by `crates/score/tests/python_models.rs` (parity of Shrike's loaders, evaluator and
TreeSHAP with the libraries' own predictions) and `crates/score/benches/inference.rs`.

    make_models.py OUT_DIR           # parity models + test matrix + reference predictions
    make_models.py OUT_DIR --bench   # also the large LightGBM model and rows for the benchmark

Inputs are float32-exact (cast to float32 and back) so that XGBoost (float32), LightGBM (float64)
and Shrike (f32 features) all see the same numbers.

Files written to OUT_DIR (all JSON numbers are float64-exact; NaN is written as null and
+/-inf as the strings "inf"/"-inf"):
    xgb_binary.json, xgb_logitraw.json, xgb_squarederror.json     XGBoost JSON models
    lgb_binary.txt, lgb_sigmoid2.txt, lgb_regression.txt          LightGBM text models
    test_matrix.json      {"n_features": F, "rows": [[...], ...]}
    predictions.json      {model_name: {"margin": [...], "proba": [...], "contribs": [[...]]}}
    bench/lgb_bench.txt, bench/bench_rows.f32 (with --bench; rows as little-endian float32)
"""

import json
import math
import os
import sys

import numpy as np

SEED = 20251123
N_TRAIN = 2000
N_TEST = 200
N_FEATURES = 20


def f32_exact(a):
    return np.asarray(a, dtype=np.float32).astype(np.float64)


def synthetic(rng, n, f, nan_rate=0.1, nan_features=None):
    """A nonlinear binary task; NaNs in `nan_features` (all features when None)."""
    x = rng.normal(size=(n, f))
    x[:, 1] = np.round(x[:, 1] * 2)  # a few repeated values, including exact zeros
    logit = (
        1.5 * x[:, 0]
        - 1.0 * x[:, 1] * (x[:, 2] > 0)
        + np.sin(2 * x[:, 3])
        + 0.5 * x[:, 4] * x[:, 5]
        + 0.3 * x[:, min(6, f - 1)] ** 2
        - 0.5
    )
    if f > 20:
        logit += 0.2 * x[:, 20:].sum(axis=1) / math.sqrt(f - 20) + 0.4 * np.tanh(x[:, 20:40] @ np.ones(min(20, f - 20)))
    y = (logit + rng.logistic(size=n) > 0).astype(np.float64)
    cols = range(f) if nan_features is None else nan_features
    for c in cols:
        x[rng.random(n) < nan_rate, c] = np.nan
    # Missingness that predicts the label: LightGBM then learns "missing versus the rest"
    # splits, which it writes with threshold=inf.
    x[(y == 1) & (rng.random(n) < 0.3), 7] = np.nan
    return f32_exact(x), y


def json_num(v):
    v = float(v)
    if math.isnan(v):
        return None
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    return v


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def f32_at_or_below(t):
    """The largest float32 <= t."""
    v = np.float32(t)
    return np.nextafter(v, np.float32(-np.inf)) if float(v) > t else v


def xgb_thresholds(bst):
    """{feature: [split thresholds]} of an XGBoost booster."""
    out = {}
    for tree in json.loads(bst.save_raw("json"))["learner"]["gradient_booster"]["model"]["trees"]:
        for left, f, t in zip(tree["left_children"], tree["split_indices"], tree["split_conditions"]):
            if left != -1:
                out.setdefault(f, []).append(t)
    return out


def lgb_thresholds(bst):
    """{feature: [finite split thresholds]} of a LightGBM booster."""
    out = {}

    def walk(node):
        if "split_feature" in node:
            t = node["threshold"]
            if isinstance(t, float) and math.isfinite(t):
                out.setdefault(node["split_feature"], []).append(t)
            walk(node["left_child"])
            walk(node["right_child"])

    for tree in bst.dump_model()["tree_info"]:
        walk(tree["tree_structure"])
    return out


def boundary_rows(xt, start, thresholds, rng, value):
    """Rows start..start+9: every split feature set to `value(t)` for one of its thresholds."""
    for row in range(start, start + 10):
        for f, ts in thresholds.items():
            xt[row, f] = float(value(ts[rng.integers(len(ts))]))


def main(argv):
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    out = argv[1]
    bench = "--bench" in argv[2:]
    os.makedirs(out, exist_ok=True)

    import lightgbm as lgb
    import xgboost as xgb

    rng = np.random.default_rng(SEED)
    # Training NaNs only in features 0..9: features 10..19 get LightGBM missing type None, and
    # the test matrix (NaNs everywhere) exercises both NaN semantics.
    x, y = synthetic(rng, N_TRAIN, N_FEATURES, nan_features=range(10))
    xt, _ = synthetic(rng, N_TEST, N_FEATURES, nan_rate=0.15)
    # Edge rows: all zeros, all NaN, infinities; split-boundary rows are set after training.
    xt[0, :] = 0.0
    xt[1, :] = np.nan
    xt[2, ::2] = np.inf
    xt[3, ::2] = -np.inf
    xt[3, 1::2] = np.inf

    xgb_common = {"tree_method": "hist", "max_depth": 5, "eta": 0.3, "seed": SEED, "nthread": 1}
    xgb_models = []
    dtrain = xgb.DMatrix(x, label=y, missing=np.nan)
    for name, objective, rounds in [
        ("xgb_binary", "binary:logistic", 50),
        ("xgb_logitraw", "binary:logitraw", 10),
        ("xgb_squarederror", "reg:squarederror", 10),
    ]:
        bst = xgb.train({**xgb_common, "objective": objective}, dtrain, num_boost_round=rounds)
        bst.save_model(os.path.join(out, name + ".json"))
        xgb_models.append((name, objective, bst))

    lgb_common = {
        "num_leaves": 31,
        "learning_rate": 0.1,
        "seed": SEED,
        "deterministic": True,
        "num_threads": 1,
        "verbose": -1,
    }
    lgb_models = []
    for name, params, rounds in [
        ("lgb_binary", {"objective": "binary"}, 50),
        ("lgb_sigmoid2", {"objective": "binary", "sigmoid": 2.0}, 10),
        ("lgb_regression", {"objective": "regression"}, 10),
    ]:
        ds = lgb.Dataset(x, label=y, params={"verbose": -1})
        bst = lgb.train({**lgb_common, **params}, ds, num_boost_round=rounds)
        bst.save_model(os.path.join(out, name + ".txt"))
        lgb_models.append((name, params, bst))

    # Rows on the split boundaries. XGBoost splits on f32 values with `x < t`: rows 4..13 hit
    # its thresholds exactly. LightGBM splits on doubles with `x <= t`: rows 14..23 hold the
    # largest f32 <= t (goes left), rows 24..33 the next f32 up (goes right).
    boundary_rows(xt, 4, xgb_thresholds(xgb_models[0][2]), rng, lambda t: np.float32(t))
    lgb_t = lgb_thresholds(lgb_models[0][2])
    boundary_rows(xt, 14, lgb_t, rng, f32_at_or_below)
    boundary_rows(xt, 24, lgb_t, rng, lambda t: np.nextafter(f32_at_or_below(t), np.float32(np.inf)))

    preds = {}
    # XGBoost's DMatrix rejects +/-inf ("Input data contains `inf`"): rows with infinities are
    # predicted by LightGBM only.
    xgb_rows = np.all(np.isfinite(xt) | np.isnan(xt), axis=1)
    dtest = xgb.DMatrix(xt[xgb_rows], missing=np.nan)
    for name, objective, bst in xgb_models:
        margin = bst.predict(dtest, output_margin=True).astype(np.float64)
        contribs = bst.predict(dtest, pred_contribs=True).astype(np.float64)
        if objective == "binary:logistic":
            proba = bst.predict(dtest).astype(np.float64)
        elif objective == "binary:logitraw":
            proba = sigmoid(margin)
        else:
            proba = np.clip(margin, 0.0, 1.0)
        preds[name] = {
            "rows": [int(i) for i in np.flatnonzero(xgb_rows)],
            "margin": [json_num(v) for v in margin],
            "proba": [json_num(v) for v in proba],
            "contribs": [[json_num(v) for v in r] for r in contribs],
        }
    for name, params, bst in lgb_models:
        margin = bst.predict(xt, raw_score=True, num_threads=1)
        proba = bst.predict(xt, num_threads=1)
        if params["objective"] == "regression":
            proba = np.clip(proba, 0.0, 1.0)
        contribs = bst.predict(xt, pred_contrib=True, num_threads=1)
        preds[name] = {
            "rows": list(range(len(xt))),
            "margin": [json_num(v) for v in margin],
            "proba": [json_num(v) for v in proba],
            "contribs": [[json_num(v) for v in r] for r in contribs],
        }

    with open(os.path.join(out, "test_matrix.json"), "w") as f:
        json.dump({"n_features": N_FEATURES, "rows": [[json_num(v) for v in r] for r in xt]}, f)
    with open(os.path.join(out, "predictions.json"), "w") as f:
        json.dump(preds, f)

    if bench:
        make_bench(os.path.join(out, "bench"), lgb)
    return 0


def make_bench(out, lgb):
    """The benchmark model: 300 trees, up to 255 leaves at depth <= 8, 300 features."""
    os.makedirs(out, exist_ok=True)
    rng = np.random.default_rng(SEED + 1)
    n_features = 300
    x, y = synthetic(rng, 50_000, n_features, nan_rate=0.05)
    params = {
        "objective": "binary",
        "num_leaves": 255,
        "max_depth": 8,
        "min_data_in_leaf": 5,
        "learning_rate": 0.05,
        "feature_fraction": 0.5,
        "bagging_fraction": 0.8,
        "bagging_freq": 1,
        "seed": SEED,
        "deterministic": True,
        "num_threads": 2,
        "verbose": -1,
    }
    bst = lgb.train(params, lgb.Dataset(x, label=y), num_boost_round=300)
    bst.save_model(os.path.join(out, "lgb_bench.txt"))
    rows, _ = synthetic(rng, 10_000, n_features, nan_rate=0.05)
    rows.astype("<f4").tofile(os.path.join(out, "bench_rows.f32"))


if __name__ == "__main__":
    sys.exit(main(sys.argv))
