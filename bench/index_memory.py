"""Memory, save, reopen and search of the FAISS adapter at 100k and 1M chunks, per index type.

Index-level: synthetic 384-dim unit vectors (a topic mixture around 500 real embeddings of
stdlib docstring sentences, as in search_latency.py; 200 other sentences' embeddings are the
queries) go through the adapter's own interface (`apply`, `flush`, `sync`, `search`)
with a stand-in for SQL that holds only the ids and the generation, because writing 1M chunks
through SQL alone takes longer than this bench may run (see bench/README). Each phase runs in
a fresh process so that its RSS is its own:

- build: every chunk (and one document vector per 20 chunks) applied in writes of 5,000; the
  RSS it added (once the allocator returned its free pages); the first save (time, RSS peak
  above the RSS before it); the files' size; the save after one more write (20 chunks
  replaced);
- open, with the index files in the page cache (warm, as after a restart) or evicted from it
  (cold, as after a reboot), read into memory or memory-mapped: the open's time and RSS
  (anonymous and file-backed apart; the CPU time beside the time, as the machine may be
  shared), the first search, then p50/p99 of ``--queries``
  searches (k=10, one thread; 200 by default) and recall@10 against the exact answer, and
  the first write after the open (a mapped index is read into memory by it).

Run: `.venv/bin/python bench/index_memory.py [--chunks 100000 1000000] [--indexes flat hnsw ivf]`.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
from _cache import EmbeddingCache
from _metrics import markdown_table, write_results
from _texts import short_texts, stdlib_docstrings

from embedsvc.config import Settings
from embedsvc.storage.faiss_index import FaissVectorIndex
from embedsvc.types import CollectionInfo, EncoderProfile, IndexChanges

DIMENSIONS = 384
CENTRES = 500
CHUNKS_PER_DOCUMENT = 20
WRITE = 5_000  # chunks a write
K = 10
TEXTS = Path()  # where the phases find the centres' and the queries' embeddings (--texts)
REPLACED = 20  # chunks the one more write replaces


def memory_mb() -> dict[str, float]:
    """The process's RSS and its anonymous and file-backed parts, in MB."""
    fields = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "RssAnon", "RssFile"):
            fields[name] = int(value.split()[0]) / 1024
    return fields


class PeakRss:
    """The highest RSS seen while the block runs (sampled every 2 ms)."""

    def __enter__(self) -> PeakRss:
        self.peak, self._stop = memory_mb()["VmRSS"], threading.Event()
        self._thread = threading.Thread(target=self._sample)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(0.002):
            self.peak = max(self.peak, memory_mb()["VmRSS"])

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


def trimmed() -> dict[str, float]:
    """The RSS once the allocator has returned its free pages (glibc keeps freed heap)."""
    ctypes.CDLL("libc.so.6").malloc_trim(0)
    return memory_mb()


def unit_rows(rows: np.ndarray) -> np.ndarray:
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


def embed_texts(directory: Path, query_count: int) -> None:
    """The model's embeddings of the centres' and the queries' sentences, for every phase."""
    from embedsvc.encoding.sentence_transformer import SentenceTransformerEncoder

    texts = short_texts(stdlib_docstrings(), CENTRES + query_count)
    vectors = EmbeddingCache(SentenceTransformerEncoder.from_spec()).embed(texts)
    np.save(directory / "centres.npy", vectors[:CENTRES])
    np.save(directory / "queries.npy", vectors[CENTRES:])


def centres() -> np.ndarray:
    return np.load(TEXTS / "centres.npy")


def queries() -> np.ndarray:
    return np.load(TEXTS / "queries.npy")


def mixture(count: int, rng: np.random.Generator, around: np.ndarray) -> np.ndarray:
    """Unit vectors around the centres (cosine about 0.8-0.95 to their own)."""
    picks = rng.integers(0, len(around), count)
    spread = rng.uniform(0.3, 0.8, len(around))[picks, None] / np.sqrt(DIMENSIONS)
    return unit_rows(around[picks] + spread * rng.standard_normal((count, DIMENSIONS)))


