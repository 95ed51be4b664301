"""Retrieval quality per dev set: dense, lexical and hybrid search at chunk and document level,
against first-window truncation, through the product's own store and searcher.

Each set is upserted into a real Core (SQLite + FAISS + the lexical index, in a temporary data
dir) whose encoder takes its vectors from bench/.cache, and queried with `Core.search`; the
fusion variants re-fuse the same dense and lexical candidate lists the searcher fuses.

Sets: Python stdlib code search (gold: the function's lines), Python FAQ, perlfaq, needles
(gold: the document holding the answer) and the Python library reference pages (query: the
page's title; gold: the page): a seeded sample the topic mix was tuned on, and the other pages
of the same sizes held out to check it. Chunk-level modes on document sets rank documents by
their first chunk in the list. Prints markdown tables, writes bench/results/retrieval_quality.json.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import numpy as np
from _cache import EmbeddingCache
from _datasets import (
    LongDocumentSet,
    code_search_set,
    ensure_doc_packages,
    group_answers,
    library_set,
    perlfaq,
    python_faq,
    with_needles,
)
from _metrics import markdown_table, mrr, recall, write_results
from _postgres import postgres_database

from embedsvc.config import Settings
from embedsvc.core import Core
from embedsvc.encoding.sentence_transformer import SentenceTransformerEncoder as Encoder
from embedsvc.fusion import PASSAGE_MIX, TOPIC_MIX, DocumentMix, Fusion, reciprocal_rank
from embedsvc.lexical import query_terms
from embedsvc.services.search import DEFAULT_MODE, MIN_POOL
from embedsvc.types import DocumentInput, Hit

TOP_K = 10
CODE_FILES, CODE_QUERIES = 60, 400
ANSWERS_PER_DOCUMENT = 6
FUSIONS = [Fusion(k0, w) for k0 in (10.0, 60.0) for w in (0.5, 1.0, 2.0)]
# Each mix on every query of a set (the default picks one per query by its form). The
# passage mix came from a grid (first 0-0.4 x lexical 0.05-0.7) on the FAQ sets, the topic mix
# from a grid (alpha 0.5-1 x first 0-0.5 x lexical 0-0.5 x lexical_first 0-1) on the library
# pages; these rows show each signal's share (with none, the mix is the dense row).
MIXES = [DocumentMix(first=0.3, lexical=0.0), DocumentMix(first=0.0, lexical=0.35),
         PASSAGE_MIX, DocumentMix(alpha=0.5, first=0.0, lexical=0.35),
         DocumentMix(alpha=0.9, first=0.3, lexical=0.35, lexical_first=0.5), TOPIC_MIX]
UPSERT_BATCH = 32


class CachedEncoder:
    """The product's encoder, with its vectors read from (and written to) bench/.cache."""

    def __init__(self, encoder: Encoder, cache: EmbeddingCache) -> None:
        self._encoder, self._cache = encoder, cache

    def __getattr__(self, name: str) -> Any:
        return getattr(self._encoder, name)

    def encode(self, texts: Sequence[str], profile: Any = None, normalize: bool = True,
               prompt: str = "", **_: Any) -> np.ndarray:
        return self._cache.embed([prompt + text for text in texts])


@dataclass
class DevSet:
    name: str
    documents: list[DocumentInput]
    queries: list[str]
    is_gold: Callable[[int, Hit], bool]  # query number, hit
    document_level: bool  # gold is a whole document (else a span of code)
    first_window: np.ndarray | None = None  # queries x documents, truncation baseline


def code_set() -> DevSet:
    data = code_search_set(CODE_FILES, CODE_QUERIES)

    def is_gold(q: int, hit: Hit) -> bool:
        query, chunk = data.queries[q], hit.chunk
        if hit.document_id != query.path:
            return False
        overlap = min(chunk.end_line, query.end_line) - max(chunk.start_line, query.start_line)
        shorter = min(chunk.end_line - chunk.start_line, query.end_line - query.start_line)
        return overlap + 1 >= (shorter + 1) / 2

    documents = [DocumentInput(f.path, f.source, "python") for f in data.files]
    return DevSet("Python stdlib code search", documents, [q.text for q in data.queries],
                  is_gold, document_level=False)


