#!/usr/bin/env bash
# Recipe for the 2DMSE model that bench/elastic_quality.py compares with the bundled one.
#
# Builds the (docstring sentence -> code) pairs from third-party packages in the venv
# (bench/_pairs.py, never the stdlib the benchmark evaluates on), then fine-tunes the bundled
# all-MiniLM-L6-v2 with `embedsvc train 2dmse`. Capped for a 2-core CPU: a step of 32 pairs
# took 15-30 s there, depending on load: 40 steps took 814 s (14 minutes). Does nothing when
# the model already exists; delete the directory to retrain. Settings via the environment:
#
#   STEPS=40 BATCH=32 LR=1e-4 OUT=bench/.cache/model-2dmse bench/train_2dmse.sh
set -euo pipefail
cd "$(dirname "$0")/.."

PAIRS=bench/.cache/pairs.jsonl
OUT=${OUT:-bench/.cache/model-2dmse}
STEPS=${STEPS:-40}
BATCH=${BATCH:-32}
# Higher than the CLI's 2e-5: with a few dozen steps a smaller rate barely moves the weights.
LR=${LR:-1e-4}
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1

if [[ -f "$OUT/modules.json" ]]; then
    echo "$OUT exists; delete it to train again"
    exit 0
fi
[[ -f "$PAIRS" ]] || .venv/bin/python bench/_pairs.py --out "$PAIRS"

started=$SECONDS
.venv/bin/embedsvc train 2dmse --pairs "$PAIRS" --out "$OUT" \
    --max-steps "$STEPS" --batch-size "$BATCH" --learning-rate "$LR"
seconds=$((SECONDS - started))
# elastic_quality.py reports how the model was made from this file.
printf '{"pairs": %d, "steps": %d, "batch_size": %d, "learning_rate": %s, "seconds": %d}\n' \
    "$(wc -l < "$PAIRS")" "$STEPS" "$BATCH" "$LR" "$seconds" > "$OUT/training.json"
echo "trained in ${seconds} s: $OUT"
