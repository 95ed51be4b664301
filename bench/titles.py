"""Job-title normalization: Recall@1/5/10 on the BLS dev sets (bench/_titles_data.py).

Rows: char n-gram TF-IDF alone (raw title vs raw labels), the bundled encoder alone (same),
the pipeline (cleanup + fusion, through Core.normalize_titles with threshold 0), and the
pipeline with a model trained by `embedsvc train titles` when --model DIR is given. Also the
catalog's load time and memory, and normalize's titles per second.

    .venv/bin/python bench/titles.py [--model DIR] [--weights 0.3,0.7,1.0]
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from _cache import EmbeddingCache
from _metrics import recall, write_results
from _titles_data import DevSet, dev_sets

from embedsvc.config import Settings
from embedsvc.core import Core
from embedsvc.titles.catalog import entry_of
from embedsvc.titles.lexical import CharNgramIndex
from embedsvc.titles.service import Weights
from embedsvc.titles.types import TitleQuery

KS = (1, 5, 10)


def ranks_of(scores: np.ndarray, ids: list[str], gold: list[str]) -> np.ndarray:
    positions = np.array([ids.index(g) for g in gold])
    gold_scores = scores[np.arange(len(gold)), positions]
    return (scores > gold_scores[:, None]).sum(axis=1) + 1


def baselines(dev: DevSet, cache: EmbeddingCache) -> dict[str, np.ndarray]:
    entries = [entry_of(record, "") for record in dev.catalog]
    ids = [entry.id for entry in entries]
    labels, owners = [], []
    for position, entry in enumerate(entries):
        for label in entry.labels:
            labels.append(label.lower())
            owners.append(position)
    owners_arr = np.array(owners)
    starts = np.searchsorted(owners_arr, np.arange(len(entries)))

    def per_entry(label_scores: np.ndarray) -> np.ndarray:
        return np.maximum.reduceat(label_scores, starts, axis=1)

    queries = [q.lower() for q in dev.queries]
    lexical = per_entry(CharNgramIndex(labels).scores(queries))
    label_vectors = cache.embed(labels, "labels")
    query_vectors = cache.embed(queries, "queries")
    dense = per_entry(query_vectors @ label_vectors.T)
    return {"char n-gram TF-IDF": ranks_of(lexical, ids, dev.gold),
            "bundled encoder": ranks_of(dense, ids, dev.gold)}


def pipeline(
    dev: DevSet, core: Core, catalog: str, cleanup: bool = True
) -> tuple[np.ndarray, float]:
    ids = [record["id"] for record in dev.catalog]
    ranks, started = [], time.perf_counter()
    for start in range(0, len(dev.queries), 256):
        batch = [TitleQuery(q) for q in dev.queries[start:start + 256]]
        answers = core.normalize_titles(catalog, batch, len(ids), cleanup, threshold=-1)
        for answer, gold in zip(answers,
                                dev.gold[start:start + 256], strict=True):
            found = [c.id for c in answer.candidates]
            ranks.append(found.index(gold) + 1 if gold in found else 10**6)
    return np.array(ranks), len(dev.queries) / (time.perf_counter() - started)


def signals_of(dev: DevSet, core: Core, catalog: str) -> list[np.ndarray]:
    """The product's per-entry signals of every query, in batches, joined."""
    parts = [core.titles.signals(catalog, [TitleQuery(q) for q in dev.queries[i:i + 256]])
             for i in range(0, len(dev.queries), 256)]
    return [np.concatenate([getattr(p, name) for p in parts])
            for name in ("lexical", "dense", "classifier")]


LEXICAL_WEIGHTS = (0.0, 0.2, 0.3, 0.4, 1.0)
CLASSIFIER_WEIGHTS = (0.0, 0.5, 1.0, 1.5, 2.0)
THRESHOLDS = tuple(np.round(np.arange(0.3, 0.81, 0.05), 2))


