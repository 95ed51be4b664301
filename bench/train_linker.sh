#!/usr/bin/env bash
# Recipe for the re-rankers that bench/linking.py --rerankers compares with the ensemble.
#
# Sets (bench/_linking_sets.py, the same arguments as bench/linking.py's defaults): each KB is
# loaded into a data dir of its own with the default model, and `embedsvc train linker` trains
# one re-ranker per set on its training mentions (held-out synonyms, or translations, of other
# concepts than the evaluated ones): each mention against its gold concept and NEG hard
# negatives from the fused generators, MPS lists a step, listwise cross-entropy plus rank
# regularization LAMBDA. Capped for a shared 2-core CPU. Does nothing for a set whose re-ranker
# exists; delete it to retrain.
#
#   STEPS=150 NEG=15 MPS=4 LR=5e-5 LAMBDA=1.0 OUT=bench/.cache/rerankers bench/train_linker.sh
set -euo pipefail
cd "$(dirname "$0")/.."

DATA=${DATA:-bench/.cache/linking}
OUT=${OUT:-bench/.cache/rerankers}
STEPS=${STEPS:-150}
NEG=${NEG:-15}
MPS=${MPS:-4}
LR=${LR:-5e-5}
LAMBDA=${LAMBDA:-1.0}
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1

.venv/bin/python bench/_linking_sets.py "$DATA/sets"
for set in hpo go crosslingual; do
    if [[ -f "$OUT/$set/linker.json" ]]; then
        echo "$OUT/$set exists; delete it to train again"
        continue
    fi
    store="$DATA/store-$set"
    rm -rf "$store"
    started=$SECONDS
    .venv/bin/embedsvc link load "$DATA/sets/$set.kb.jsonl" --kb "$set" --data-dir "$store"
    loaded=$((SECONDS - started))
    .venv/bin/embedsvc train linker --kb "$set" --mentions "$DATA/sets/$set.train.jsonl" \
        --out "$OUT/$set" --data-dir "$store" --steps "$STEPS" --negatives "$NEG" \
        --mentions-per-step "$MPS" --learning-rate "$LR" --rank-regularization "$LAMBDA"
    echo "$set: KB loaded in ${loaded} s, trained in $((SECONDS - started - loaded)) s"
done
