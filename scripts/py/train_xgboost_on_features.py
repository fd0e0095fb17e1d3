"""Train an XGBoost model on the CSV that `shrike features` writes, for `shrike model import`.

Usage: python train_xgboost_on_features.py FEATURES.csv OUT_MODEL.json [TEST_FROM_UNIX_SECONDS]

Rows dated before TEST_FROM train (default: all rows); phishing is 1, ham and bounce 0, spam is
left out, as in Shrike's own trainer. Empty cells are missing values (NaN).
"""
import csv
import sys

import numpy as np
import xgboost as xgb


def main() -> None:
    src, out = sys.argv[1], sys.argv[2]
    test_from = int(sys.argv[3]) if len(sys.argv) > 3 else None
    with open(src, newline="") as f:
        reader = csv.reader(f)
        header = next(reader)
        rows = list(reader)
    n_meta = 4  # id, source, label, date
    X, y = [], []
    for r in rows:
        label = r[2]
        if label == "spam":
            continue
        if test_from is not None and int(r[3]) >= test_from:
            continue
        X.append([float(v) if v != "" else np.nan for v in r[n_meta:]])
        y.append(1.0 if label == "phishing" else 0.0)
    X = np.asarray(X, dtype=np.float32)
    y = np.asarray(y, dtype=np.float32)
    dtrain = xgb.DMatrix(X, label=y, missing=np.nan, feature_names=header[n_meta:])
    params = {"objective": "binary:logistic", "tree_method": "hist", "max_depth": 5,
              "eta": 0.1, "seed": 7, "nthread": 2}
    booster = xgb.train(params, dtrain, num_boost_round=100)
    booster.save_model(out)
    print(f"trained on {X.shape[0]} rows x {X.shape[1]} features -> {out}")


if __name__ == "__main__":
    main()
