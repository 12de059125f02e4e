"""Fit scikit-learn's LogisticRegression on the table dunning trained on and
compare: the same rows, the same standardization, the same penalty.

dunning's objective is the summed log loss + ALPHA/2 |w|^2 with an
unpenalized intercept, which is scikit-learn's lbfgs objective with
C = 1/ALPHA. The script reads the feature table written by
`dunning features`, keeps the rows dunning trained on (labelled, snapshots
before --validate-as-of), standardizes each model feature with the mean and
std stored in model.json, fits, and prints the largest coefficient
difference and the fit times (median of --runs) as JSON.

Run it through benches/sklearn_compare.sh, which installs scikit-learn.
"""

import argparse
import json
import statistics
import time

import numpy as np
import pyarrow.parquet as pq
from sklearn.linear_model import LogisticRegression


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--features", required=True)
    ap.add_argument("--model", required=True, help="model.json written by dunning train")
    ap.add_argument("--validate-as-of", required=True)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()

    model = json.load(open(args.model))
    alpha = model["penalty"]["l2_alpha"]
    feats = model["features"]
    names = [f["name"] for f in feats]

    timings = []
    for _ in range(args.runs):
        t0 = time.perf_counter()
        table = pq.read_table(args.features, columns=names + ["as_of", "repaid"])
        as_of = table.column("as_of").to_numpy()
        repaid = table.column("repaid").to_numpy(zero_copy_only=False)
        cutoff = np.datetime64(args.validate_as_of)
        keep = (as_of < cutoff) & np.array([r is not None for r in repaid])
        y = np.array([bool(r) for r in repaid[keep]])
        x = np.empty((int(keep.sum()), len(names)))
        for j, f in enumerate(feats):
            col = table.column(f["name"]).to_numpy()[keep]
            x[:, j] = (col - f["mean"]) / f["std"]
        t1 = time.perf_counter()
        clf = LogisticRegression(C=1.0 / alpha, solver="lbfgs", tol=1e-10, max_iter=10000)
        clf.fit(x, y)
        t2 = time.perf_counter()
        timings.append({"read_and_prepare": t1 - t0, "fit": t2 - t1, "total": t2 - t0})

    # sklearn's classes_ are [False, True]: coefficients are log-odds of repaying, as dunning's.
    ours = np.array([f["coefficient"] for f in feats])
    theirs = clf.coef_[0]
    diff = np.abs(ours - theirs)
    worst = int(np.argmax(diff))
    print(json.dumps({
        "rows": int(x.shape[0]),
        "features": len(names),
        "alpha": alpha,
        "sklearn_fit_seconds_median": statistics.median(t["fit"] for t in timings),
        "sklearn_total_seconds_median": statistics.median(t["total"] for t in timings),
        "sklearn_runs": timings,
        "max_abs_coefficient_difference": float(diff.max()),
        "worst_feature": names[worst],
        "intercept_difference": float(abs(model["intercept"] - clf.intercept_[0])),
        "sklearn_iterations": int(clf.n_iter_[0]),
    }, indent=2))


if __name__ == "__main__":
    main()