def batches(chunks: int):
    """(first position, vectors) of every write, the same in every process."""
    around = centres()
    for first in range(0, chunks, WRITE):
        rng = np.random.default_rng(first)
        yield first, mixture(min(WRITE, chunks - first), rng, around)


class StandInRepository:
    """What the adapter asks SQL for when it opens: the generation and the ids. The saved
    files hold every vector, so a bench open that asks for vectors is a failed bench."""

    def __init__(self, chunk_ids: np.ndarray, document_ids: np.ndarray, generation: int) -> None:
        self._ids = {"chunk": chunk_ids, "document": document_ids}
        self._generation = generation

    def generation(self, collection_id: int) -> int:
        return self._generation

    def ids(self, info, level) -> np.ndarray:
        return self._ids[level]

    def vectors(self, info, level, ids=None):
        if len(self._ids[level] if ids is None else ids):
            raise AssertionError(f"the saved {level} index needed a repair")
        return iter(())


def collection(index: str) -> CollectionInfo:
    return CollectionInfo(id=1, name=f"memory-{index}", model="synthetic",
                          model_fingerprint="0" * 32, dimensions=DIMENSIONS, metric="cosine",
                          max_chunk_tokens=64,
                          profile=EncoderProfile(layers=1, dimensions=DIMENSIONS), index=index)


def adapter(directory: Path, repository: StandInRepository, mapped: bool,
            threads: int) -> FaissVectorIndex:
    settings = Settings(data_dir=directory, faiss_mmap=mapped, faiss_threads=threads)
    return FaissVectorIndex(settings, repository)


def changes(ids: np.ndarray, vectors: np.ndarray, generation: int,
            removed: np.ndarray | None = None) -> IndexChanges:
    removed = np.asarray(removed if removed is not None else [], dtype=np.int64)
    documents = ids[::CHUNKS_PER_DOCUMENT]
    return IndexChanges(
        chunks_removed=removed, documents_removed=removed[::CHUNKS_PER_DOCUMENT],
        chunk_ids=ids, chunk_vectors=vectors, document_ids=documents,
        document_vectors=vectors[::CHUNKS_PER_DOCUMENT], generation=generation)