def tune(sets: list[DevSet], signals: list[list[np.ndarray]], ids: list[str]) -> list[str]:
    """Recall@1/5/10 per lexical weight (dense = 1 - it) and classifier weight, and at the
    default weights the share of right first answers vs. correct "no match" answers per
    threshold, the latter when the query's own entry is taken out of the similarities."""
    lines = ["\n| lexical weight | classifier weight | "
             + " | ".join(f"{d.name} R@1 / R@5 / R@10" for d in sets) + " |",
             "|---|---|" + "---|" * len(sets)]
    best = (-1.0, 0.0, 0.0)

    def fuse(lexical_w: float, classifier_w: float, parts: list[np.ndarray]) -> np.ndarray:
        lexical, dense, classifier = parts
        total = lexical_w * lexical + (1 - lexical_w) * dense + classifier_w * classifier
        return total / (1 + classifier_w)

    for classifier_w in CLASSIFIER_WEIGHTS:
        for lexical_w in LEXICAL_WEIGHTS:
            cells, r1 = [], 0.0
            for dev, parts in zip(sets, signals, strict=True):
                ranks = ranks_of(fuse(lexical_w, classifier_w, parts), ids, dev.gold)
                cells.append(" / ".join(f"{recall(ranks, k):.3f}" for k in KS))
                r1 += recall(ranks, 1)
            best = max(best, (r1, lexical_w, classifier_w))
            lines.append(f"| {lexical_w:.1f} | {classifier_w:.1f} | " + " | ".join(cells) + " |")
    lines.append(f"\nbest: lexical weight {best[1]:.1f}, classifier weight {best[2]:.1f}")
    lexical_w, classifier_w = Weights().lexical, Weights().classifier
    lines.append(f"thresholds at the defaults: lexical weight {lexical_w:.1f}, "
                 f"classifier weight {classifier_w:.1f}")
    # The threshold is on the similarity (the fusion without the classifier), as in normalize:
    # the first answer is the best-ranked entry whose similarity reaches it.
    corrects, refusals = {t: [] for t in THRESHOLDS}, {t: [] for t in THRESHOLDS}
    for dev, parts in zip(sets, signals, strict=True):
        fused, similar = fuse(lexical_w, classifier_w, parts), fuse(lexical_w, 0.0, parts)
        gold = np.array([ids.index(g) for g in dev.gold])
        rows = np.arange(len(gold))
        others = similar.copy()
        others[rows, gold] = -np.inf  # the query's own entry is not in the catalog
        for threshold in THRESHOLDS:
            first = np.where(similar >= threshold, fused, -np.inf).argmax(axis=1)
            corrects[threshold].append((first == gold) & (similar[rows, gold] >= threshold))
            refusals[threshold].append(others.max(axis=1) < threshold)
    lines += ["", "| threshold | matched and right | no match where the entry is missing |",
              "|---|---|---|"]
    for threshold in THRESHOLDS:
        kept, refused = np.concatenate(corrects[threshold]), np.concatenate(refusals[threshold])
        lines.append(f"| {threshold:.2f} | {kept.mean():.3f} | {refused.mean():.3f} |")
    return lines


def row(name: str, ranks: np.ndarray) -> str:
    return f"| {name} | " + " | ".join(f"{recall(ranks, k):.3f}" for k in KS) + " |"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="", help="a model dir from `embedsvc train titles`")
    parser.add_argument("--trained-only", action="store_true",
                        help="with --model: only the trained model's rows")
    parser.add_argument("--weights", default="", help="lexical,dense,classifier to try instead")
    args = parser.parse_args()
    sets, _ = dev_sets()
    results, found = {}, []
    full = not (args.model and args.trained_only)
    with tempfile.TemporaryDirectory() as tmp:
        models = {"trained": args.model} if args.model else {}
        core = Core(Settings(data_dir=Path(tmp), models=models))
        if args.weights:
            lexical, dense, classifier = map(float, args.weights.split(","))
            core.titles.weights = Weights(lexical=lexical, dense=dense, classifier=classifier)
        cache = EmbeddingCache(core.models.get())  # type: ignore[arg-type]
        entries = [entry_of(record, "") for record in sets[0].catalog]
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        started = time.perf_counter()
        core.load_catalog("bls", entries, model="trained" if not full else "")
        load_s = time.perf_counter() - started
        rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        if args.model and full:
            core.load_catalog("bls-trained", entries, model="trained")
        for dev in sets:
            ranks = baselines(dev, cache) if full else {}
            if full:
                ranks["fusion, cleanup off"], _ = pipeline(dev, core, "bls", cleanup=False)
            name = "pipeline (cleanup + fusion)" if full else "pipeline, trained model"
            ranks[name], speed = pipeline(dev, core, "bls")
            if args.model and full:
                ranks["pipeline, trained model"], _ = pipeline(dev, core, "bls-trained")
            lines = [f"\n{dev.name}: {len(dev.queries)} queries, {len(dev.catalog)} entries",
                     "", "| method | Recall@1 | Recall@5 | Recall@10 |", "|---|---|---|---|"]
            lines += [row(name, value) for name, value in ranks.items()]
            lines.append(f"\nnormalize: {speed:.0f} titles/s (batches of 256, in process)")
            print("\n".join(lines), flush=True)
            if full:
                found.append(signals_of(dev, core, "bls"))
            results[dev.name] = {name: {f"recall@{k}": recall(value, k) for k in KS}
                                 for name, value in ranks.items()}
            results[dev.name]["titles_per_s"] = speed
        if full:
            print("\n".join(tune(sets, found, [e.id for e in entries])), flush=True)
        core.close()
    labels = sum(1 + len(record["alt_labels"]) for record in sets[0].catalog)
    print(f"\nload: {len(entries)} entries, {labels} labels in {load_s:.1f} s "
          f"(embedding included); peak RSS grew {(rss_after - rss_before) / 1024:.0f} MiB "
          f"to {rss_after / 1024:.0f} MiB")
    results["load_s"], results["peak_rss_mib"] = load_s, rss_after / 1024
    write_results("titles-trained" if not full else "titles", results)


if __name__ == "__main__":
    main()
