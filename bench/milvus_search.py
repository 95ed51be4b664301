"""Milvus (HNSW, Milvus Lite) against exact search at 100k chunks: latency and recall@10.

100,000 chunk vectors (384 dims, unit length, a mixture of 500 clusters with per-cluster
spread, like sentence embeddings of mixed topics; 10,000 documents of 10 chunks, each document
in one of 10 shards by metadata) are written through the real store: SQL (SQLite) and each
vector backend's `apply`. 200 held-out queries from the same mixture are then searched through
each backend's `search`, interleaved query by query: FAISS (exact, flat: the baseline) and
Milvus Lite with the default HNSW settings and with a larger ef. Recall@10 is the share of the
exact top 10 (numpy over all vectors; for a filtered search, over the shard's) that a backend
returns. Run: `.venv/bin/python bench/milvus_search.py [--chunks N]`.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from _metrics import markdown_table, write_results

from embedsvc.config import Settings
from embedsvc.storage.faiss_index import FaissVectorIndex
from embedsvc.storage.milvus_index import MilvusVectorIndex
from embedsvc.storage.sql.repository import SqlRepository
from embedsvc.types import (
    Chunk,
    CollectionInfo,
    Condition,
    DocumentInput,
    EncoderProfile,
    PreparedChunk,
    PreparedDocument,
)

DIMENSIONS = 384
CHUNKS_PER_DOCUMENT = 10
SHARDS = 10
QUERIES = 200
# Milvus Lite evaluates a JSON-field filter in Python row by row (seconds per query at 100k).
FILTERED_QUERIES = 10
K = 10
WRITE_BATCH = 250  # documents (2,500 chunks) per write (one SQL transaction, one apply)


def mixture(count: int, rng: np.random.Generator, centres: np.ndarray) -> np.ndarray:
    picks = rng.integers(0, len(centres), count)
    # Noise of norm 0.3-0.8 around unit centres: neighbours share a topic, as embeddings do.
    spread = rng.uniform(0.3, 0.8, len(centres))[picks, None] / np.sqrt(DIMENSIONS)
    vectors = centres[picks] + spread * rng.standard_normal((count, DIMENSIONS))
    return (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)


def documents(vectors: np.ndarray) -> list[PreparedDocument]:
    prepared = []
    for number in range(len(vectors) // CHUNKS_PER_DOCUMENT):
        parts = [f"d{number}c{i}" for i in range(CHUNKS_PER_DOCUMENT)]
        text = " ".join(parts)
        chunks, start = [], 0
        for i, part in enumerate(parts):
            vector = vectors[number * CHUNKS_PER_DOCUMENT + i]
            chunks.append(PreparedChunk(Chunk(i, part, start, start + len(part), 1, 1, 3), vector))
            start += len(part) + 1
        mean = np.mean([c.vector for c in chunks], axis=0)
        prepared.append(PreparedDocument(
            DocumentInput(f"d{number}", text, "", {"shard": number % SHARDS}), chunks,
            (mean / np.linalg.norm(mean)).astype(np.float32),
        ))
    return prepared


def top_k(scores: np.ndarray) -> np.ndarray:
    """Positions of the K highest scores (exact; no full sort of 100k scores per query)."""
    best = np.argpartition(-scores, K)[:K]
    return best[np.argsort(-scores[best])]


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def timed_search(index, info, query, conditions) -> tuple[list[int], float]:
    start = time.perf_counter()
    hits = index.search(info, query, K, "chunk", conditions)
    return [chunk_id for chunk_id, _ in hits], time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--chunks", type=int, default=100_000)
    args = parser.parse_args()
    rng = np.random.default_rng(7)
    centres = rng.standard_normal((500, DIMENSIONS)).astype(np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    vectors = mixture(args.chunks, rng, centres)
    queries = mixture(QUERIES, rng, centres)

    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        data.mkdir()
        base = Settings(data_dir=data)
        repository = SqlRepository(base.resolved_database_url())
        info = repository.create_collection(CollectionInfo(
            name="bench", model="synthetic", model_fingerprint="0" * 32, dimensions=DIMENSIONS,
            metric="cosine", max_chunk_tokens=64,
            profile=EncoderProfile(layers=1, dimensions=DIMENSIONS),
        ))
        faiss_index = FaissVectorIndex(base, repository)
        milvus = MilvusVectorIndex(base, repository)  # the default settings: HNSW M=16, ef=128
        writers = {"FAISS flat (exact)": faiss_index, "Milvus Lite HNSW": milvus}
        for index in writers.values():
            index.sync(info)
        write_seconds = dict.fromkeys(writers, 0.0)
        sql_seconds = 0.0
        prepared = documents(vectors)
        for start in range(0, len(prepared), WRITE_BATCH):
            began = time.perf_counter()
            _, changes = repository.write_documents(info, prepared[start:start + WRITE_BATCH])
            sql_seconds += time.perf_counter() - began
            if start % (20 * WRITE_BATCH) == 0:
                log(f"written {start + WRITE_BATCH} of {len(prepared)} documents")
            for name, index in writers.items():
                began = time.perf_counter()
                index.apply(info, changes)
                write_seconds[name] += time.perf_counter() - began
        log(f"all written: SQL {sql_seconds:.0f} s, "
            + ", ".join(f"{name} {seconds:.0f} s" for name, seconds in write_seconds.items()))
        flush_seconds = {}
        for name, index in writers.items():  # what the server's flush loop does every 30 s
            began = time.perf_counter()
            index.flush()
            flush_seconds[name] = time.perf_counter() - began
        # Row ids in write order: chunk i of the matrix is the i-th id.
        ids = np.sort(repository.ids(info, "chunk"))
        shard_of = (np.arange(len(ids)) // CHUNKS_PER_DOCUMENT) % SHARDS
        shard_rows = {shard: np.flatnonzero(shard_of == shard) for shard in range(SHARDS)}
        first_query = {}
        for name, index in writers.items():  # the first search also builds or loads indexes
            first_query[name] = timed_search(index, info, queries[0], ())[1]
        # ef is a search parameter: one Milvus collection serves both variants.
        backends = {"FAISS flat (exact)": (faiss_index, None),
                    "Milvus Lite HNSW M=16, ef=128 (default)": (milvus, {"ef": 128}),
                    "Milvus Lite HNSW M=16, ef=256": (milvus, {"ef": 256})}

        rows, payload = [], {"chunks": len(ids), "queries": QUERIES, "k": K, "backends": {}}
        for label, filtered, count in (("none", False, QUERIES),
                                       ("shard = 1 of 10", True, FILTERED_QUERIES)):
            log(f"searching, filter {label}: {count} queries on each backend")
            latencies = {name: [] for name in backends}
            recalls = {name: [] for name in backends}
            returned = {name: [] for name in backends}
            for number, query in enumerate(queries[:count]):
                shard = number % SHARDS
                rows_of = shard_rows[shard] if filtered else slice(None)
                exact = set(ids[rows_of][top_k(vectors[rows_of] @ query)].tolist())
                conditions = [Condition("shard", shard)] if filtered else []
                for name, (index, params) in backends.items():
                    if params is not None:
                        index.search_params = params
                    found, seconds = timed_search(index, info, query, conditions)
                    latencies[name].append(seconds * 1000)
                    recalls[name].append(len(exact & set(found)) / K)
                    returned[name].append(len(found))
            for name in backends:
                median = statistics.median(latencies[name])
                p95 = float(np.percentile(latencies[name], 95))
                row = [name, label, count, f"{median:.2f}", f"{p95:.2f}",
                       float(np.mean(recalls[name])), min(returned[name])]
                rows.append(row)
                payload["backends"].setdefault(name, {})[label] = {
                    "queries": count, "median_ms": median, "p95_ms": p95,
                    "recall_at_10": float(np.mean(recalls[name])),
                    "min_hits_returned": min(returned[name]),
                }
        payload["sql_write_seconds"] = sql_seconds
        payload["writes"] = {name: {"apply_seconds": write_seconds[name], "flush_seconds":
                                    flush_seconds[name], "first_query_ms": first_query[name]
                                    * 1000} for name in writers}
        for index in writers.values():
            index.close()
        repository.close()

    print(f"\n{len(ids)} chunks, k={K}; latency per search call, interleaved\n")
    print(markdown_table(["backend", "filter", "queries", "median ms", "p95 ms",
                          "recall@10 vs exact", "fewest hits"], rows))
    print(f"\nSQL (SQLite) writes of all documents: {sql_seconds:.1f} s")
    print("\n" + markdown_table(
        ["backend", "seconds to apply all writes", "flush s", "first search ms"],
        [[name, f"{write_seconds[name]:.1f}", f"{flush_seconds[name]:.1f}",
          f"{first_query[name] * 1000:.0f}"] for name in writers]))
    write_results("milvus_search", payload)


if __name__ == "__main__":
    main()
