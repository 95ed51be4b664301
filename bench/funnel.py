"""Matryoshka funnel search: a shortlist of 10 x k by the leading dims, re-scored at full
width, against exact full-width search, on the dev sets (dense, chunk level).

Variants run interleaved per query, in a shuffled order each round (the machine is shared and
noisy); latency is the median of the vector-index call alone, and the speed column is exact /
variant in the same run. FAISS runs on one OpenMP thread here: on a busy 2-core machine its
threads wait for each other for milliseconds, which would swamp what is measured. Prints a
markdown table, writes bench/results/funnel.json.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import faiss
import numpy as np
from _cache import EmbeddingCache
from _datasets import SEED
from _metrics import markdown_table, mrr, recall, write_results
from retrieval_quality import TOP_K, UPSERT_BATCH, CachedEncoder, code_set, document_set, rank_of
from retrieval_quality import library_set as library_pages

from embedsvc.config import Settings
from embedsvc.core import Core
from embedsvc.encoding.sentence_transformer import SentenceTransformerEncoder as Encoder
from embedsvc.storage.faiss_index import _FlatIndex

VARIANTS = [0, 192, 128, 64, 32]  # 0 = exact at full width
REPEATS = 3  # timed calls per query and variant (the median is kept)
# Speed at scale: the code set's chunk vectors, each repeated with small noise to this many.
SCALED_VECTORS = 200_000
SCALED_QUERIES = 100


def run(dev, cached: CachedEncoder) -> list[dict]:
    with tempfile.TemporaryDirectory() as directory:
        core = Core(Settings(data_dir=Path(directory)), cached)
        try:
            core.create_collection("dev")
            for start in range(0, len(dev.documents), UPSERT_BATCH):
                core.upsert("dev", dev.documents[start:start + UPSERT_BATCH])
            info, encoder = core.collections.open("dev")
            index, repository = core.storage.vectors, core.storage.repository
            k = 3 * TOP_K if dev.document_level else TOP_K
            rng = np.random.default_rng(SEED)
            ranks = {dims: [] for dims in VARIANTS}
            seconds = {dims: [] for dims in VARIANTS}
            for q, query in enumerate(dev.queries):
                vector = encoder.encode([query])[0]
                for _ in range(REPEATS):
                    for dims in rng.permutation(VARIANTS).tolist():
                        started = time.perf_counter()
                        found = index.search(info, vector, k, "chunk", [], dims)
                        seconds[dims].append(time.perf_counter() - started)
                for dims in VARIANTS:
                    found = index.search(info, vector, k, "chunk", [], dims)
                    ranks[dims].append(rank_of(repository.chunk_hits(found), q, dev))
            chunks = info.chunk_count or len(repository.ids(info, "chunk"))
        finally:
            core.close()
    exact = statistics.median(seconds[0])
    return [{
        "set": dev.name, "chunks": int(chunks), "dims": dims or info.dimensions,
        "mrr@10": mrr(np.array(ranks[dims]), TOP_K), "recall@1": recall(np.array(ranks[dims]), 1),
        "median_ms": 1000 * statistics.median(seconds[dims]),
        "speed": exact / statistics.median(seconds[dims]),
    } for dims in VARIANTS]


def scaled(dev, cached: CachedEncoder) -> list[dict]:
    """Latency only (no gold at this size): the dev set's vectors, jittered copies of them."""
    with tempfile.TemporaryDirectory() as directory:
        core = Core(Settings(data_dir=Path(directory)), cached)
        try:
            core.create_collection("dev")
            for start in range(0, len(dev.documents), UPSERT_BATCH):
                core.upsert("dev", dev.documents[start:start + UPSERT_BATCH])
            info, encoder = core.collections.open("dev")
            _, base = next(core.storage.repository.vectors(info, "chunk"))
            queries = encoder.encode(dev.queries[:SCALED_QUERIES])
        finally:
            core.close()
    rng = np.random.default_rng(SEED)
    rows = base[rng.integers(0, len(base), SCALED_VECTORS)]
    rows = rows + rng.normal(0, 0.02, rows.shape).astype(np.float32)
    rows /= np.linalg.norm(rows, axis=1, keepdims=True)
    index = _FlatIndex(base.shape[1], "cosine")
    index.add(np.arange(len(rows), dtype=np.int64), rows)
    seconds = {dims: [] for dims in VARIANTS}
    for query in queries:
        for dims in rng.permutation(VARIANTS).tolist():
            started = time.perf_counter()
            if dims:
                index.funnel_search(query, TOP_K, dims)
            else:
                index.search(query, TOP_K)
            seconds[dims].append(time.perf_counter() - started)
    exact = statistics.median(seconds[0])
    return [{"set": f"{dev.name}, vectors x{len(rows) // len(base)} jittered", "chunks": len(rows),
             "dims": dims or base.shape[1], "mrr@10": "—", "recall@1": "—",
             "median_ms": 1000 * statistics.median(seconds[dims]),
             "speed": exact / statistics.median(seconds[dims])} for dims in VARIANTS]


def main() -> None:
    faiss.omp_set_num_threads(1)
    started = time.monotonic()
    encoder = Encoder.from_spec()
    cache = EmbeddingCache(encoder)
    cached = CachedEncoder(encoder, cache)
    code = code_set()
    rows = run(code, cached) + run(document_set(library_pages(), cache), cached)
    rows += scaled(code, cached)
    headers = ["set", "chunks", "shortlist dims", "MRR@10", "R@1", "median ms", "speed vs exact"]
    keys = ["set", "chunks", "dims", "mrr@10", "recall@1", "median_ms", "speed"]
    print(f"\nFunnel search (shortlist 10 x k by the leading dims, exact re-score), model "
          f"{encoder.info.name}, dense chunk level\n")
    print(markdown_table(headers, [[r[key] for key in keys] for r in rows]))
    print(f"\n{time.monotonic() - started:.0f} s")
    write_results("funnel", {"model": encoder.info.name, "rows": rows})


if __name__ == "__main__":
    main()
