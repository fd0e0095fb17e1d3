#!/usr/bin/env python3
"""Time LightGBM's own prediction on the benchmark model, single-threaded, in ns per row.

    bench_lightgbm.py DIR     # DIR holds lgb_bench.txt and bench_rows.f32 (make_models.py --bench)

Prints, for raw-score prediction with num_threads=1:
    batch      Booster.predict on all rows at once (best of several runs)
    per-row    Booster.predict on one row at a time (includes Python call overhead)
    fast C API LGBM_BoosterPredictForMatSingleRowFast via ctypes, one row at a time: LightGBM's
               lowest-overhead single-row path (still pays one ctypes call per row)
"""

import ctypes
import os
import sys
import time

import numpy as np

N_FEATURES = 300


def best_of(runs, fn):
    best = float("inf")
    for _ in range(runs):
        t = time.perf_counter_ns()
        fn()
        best = min(best, time.perf_counter_ns() - t)
    return best


def main(argv):
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    import lightgbm as lgb

    d = argv[1]
    booster = lgb.Booster(model_file=os.path.join(d, "lgb_bench.txt"))
    x32 = np.fromfile(os.path.join(d, "bench_rows.f32"), dtype="<f4").reshape(-1, N_FEATURES)
    x = x32.astype(np.float64)  # exact: LightGBM sees the same values as Shrike
    n = len(x)
    print(f"lightgbm {lgb.__version__}: {booster.num_trees()} trees, {n} rows, num_threads=1")

    booster.predict(x[:100], raw_score=True, num_threads=1)  # warm up
    batch = best_of(5, lambda: booster.predict(x, raw_score=True, num_threads=1))
    print(f"batch      {batch / n:10.0f} ns/row   (predict on {n} rows, best of 5)")
    batch32 = best_of(5, lambda: booster.predict(x32, raw_score=True, num_threads=1))
    print(f"batch f32  {batch32 / n:10.0f} ns/row   (float32 input)")

    m = 2000
    per_row = best_of(3, lambda: [booster.predict(x[i : i + 1], raw_score=True, num_threads=1) for i in range(m)])
    print(f"per-row    {per_row / m:10.0f} ns/row   (predict on 1 row, {m} rows, best of 3)")

    fast = fast_single_row(booster, x, lgb)
    if fast is not None:
        print(f"fast C API {fast:10.0f} ns/row   (LGBM_BoosterPredictForMatSingleRowFast, ctypes)")
    k = 200
    contrib = best_of(3, lambda: booster.predict(x[:k], pred_contrib=True, num_threads=1))
    print(f"pred_contrib {contrib / k:8.0f} ns/row   (TreeSHAP, batch of {k})")

    # LightGBM's defaults (31 leaves, unbounded depth): the parity model, first 20 features.
    small_path = os.path.join(d, "..", "lgb_binary.txt")
    if os.path.exists(small_path):
        small = lgb.Booster(model_file=small_path)
        xs = np.ascontiguousarray(x[:, : small.num_feature()])
        print(f"small model: {small.num_trees()} trees, {small.num_feature()} features")
        t = best_of(5, lambda: small.predict(xs, raw_score=True, num_threads=1))
        print(f"batch      {t / n:10.0f} ns/row")
        t = best_of(3, lambda: small.predict(xs[:k], pred_contrib=True, num_threads=1))
        print(f"pred_contrib {t / k:8.0f} ns/row")
    return 0


def fast_single_row(booster, x, lgb):
    """LightGBM's single-row fast path through its C API."""
    try:
        lib = lgb.basic._LIB
        C_API_DTYPE_FLOAT64 = 1
        C_API_PREDICT_RAW_SCORE = 1
        handle = ctypes.c_void_p()
        rc = lib.LGBM_BoosterPredictForMatSingleRowFastInit(
            booster._handle,
            ctypes.c_int(C_API_PREDICT_RAW_SCORE),
            ctypes.c_int(0),
            ctypes.c_int(-1),
            ctypes.c_int(C_API_DTYPE_FLOAT64),
            ctypes.c_int32(N_FEATURES),
            ctypes.c_char_p(b"num_threads=1"),
            ctypes.byref(handle),
        )
        if rc != 0:
            return None
        out = np.zeros(1, dtype=np.float64)
        out_len = ctypes.c_int64()
        rows = [np.ascontiguousarray(x[i]) for i in range(len(x))]
        ptrs = [r.ctypes.data_as(ctypes.c_void_p) for r in rows]
        out_ptr = out.ctypes.data_as(ctypes.POINTER(ctypes.c_double))
        fn = lib.LGBM_BoosterPredictForMatSingleRowFast
        m = len(rows)

        def run():
            for p in ptrs:
                fn(handle, p, ctypes.byref(out_len), out_ptr)

        t = best_of(3, run)
        lib.LGBM_FastConfigFree(handle)
        return t / m
    except (AttributeError, OSError):
        return None


if __name__ == "__main__":
    sys.exit(main(sys.argv))
