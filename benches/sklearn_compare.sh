#!/usr/bin/env bash
# Training time and coefficients of dunning (linfa-logistic) beside
# scikit-learn's LogisticRegression (lbfgs, C = 1/alpha) on the same feature
# table. Installs scikit-learn, pyarrow and numpy into a virtualenv.
#
#   benches/sklearn_compare.sh [BORROWERS] [RUNS]     (default 1000000 3)
#
# Generates BORROWERS borrowers (reusing bench/ledger-N when present), builds
# the features of three month-end snapshots (about 1M borrower-snapshots for
# 1M borrowers), trains with `dunning train --features` RUNS times (the
# median wall time, which includes reading the table), then fits scikit-learn
# RUNS times on the same rows and compares the coefficients.
set -euo pipefail
cd "$(dirname "$0")/.."
N="${1:-1000000}"
RUNS="${2:-3}"
WORK="bench/sklearn-$N"
VENV="${DUNNING_VENV:-$HOME/.cache/dunning-venv}"
mkdir -p "$WORK"

if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
fi
"$VENV/bin/pip" install --quiet --disable-pip-version-check scikit-learn pyarrow numpy

cargo build --release --quiet
BIN="${CARGO_TARGET_DIR:-target}/release/dunning"

if [ ! -f "$WORK/ledger/schedule.parquet" ]; then
  "$BIN" --quiet generate --borrowers "$N" --seed 1 --out "$WORK/ledger"
fi
L="$WORK/ledger"
if [ ! -f "$WORK/features.parquet" ]; then
  "$BIN" --quiet features --schedule "$L/schedule.parquet" --payments "$L/payments.parquet" \
    --borrowers "$L/borrowers.parquet" --contacts "$L/contacts.parquet" \
    --as-of 2025-09-30 --as-of 2025-10-31 --as-of 2025-11-30 --out "$WORK/features.parquet"
fi

times=()
for _ in $(seq "$RUNS"); do
  start=$(date +%s%N)
  "$BIN" --quiet train --features "$WORK/features.parquet" --validate-as-of 2025-11-30 \
    --out "$WORK/model"
  end=$(date +%s%N)
  times+=("$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.3f", (b - a) / 1e9 }')")
done
dunning_median=$(printf '%s\n' "${times[@]}" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')

"$VENV/bin/python" benches/sklearn_compare.py --features "$WORK/features.parquet" \
  --model "$WORK/model/model.json" --validate-as-of 2025-11-30 --runs "$RUNS" > "$WORK/sklearn.json"
cat "$WORK/sklearn.json"
echo "dunning train (read table + fit + write), median of $RUNS: ${dunning_median} s"
echo "all runs: ${times[*]}"