def build(index: str, chunks: int, directory: Path, threads: int) -> dict:
    """Write every chunk, save, replace 20 chunks, save again; the exact top 10 of each query
    over the final chunks goes to ``directory/truth.npy``."""
    writes = -(-chunks // WRITE)
    info = collection(index)
    store = adapter(directory, StandInRepository(np.empty(0, np.int64), np.empty(0, np.int64),
                                                 0), False, threads)
    store.sync(info)
    before = memory_mb()
    found = queries()
    best_scores = np.full((len(found), K), -np.inf, dtype=np.float32)
    best_ids = np.zeros((len(found), K), dtype=np.int64)
    started, replaced = time.perf_counter(), None
    for generation, (first, vectors) in enumerate(batches(chunks), start=1):
        ids = np.arange(first + 1, first + 1 + len(vectors), dtype=np.int64)
        store.apply(info, changes(ids, vectors, generation))
        if first == 0:
            replaced = vectors[:REPLACED].copy()
            ids = ids.copy()
            ids[:REPLACED] += chunks  # the one more write gives them new ids
        scores = found @ vectors.T
        merged = np.concatenate([best_scores, scores], axis=1)
        merged_ids = np.concatenate([best_ids, np.broadcast_to(ids, scores.shape)], axis=1)
        order = np.argsort(-merged, axis=1)[:, :K]
        best_scores = np.take_along_axis(merged, order, axis=1)
        best_ids = np.take_along_axis(merged_ids, order, axis=1)
    build_seconds = time.perf_counter() - started
    del scores, merged, merged_ids, order
    built = trimmed()
    with PeakRss() as peak:
        started = time.perf_counter()
        store.flush()
        first_save = time.perf_counter() - started
    files = sum(path.stat().st_size for path in directory.rglob("*.faiss"))
    old = np.arange(1, REPLACED + 1, dtype=np.int64)
    store.apply(info, changes(old + chunks, replaced, writes + 1, removed=old))
    started = time.perf_counter()
    store.flush()
    next_save = time.perf_counter() - started
    np.save(directory / "truth.npy", best_ids)
    return {"build_seconds": build_seconds,
            "rss_growth_mb": built["VmRSS"] - before["VmRSS"],
            "anon_growth_mb": built["RssAnon"] - before["RssAnon"],
            "first_save_seconds": first_save,
            "save_peak_over_rss_mb": peak.peak - built["VmRSS"], "file_mb": files / 2**20,
            "save_after_one_write_seconds": next_save, "generation": writes + 1}


def evict(directory: Path) -> None:
    """Drop the index files' pages from the page cache (clean pages: nothing is lost)."""
    for path in directory.rglob("*.faiss"):
        descriptor = os.open(path, os.O_RDONLY)
        try:
            os.posix_fadvise(descriptor, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(descriptor)


def open_and_search(index: str, chunks: int, directory: Path, mapped: bool, cold: bool,
                    generation: int, threads: int) -> dict:
    chunk_ids = np.arange(REPLACED + 1, chunks + REPLACED + 1, dtype=np.int64)
    document_ids = np.arange(1, chunks + 1, CHUNKS_PER_DOCUMENT, dtype=np.int64)
    document_ids[0] = chunks + 1  # the replaced chunks' document vector
    info = collection(index)
    if cold:
        evict(directory)
    before = memory_mb()
    started, cpu = time.perf_counter(), time.process_time()
    store = adapter(directory, StandInRepository(chunk_ids, document_ids, generation), mapped,
                    threads)
    store.sync(info)
    opened, open_cpu = time.perf_counter() - started, time.process_time() - cpu
    after_open = memory_mb()
    asked = queries()
    started = time.perf_counter()
    hits = [store.search(info, asked[0], K)]
    first_ms = (time.perf_counter() - started) * 1000
    latencies = []
    for query in asked[1:]:
        started = time.perf_counter()
        hits.append(store.search(info, query, K))
        latencies.append((time.perf_counter() - started) * 1000)
    truth = np.load(directory / "truth.npy")
    recall = float(np.mean([len({i for i, _ in found} & set(row.tolist())) / K
                            for found, row in zip(hits, truth, strict=True)]))
    searched = memory_mb()
    one = unit_rows(np.random.default_rng(5).standard_normal((1, DIMENSIONS)))
    started, cpu = time.perf_counter(), time.process_time()
    store.apply(info, changes(np.array([3 * chunks], dtype=np.int64), one, generation + 1))
    first_write, write_cpu = time.perf_counter() - started, time.process_time() - cpu
    written = memory_mb()
    return {"open_seconds": opened, "open_cpu_seconds": open_cpu,
            "first_write_cpu_seconds": write_cpu,
            "open_rss_mb": after_open["VmRSS"] - before["VmRSS"],
            "open_anon_mb": after_open["RssAnon"] - before["RssAnon"],
            "first_search_ms": first_ms,
            "p50_ms": float(np.percentile(latencies, 50)),
            "p99_ms": float(np.percentile(latencies, 99)), "recall_at_10": recall,
            "searched_anon_mb": searched["RssAnon"] - before["RssAnon"],
            "searched_file_mb": searched["RssFile"] - before["RssFile"],
            "first_write_seconds": first_write,
            "written_anon_mb": written["RssAnon"] - before["RssAnon"]}



def phase(arguments: list[str]) -> dict:
    """Run one phase in a fresh process; its result is the last line it prints."""
    output = subprocess.run([sys.executable, __file__, *arguments], check=True,
                            stdout=subprocess.PIPE, text=True).stdout
    return json.loads(output.strip().splitlines()[-1])


OPENS = [("memory", False, False), ("memory", False, True), ("mmap", True, False),
         ("mmap", True, True)]


def measure(index: str, chunks: int, threads: int, texts: Path) -> dict:
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_TMP")) as tmp:
        common = ["--index", index, "--chunks", str(chunks), "--dir", tmp,
                  "--threads", str(threads), "--texts", str(texts)]
        result = {"build": phase(["--phase", "build", *common])}
        print(f"{index} {chunks}: built {result['build']}", flush=True)
        for name, mapped, cold in OPENS:
            label = f"{name}-{'cold' if cold else 'warm'}"
            result[label] = phase(["--phase", "open", *common, "--generation",
                                   str(result["build"]["generation"]),
                                   *(["--mapped"] if mapped else []),
                                   *(["--cold"] if cold else [])])
            print(f"{index} {chunks} {label}: {result[label]}", flush=True)
    return result


def report(results: dict) -> None:
    rows, opens = [], []
    for chunks, by_index in results.items():
        for index, result in by_index.items():
            b = result["build"]
            rows.append([f"{chunks:,}", index, f"{b['build_seconds']:.0f}",
                         f"{b['rss_growth_mb']:.0f}", f"{b['first_save_seconds']:.2f}",
                         f"{b['save_peak_over_rss_mb']:.0f}", f"{b['file_mb']:.0f}",
                         f"{b['save_after_one_write_seconds']:.2f}"])
            for label in (f"{name}-{'cold' if cold else 'warm'}" for name, _, cold in OPENS):
                o = result[label]
                opens.append([f"{chunks:,}", index, label,
                              f"{o['open_seconds']:.2f} ({o['open_cpu_seconds']:.2f})",
                              f"{o['open_anon_mb']:.0f}", f"{o['first_search_ms']:.1f}",
                              f"{o['p50_ms']:.1f} / {o['p99_ms']:.1f}",
                              f"{o['recall_at_10']:.3f}", f"{o['searched_anon_mb']:.0f}",
                              f"{o['searched_file_mb']:.0f}",
                              f"{o['first_write_seconds']:.2f}"
                              f" ({o['first_write_cpu_seconds']:.2f})"])
    print()
    print(markdown_table(["chunks", "index", "build s", "RSS growth MB", "first save s",
                          "save peak over RSS MB", "files MB", "save after 1 write s"], rows))
    print()
    print(markdown_table(["chunks", "index", "open", "open s (CPU s)", "anon MB after open",
                          "first search ms", "p50 / p99 ms", "recall@10",
                          "anon MB after searches", "file-backed MB after searches",
                          "first write s (CPU s)"], opens))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--chunks", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--indexes", nargs="+", default=["flat", "hnsw", "ivf"])
    parser.add_argument("--threads", type=int, default=1, help="FAISS threads (build, search)")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--label", default="", help="Names this run in the results file")
    parser.add_argument("--phase", choices=["build", "open"], help=argparse.SUPPRESS)
    parser.add_argument("--index", help=argparse.SUPPRESS)
    parser.add_argument("--dir", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--generation", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--mapped", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--cold", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--texts", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    global TEXTS
    TEXTS = args.texts
    if args.phase == "build":
        print(json.dumps(build(args.index, args.chunks[0], args.dir, args.threads)))
        return
    if args.phase == "open":
        print(json.dumps(open_and_search(args.index, args.chunks[0], args.dir, args.mapped,
                                         args.cold, args.generation, args.threads)))
        return
    with tempfile.TemporaryDirectory() as texts:
        embed_texts(Path(texts), args.queries)
        results = {chunks: {index: measure(index, chunks, args.threads, Path(texts))
                            for index in args.indexes} for chunks in args.chunks}
    report(results)
    write_results(f"index_memory{'-' + args.label if args.label else ''}",
                  {"dimensions": DIMENSIONS, "k": K, "queries": args.queries,
                   "threads": args.threads, "results": results})


if __name__ == "__main__":
    main()