def document_set(data: LongDocumentSet, cache: EmbeddingCache) -> DevSet:
    ids = [f"doc-{i:04d}" for i in range(len(data.documents))]
    gold = [ids[g] for g in data.gold]
    documents = [DocumentInput(i, text) for i, text in zip(ids, data.documents, strict=True)]
    baseline = cache.embed(data.queries, "queries") @ cache.embed(data.documents, "pages").T
    return DevSet(data.name, documents, data.queries, lambda q, hit: hit.document_id == gold[q],
                  document_level=True, first_window=baseline)


def rank_of(hits: Sequence[Hit], q: int, dev: DevSet) -> int:
    """1-based rank of the first gold hit (documents counted once on document sets), 0: none."""
    seen: list[str] = []
    for hit in hits:
        if dev.document_level:
            if hit.document_id in seen:
                continue
            seen.append(hit.document_id)
            position = len(seen)
        else:
            position = hits.index(hit) + 1
        if position > TOP_K:
            return 0
        if dev.is_gold(q, hit):
            return position
    return 0


def evaluate(dev: DevSet, core: Core) -> dict[str, dict[str, float]]:
    core.create_collection("dev")
    for start in range(0, len(dev.documents), UPSERT_BATCH):
        core.upsert("dev", dev.documents[start:start + UPSERT_BATCH])
    searcher, repository = core.searcher, core.storage.repository
    info, encoder = core.collections.open("dev")
    level = "document" if dev.document_level else "chunk"
    ranks: dict[str, list[int]] = {}

    def record(name: str, hits: Sequence[Hit], q: int) -> None:
        ranks.setdefault(name, []).append(rank_of(hits, q, dev))

    chunk_k = 3 * TOP_K if dev.document_level else TOP_K
    for q, query in enumerate(dev.queries):
        vector = encoder.encode([query])[0]
        terms = query_terms(query)
        dense = searcher._dense_chunks(info, vector, MIN_POOL, "hybrid", [])
        lexical = searcher._lexical_chunks(info, terms, MIN_POOL, "hybrid", [])
        record("chunk: dense", repository.chunk_hits(dense[:chunk_k]), q)
        record("chunk: lexical", repository.chunk_hits(lexical[:chunk_k]), q)
        for fusion in FUSIONS:
            fused = reciprocal_rank([i for i, _ in dense], [i for i, _ in lexical], fusion)
            record(f"chunk: hybrid {label(fusion)}", repository.chunk_hits(fused[:chunk_k]), q)
        record(f"default ({DEFAULT_MODE}, {level} level)",
               core.search("dev", query, TOP_K if level == "document" else chunk_k,
                           level=level), q)
        if not dev.document_level:
            continue
        by_vector = searcher._dense_documents(info, vector, TOP_K, [])
        by_words = searcher._lexical_documents(info, terms, TOP_K, [])
        record("document: dense (0.9 max + 0.1 mean)", by_vector, q)
        record("document: lexical", by_words, q)
        depth = 2 * TOP_K
        ranked_vector = searcher._dense_documents(info, vector, depth, [])
        ranked_words = searcher._lexical_documents(info, terms, depth, [])
        hits = {h.document_id: h for h in ranked_words} | {h.document_id: h for h in ranked_vector}
        for fusion in FUSIONS:
            fused = reciprocal_rank([h.document_id for h in ranked_vector],
                                    [h.document_id for h in ranked_words], fusion)
            record(f"document: hybrid {label(fusion)}", [hits[d] for d, _ in fused], q)
        evidence = searcher.lexical_evidence(info, terms, [])
        for mix in MIXES:
            record(f"document: hybrid score mix {mix_label(mix)}",
                   searcher._dense_documents(info, vector, TOP_K, [], 0, evidence, mix), q)
        order = np.argsort(-dev.first_window[q], kind="stable")[:TOP_K]
        record("first window (256-token truncation)",
               [Hit(dev.documents[i].id, 0.0, None, {}) for i in order], q)
    return {name: {"mrr@10": mrr(np.array(r), TOP_K), "recall@1": recall(np.array(r), 1)}
            for name, r in ranks.items()}


