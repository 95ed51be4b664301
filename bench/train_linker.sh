#!/usr/bin/env bash
# Recipe for the re-rankers that bench/linking.py --rerankers compares with the ensemble.
#
# Sets (bench/_linking_sets.py, the same arguments as bench/linking.py's defaults): each KB is
# loaded into a data dir of its own with the default model, and `embedsvc train linker` trains
# one re-ranker per set on its training mentions (held-out synonyms, or translations, of other
# concepts than the evaluated ones): each mention against its gold concept and NEG hard
# negatives from the fused generators, MPS lists a step, listwise cross-entropy plus rank
# regularization LAMBDA, only the top LAYERS transformer layers trained. Capped for a shared
# 2-core CPU: a step of 4 lists x 16 candidates with every layer trained took about 14 s at load
# average 13; with 2 x 8 and the top 2 layers, 120 steps took 23-138 s as the load varied.
# Does nothing for a set whose re-ranker exists; delete it to retrain.
#
#   STEPS=120 NEG=7 MPS=2 LAYERS=2 LR=1e-4 LAMBDA=0.1 OUT=bench/.cache/rerankers \
#       bench/train_linker.sh
set -euo pipefail
cd "$(dirname "$0")/.."

DATA=${DATA:-bench/.cache/linking}
OUT=${OUT:-bench/.cache/rerankers}
STEPS=${STEPS:-120}
NEG=${NEG:-7}
MPS=${MPS:-2}
LAYERS=${LAYERS:-2}
LR=${LR:-1e-4}
LAMBDA=${LAMBDA:-0.1}
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1

.venv/bin/python bench/_linking_sets.py "$DATA/sets"
for set in hpo go crosslingual; do
    if [[ -f "$OUT/$set/linker.json" ]]; then
        echo "$OUT/$set exists; delete it to train again"
        continue
    fi
    store="$DATA/store-$set"
    started=$SECONDS
    if ! cmp -s "$DATA/sets/$set.kb.jsonl" "$store/loaded.jsonl"; then
        rm -rf "$store"
        .venv/bin/embedsvc link load "$DATA/sets/$set.kb.jsonl" --kb "$set" --data-dir "$store"
        cp "$DATA/sets/$set.kb.jsonl" "$store/loaded.jsonl"
    fi
    loaded=$((SECONDS - started))
    .venv/bin/embedsvc train linker --kb "$set" --mentions "$DATA/sets/$set.train.jsonl" \
        --out "$OUT/$set" --data-dir "$store" --steps "$STEPS" --negatives "$NEG" \
        --mentions-per-step "$MPS" --learning-rate "$LR" --rank-regularization "$LAMBDA" \
        --train-layers "$LAYERS"
    echo "$set: KB loaded in ${loaded} s, trained in $((SECONDS - started - loaded)) s"
done
