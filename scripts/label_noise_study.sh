#!/usr/bin/env bash
# How accurate do labelers need to be? Trains the default classifier on training and validation
# labels flipped at several rates (either way, or injuries reported as safe), with two noise draws
# each, and tests every classifier against the clean test labels. Settings already trained are
# kept (delete runs/noise/<setting> to train it again). Then writes the table and the figure.
#
#   scripts/label_noise_study.sh            # the whole study, ~17 trainings of 5-6 minutes
#   LEVELS="0.1" SEEDS="1" scripts/label_noise_study.sh
set -euo pipefail
cd "$(dirname "$0")/.."
LEVELS=${LEVELS:-"0.05 0.1 0.2 0.3"}
SEEDS=${SEEDS:-"1 2"}
OUT=${OUT:-runs/noise}
mkdir -p "$OUT"
# The books' own sentences of the default run's dataset (its generated pairs left out): every
# corpus sentence as the completion of the three before it, relabeled by the current oracle.
DATA=${DATA:-$OUT/dataset_books.jsonl}
if [ ! -f "$DATA" ]; then
  [ -f runs/default/dataset.jsonl ] || { echo "no runs/default/dataset.jsonl: run make demo first (or set DATA)" >&2; exit 1; }
  python3 -c '
import json, sys
for line in open("runs/default/dataset.jsonl"):
    if (json.loads(line).get("generator") or {}).get("model") == "corpus-reference":
        sys.stdout.write(line)' > "$DATA"
fi
cargo build --release --bin nines

train() {  # kind level seed
  local dir="$OUT/$1-$2-$3"
  [ -f "$dir/test.json" ] && return 0
  echo "== $1 $2 seed $3" >&2
  target/release/nines train-classifier --data "$DATA" \
    --labels labeler:oracle --train-negatives 1000 --epochs 1 --oversample 4 --target-fnr 0.01 \
    --label-noise "$1:$2" --noise-seed "$3" --out "$dir" 2>&1 | tee "$dir.log" >&2
}

# Without noise the seed changes nothing: one clean classifier serves as level 0 of both kinds.
train symmetric 0 1
for seed in $SEEDS; do
  for level in $LEVELS; do
    for kind in symmetric missed; do train "$kind" "$level" "$seed"; done
  done
done
target/release/nines eval label-noise --runs "$OUT" --svg docs/img/label_noise.svg