def label(fusion: Fusion) -> str:
    return f"RRF k0={fusion.k0:g} w_lex={fusion.lexical_weight:g}"


def mix_label(mix: DocumentMix) -> str:
    name = {PASSAGE_MIX: " (passage mix)", TOPIC_MIX: " (topic mix)"}.get(mix, "")
    return (f"alpha={mix.alpha:g} first={mix.first:g} lexical={mix.lexical:g}"
            f" lexical_first={mix.lexical_first:g}{name}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sets", default="code,faq,perl,needles,library,heldout,pages",
                        help="comma-separated subset of code,faq,perl,needles,library,heldout,"
                             "pages")
    parser.add_argument("--postgres", action="store_true",
                        help="store each set in a PostgreSQL database of its own (lexical "
                             "BM25 from collection statistics) instead of SQLite (FTS5 BM25)")
    args = parser.parse_args()
    ensure_doc_packages()
    started = time.monotonic()
    encoder = Encoder.from_spec()
    cache = EmbeddingCache(encoder)
    cached = CachedEncoder(encoder, cache)
    python = group_answers("Python FAQ", python_faq(), ANSWERS_PER_DOCUMENT)
    makers: dict[str, Callable[[], DevSet]] = {
        "code": code_set,
        "faq": lambda: document_set(python, cache),
        "perl": lambda: document_set(
            group_answers("perlfaq", perlfaq(), ANSWERS_PER_DOCUMENT), cache),
        "needles": lambda: document_set(with_needles(python), cache),
        "library": lambda: document_set(library_set(), cache),
        "heldout": lambda: document_set(library_set(held_out=True), cache),
        "pages": lambda: document_set(library_set(whole=True), cache),
    }
    results = {}
    for key in args.sets.split(","):
        dev = makers[key]()
        with contextlib.ExitStack() as stack:
            directory = stack.enter_context(tempfile.TemporaryDirectory())
            url = stack.enter_context(postgres_database()) if args.postgres else ""
            core = Core(Settings(data_dir=Path(directory), database_url=url), cached)
            try:
                results[dev.name] = {"queries": len(dev.queries),
                                     "documents": len(dev.documents),
                                     "methods": evaluate(dev, core)}
            finally:
                core.close()
        print(f"{dev.name}: done at {time.monotonic() - started:.0f} s", flush=True)
    methods = list(dict.fromkeys(m for r in results.values() for m in r["methods"]))
    headers = ["method", *(f"{name} MRR@10 / R@1" for name in results)]
    rows = [[method, *(_cell(r["methods"].get(method)) for r in results.values())]
            for method in methods]
    store = "PostgreSQL" if args.postgres else "SQLite"
    print(f"\nRetrieval quality, model {encoder.info.name}, {store}, top {TOP_K}; sets: "
          + "; ".join(f"{n} ({r['queries']} queries, {r['documents']} docs)"
                      for n, r in results.items()) + "\n")
    print(markdown_table(headers, rows))
    elapsed = time.monotonic() - started
    print(f"\n{elapsed:.0f} s, {cache.encoded} texts embedded (the rest from bench/.cache)")
    name = "retrieval_quality_postgres" if args.postgres else "retrieval_quality"
    write_results(name, {"model": encoder.info.name, "store": store, "sets": results,
                         "seconds": elapsed})


def _cell(metrics: dict[str, float] | None) -> str:
    return "—" if metrics is None else f"{metrics['mrr@10']:.3f} / {metrics['recall@1']:.3f}"


if __name__ == "__main__":
    main()
