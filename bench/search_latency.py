"""Search latency over gRPC, query encoding included, at 100k chunks: flat against hnsw and ivf.

A real `embedsvc serve` (SQLite + FAISS, the default model) holds one collection per index
type with the same 100,000 chunks (5,000 documents of 20 chunks; 384-dim unit vectors around
500 real model embeddings of stdlib docstring sentences, written through the prepared-upsert
path so that SQL holds them too). Queries are other docstring sentences, encoded by the server
on every search (dense mode, k=10).

- One client: every query against every collection, interleaved; p50/p99 per index type and
  recall@10 of each ANN index against flat (the same chunks, so the same exact answer).
- 8 searchers + 1 writer, per collection in turn: 8 threads with a client each search for
  ``--seconds``; one more thread replaces random documents (20 new chunk vectors each, 2
  documents a request) all the while.

Documents hold 20 chunks because the SQL write costs mostly per document: loading stays
within minutes.

Run: `.venv/bin/python bench/search_latency.py [--chunks N] [--seconds S] [--indexes ...]`.
"""

from __future__ import annotations

import argparse
import os
import threading
import time
from pathlib import Path

import numpy as np
from _metrics import markdown_table, write_results
from _server import BenchServer
from _texts import short_texts, stdlib_docstrings

from embedsvc.client import Client
from embedsvc.types import Chunk, DocumentInput, PreparedChunk, PreparedDocument

CHUNKS_PER_DOCUMENT = 20
CENTRES = 500
QUERIES = 300
SEARCHERS = 8
K = 10
WRITE_BATCH = 250  # documents per upsert while loading
WRITER_BATCH = 2  # documents per upsert of the writer during the concurrent phase
RESULTS = Path(__file__).resolve().parent / "results"


def mixture(count: int, rng: np.random.Generator, centres: np.ndarray) -> np.ndarray:
    """Unit vectors around the centres (cosine 0.8-0.95 to their own): a topic mixture."""
    dims = centres.shape[1]
    picks = rng.integers(0, len(centres), count)
    spread = rng.uniform(0.3, 0.8, len(centres))[picks, None] / np.sqrt(dims)
    vectors = centres[picks] + spread * rng.standard_normal((count, dims))
    return (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)


