"""Memory and save time of the FAISS index at 100k chunks (or ``--chunks``), per index type.

The chunks (384-dim unit vectors, 20 per document) are written through the real store: SQL
(SQLite in a temporary data dir) and the FAISS adapter's `apply`, 250 documents a write. Then:
the process RSS, the first full save (`flush`) with its time and the RSS peak above the RSS
before it (sampled every 2 ms), the saved files' size, the save after one more document
(what every background flush pays once a collection changed), and the time to open the store
again (load the files, check ids against SQL). The script runs unchanged against an older
checkout (``PYTHONPATH=<checkout> python bench/index_save.py --indexes flat``) for a
before/after comparison. Run: `.venv/bin/python bench/index_save.py [--chunks N]`.
"""

from __future__ import annotations

import argparse
import dataclasses
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
from _metrics import markdown_table, write_results

from embedsvc.config import Settings
from embedsvc.storage.faiss_index import FaissVectorIndex
from embedsvc.storage.sql.repository import SqlRepository
from embedsvc.types import (
    Chunk,
    CollectionInfo,
    DocumentInput,
    EncoderProfile,
    PreparedChunk,
    PreparedDocument,
)

DIMENSIONS = 384
CHUNKS_PER_DOCUMENT = 20
WRITE_BATCH = 250


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


class PeakRss:
    """The highest RSS seen while the block runs."""

    def __enter__(self) -> PeakRss:
        self.peak, self._stop = rss_mb(), threading.Event()
        self._thread = threading.Thread(target=self._sample)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(0.002):
            self.peak = max(self.peak, rss_mb())

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


def documents(vectors: np.ndarray, first: int) -> list[PreparedDocument]:
    prepared = []
    for offset in range(len(vectors) // CHUNKS_PER_DOCUMENT):
        rows = vectors[offset * CHUNKS_PER_DOCUMENT:(offset + 1) * CHUNKS_PER_DOCUMENT]
        parts = [f"d{first + offset}c{i}" for i in range(CHUNKS_PER_DOCUMENT)]
        chunks, start = [], 0
        for i, (part, vector) in enumerate(zip(parts, rows, strict=True)):
            chunks.append(PreparedChunk(Chunk(i, part, start, start + len(part), 1, 1, 3), vector))
            start += len(part) + 1
        mean = rows.mean(axis=0)
        prepared.append(PreparedDocument(DocumentInput(f"d{first + offset}", " ".join(parts)),
                                         chunks, (mean / np.linalg.norm(mean)).astype(np.float32)))
    return prepared


def collection(index: str) -> CollectionInfo:
    options = {"name": f"save-{index}", "model": "synthetic", "model_fingerprint": "0" * 32,
               "dimensions": DIMENSIONS, "metric": "cosine", "max_chunk_tokens": 64,
               "profile": EncoderProfile(layers=1, dimensions=DIMENSIONS)}
    if "index" in {field.name for field in dataclasses.fields(CollectionInfo)}:
        options["index"] = index  # an older checkout knows flat only
    return CollectionInfo(**options)


def measure(index: str, chunks: int, rng: np.random.Generator) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp) / "data")
        settings.data_dir.mkdir()
        repository = SqlRepository(settings.resolved_database_url())
        info = repository.create_collection(collection(index))
        vectors = FaissVectorIndex(settings, repository)
        vectors.sync(info)
        before = rss_mb()
        started = time.perf_counter()
        for first in range(0, chunks // CHUNKS_PER_DOCUMENT, WRITE_BATCH):
            rows = rng.standard_normal((WRITE_BATCH * CHUNKS_PER_DOCUMENT, DIMENSIONS))
            rows = (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)
            _, changes = repository.write_documents(info, documents(rows, first))
            vectors.apply(info, changes)
        load = time.perf_counter() - started
        loaded = rss_mb()
        with PeakRss() as peak:
            started = time.perf_counter()
            vectors.flush()
            first_save = time.perf_counter() - started
        files = sum(path.stat().st_size for path in (settings.data_dir / "indexes").rglob("*"))
        one = rng.standard_normal((CHUNKS_PER_DOCUMENT, DIMENSIONS))
        one = (one / np.linalg.norm(one, axis=1, keepdims=True)).astype(np.float32)
        _, changes = repository.write_documents(info, documents(one, 0))  # replaces d0
        vectors.apply(info, changes)
        started = time.perf_counter()
        vectors.flush()
        next_save = time.perf_counter() - started
        vectors.close()
        started = time.perf_counter()
        reopened = FaissVectorIndex(settings, repository)
        reopened.sync(info)
        reopen = time.perf_counter() - started
        reopened.close()
        repository.close()
    return {"load_seconds": load, "rss_growth_mb": loaded - before,
            "first_save_seconds": first_save, "save_peak_over_rss_mb": peak.peak - loaded,
            "file_mb": files / 2**20, "save_after_one_write_seconds": next_save,
            "reopen_seconds": reopen}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--chunks", type=int, default=100_000)
    parser.add_argument("--indexes", nargs="+", default=["flat", "hnsw", "ivf"])
    parser.add_argument("--label", default="", help="Names this run in the results file")
    args = parser.parse_args()
    rng = np.random.default_rng(3)
    results = {index: measure(index, args.chunks, rng) for index in args.indexes}
    rows = [[index, f"{r['load_seconds']:.0f}", f"{r['rss_growth_mb']:.0f}",
             f"{r['first_save_seconds']:.2f}", f"{r['save_peak_over_rss_mb']:.0f}",
             f"{r['file_mb']:.0f}", f"{r['save_after_one_write_seconds']:.2f}",
             f"{r['reopen_seconds']:.2f}"] for index, r in results.items()]
    print(f"\n{args.chunks} chunks of {DIMENSIONS} dims {args.label}\n")
    print(markdown_table(["index", "write s", "RSS growth MB", "first save s",
                          "save peak over RSS MB", "files MB", "save after 1 write s",
                          "reopen s"], rows))
    write_results(f"index_save{'-' + args.label if args.label else ''}",
                  {"chunks": args.chunks, "indexes": results})


if __name__ == "__main__":
    raise SystemExit(main())