def documents(vectors: np.ndarray, first: int, prefix: str = "d") -> list[PreparedDocument]:
    prepared = []
    for offset in range(len(vectors) // CHUNKS_PER_DOCUMENT):
        number = first + offset
        parts = [f"{prefix}{number}c{i}" for i in range(CHUNKS_PER_DOCUMENT)]
        chunks, start = [], 0
        for i, part in enumerate(parts):
            vector = vectors[offset * CHUNKS_PER_DOCUMENT + i]
            chunks.append(PreparedChunk(Chunk(i, part, start, start + len(part), 1, 1, 3), vector))
            start += len(part) + 1
        mean = np.mean([c.vector for c in chunks], axis=0)
        prepared.append(PreparedDocument(
            DocumentInput(f"d{number}", " ".join(parts), "", {"shard": number % 10}), chunks,
            (mean / np.linalg.norm(mean)).astype(np.float32),
        ))
    return prepared


def percentiles(latencies: list[float]) -> tuple[float, float]:
    return float(np.percentile(latencies, 50)), float(np.percentile(latencies, 99))


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def cpu_seconds(pid: int) -> float:
    """User + system CPU the process has used (the server's, to cost a search without the
    machine's other load)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def timed_search(client: Client, name: str, query: str) -> tuple[list[str], float]:
    started = time.perf_counter()
    hits = client.search(name, query, k=K, mode="dense")
    return [hit.chunk.text for hit in hits], (time.perf_counter() - started) * 1000


def concurrent(server: BenchServer, name: str, queries: list[str], seconds: float,
               rng: np.random.Generator, centres: np.ndarray, documents_total: int,
               fingerprint: str) -> dict:
    """8 searchers and 1 writer on one collection for ``seconds``."""
    stop = threading.Event()
    latencies: list[list[float]] = [[] for _ in range(SEARCHERS)]
    writes: list[float] = []
    errors: list[BaseException] = []

    def search(slot: int) -> None:
        try:
            with Client(server.target, timeout=60) as client:
                position = slot
                while not stop.is_set():
                    latencies[slot].append(timed_search(client, name, queries[position % len(
                        queries)])[1])
                    position += SEARCHERS
        except BaseException as error:  # reported after the run
            errors.append(error)

    def write() -> None:
        try:
            with Client(server.target, timeout=60) as client:
                while not stop.is_set():
                    first = int(rng.integers(0, documents_total - WRITER_BATCH))
                    vectors = mixture(WRITER_BATCH * CHUNKS_PER_DOCUMENT, rng, centres)
                    started = time.perf_counter()
                    client.upsert_prepared(name, documents(vectors, first, "w"), fingerprint)
                    writes.append((time.perf_counter() - started) * 1000)
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=search, args=(slot,)) for slot in range(SEARCHERS)]
    threads.append(threading.Thread(target=write))
    cpu = cpu_seconds(server.process.pid)
    for thread in threads:
        thread.start()
    stop.wait(seconds)  # the measurement window
    stop.set()
    for thread in threads:
        thread.join()
    cpu = cpu_seconds(server.process.pid) - cpu
    if errors:
        raise errors[0]
    merged = [value for slot in latencies for value in slot]
    p50, p99 = percentiles(merged)
    return {"searches": len(merged), "p50_ms": p50, "p99_ms": p99,
            "searches_per_s": len(merged) / seconds, "writes": len(writes),
            "server_cpu_cores": cpu / seconds,
            "write_p50_ms": percentiles(writes)[0] if writes else 0.0}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--chunks", type=int, default=100_000)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--indexes", nargs="+", default=["flat", "hnsw", "ivf"])
    args = parser.parse_args()
    texts = short_texts(stdlib_docstrings(), CENTRES + QUERIES)
    rng = np.random.default_rng(7)
    payload: dict = {"chunks": args.chunks, "k": K, "queries": QUERIES, "mode": "dense",
                     "indexes": {}}
    with BenchServer(RESULTS / "search_latency.server.log") as server, \
            Client(server.target, timeout=600) as client:
        centres = np.concatenate([client.embed(texts[start:start + 250])
                                  for start in range(0, CENTRES, 250)])
        queries = texts[CENTRES:]
        vectors = mixture(args.chunks, rng, centres)
        documents_total = args.chunks // CHUNKS_PER_DOCUMENT
        for index in args.indexes:
            name = f"latency-{index}"
            info = client.create_collection(name, chunking="none", index=index)
            started = time.perf_counter()
            for first in range(0, documents_total, WRITE_BATCH):
                rows = vectors[first * CHUNKS_PER_DOCUMENT:
                               (first + WRITE_BATCH) * CHUNKS_PER_DOCUMENT]
                client.upsert_prepared(name, documents(rows, first), info.model_fingerprint)
            load = time.perf_counter() - started
            payload["indexes"][index] = {"load_seconds": load,
                                         "index_params": dict(info.index_params)}
            print(f"{index}: {args.chunks} chunks loaded in {load:.0f} s", flush=True)
        payload["server_rss_mb"] = rss_mb(server.process.pid)
        for query in queries[:20]:  # warm-up: model, caches, first searches
            for index in args.indexes:
                timed_search(client, f"latency-{index}", query)

        latencies = {index: [] for index in args.indexes}
        found = {index: [] for index in args.indexes}
        cpu = cpu_seconds(server.process.pid)
        for query in queries:
            for index in rng.permutation(args.indexes).tolist():
                hits, ms = timed_search(client, f"latency-{index}", query)
                latencies[index].append(ms)
                found[index].append(set(hits))
        cpu = cpu_seconds(server.process.pid) - cpu
        payload["one_client_server_cpu_ms_per_search"] = cpu * 1000 / (QUERIES * len(
            args.indexes))
        rows = []
        for index in args.indexes:
            p50, p99 = percentiles(latencies[index])
            recall = float(np.mean([len(a & b) / K for a, b in zip(
                found[index], found.get("flat", found[index]), strict=True)]))
            payload["indexes"][index].update(one_client={"p50_ms": p50, "p99_ms": p99},
                                             recall_at_10_vs_flat=recall)
            rows.append([index, f"{p50:.1f}", f"{p99:.1f}", f"{recall:.3f}"])
        print(f"\n{args.chunks} chunks, one client, {QUERIES} queries, dense, k={K}, query "
              "encoding included\n")
        print(markdown_table(["index", "p50 ms", "p99 ms", "recall@10 vs flat"], rows))
        print(f"\nserver CPU per search, all indexes together: "
              f"{payload['one_client_server_cpu_ms_per_search']:.1f} ms")

        rows = []
        for index in args.indexes:
            result = concurrent(server, f"latency-{index}", queries, args.seconds, rng,
                                centres, documents_total, client.get_collection(
                                    f"latency-{index}").model_fingerprint)
            payload["indexes"][index]["searchers_8_writer_1"] = result
            rows.append([index, f"{result['p50_ms']:.1f}", f"{result['p99_ms']:.1f}",
                         f"{result['searches_per_s']:.0f}", f"{result['server_cpu_cores']:.2f}",
                         result["writes"],
                         f"{result['write_p50_ms']:.0f}"])
        print(f"\n{SEARCHERS} searchers + 1 writer ({WRITER_BATCH} documents of "
              f"{CHUNKS_PER_DOCUMENT} chunks replaced per write), {args.seconds:.0f} s each\n")
        print(markdown_table(["index", "p50 ms", "p99 ms", "searches/s",
                              "server CPU cores used", "writes",
                              "write p50 ms"], rows))
        print(f"\nserver RSS after loading: {payload['server_rss_mb']:.0f} MB")
    write_results("search_latency", payload)


if __name__ == "__main__":
    main()
