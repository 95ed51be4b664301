"""One FAISS index per collection, saved atomically beside the SQL generation it reflects.

Exact flat search behind an ID map: it supports deletes (HNSW does not) and filtered search
through an id selector, so a filter still yields k hits whenever k matching chunks exist.
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass
from pathlib import Path

import faiss
import numpy as np

METRICS = ("cosine", "l2")


class VectorIndex:
    """A thread-safe FAISS id-mapped flat index."""

    def __init__(self, dimensions: int, metric: str, index: faiss.Index | None = None) -> None:
        if metric not in METRICS:
            raise ValueError(f"unknown metric {metric!r}")
        self.dimensions = dimensions
        self.metric = metric
        if index is None:
            flat = faiss.IndexFlatIP if metric == "cosine" else faiss.IndexFlatL2
            index = faiss.IndexIDMap2(flat(dimensions))
        self._index = index
        self._lock = threading.Lock()
        self.dirty = False

    def __len__(self) -> int:
        return int(self._index.ntotal)

    def ids(self) -> np.ndarray:
        with self._lock:
            return faiss.vector_to_array(self._index.id_map).astype(np.int64)

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        if len(ids) == 0:
            return
        with self._lock:
            self._index.add_with_ids(
                np.ascontiguousarray(vectors, dtype=np.float32), np.asarray(ids, dtype=np.int64)
            )
            self.dirty = True

    def remove(self, ids: np.ndarray) -> None:
        if len(ids) == 0:
            return
        with self._lock:
            self._index.remove_ids(np.asarray(ids, dtype=np.int64))
            self.dirty = True

    def search(
        self, query: np.ndarray, k: int, allowed_ids: np.ndarray | None = None
    ) -> list[tuple[int, float]]:
        """Top-k (chunk id, score) pairs, best first; score is higher-is-better for both metrics."""
        params = None
        if allowed_ids is not None:
            if len(allowed_ids) == 0:
                return []
            params = faiss.SearchParameters(
                sel=faiss.IDSelectorBatch(np.asarray(allowed_ids, dtype=np.int64))
            )
        with self._lock:
            if self._index.ntotal == 0:
                return []
            scores, ids = self._index.search(
                np.ascontiguousarray(query.reshape(1, -1), dtype=np.float32), k, params=params
            )
        sign = 1.0 if self.metric == "cosine" else -1.0
        return [
            (int(i), sign * float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0
        ]

    def save(self, path: Path) -> None:
        with self._lock:
            _atomic_write(path, faiss.serialize_index(self._index).tobytes())
            self.dirty = False

    @classmethod
    def load(cls, path: Path, dimensions: int, metric: str) -> VectorIndex | None:
        """The saved index, or None when it is missing, unreadable or of the wrong shape."""
        try:
            index = faiss.deserialize_index(np.frombuffer(path.read_bytes(), dtype=np.uint8))
        except (OSError, ValueError, RuntimeError):
            return None
        return cls(dimensions, metric, index) if index.d == dimensions else None


@dataclass
class CollectionVectors:
    """A collection's chunk index and document index, saved with the SQL generation they reflect.

    Each file is replaced by atomic rename and the generation is written last, so after a crash
    a stale or half-saved set is detected on the next open and repaired from SQL.
    """

    chunks: VectorIndex
    documents: VectorIndex

    @classmethod
    def empty(cls, dimensions: int, metric: str) -> CollectionVectors:
        return cls(VectorIndex(dimensions, metric), VectorIndex(dimensions, metric))

    @property
    def dirty(self) -> bool:
        return self.chunks.dirty or self.documents.dirty

    def save(self, directory: Path, generation: int) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.chunks.save(directory / "chunks.faiss")
        self.documents.save(directory / "documents.faiss")
        state = {"generation": generation, "dimensions": self.chunks.dimensions,
                 "metric": self.chunks.metric}
        _atomic_write(directory / "state.json", json.dumps(state).encode())

    @classmethod
    def load(cls, directory: Path) -> tuple[CollectionVectors | None, int]:
        """What was saved and its generation; parts that cannot be used come back as None/-1."""
        try:
            state = json.loads((directory / "state.json").read_text())
            dimensions, metric = int(state["dimensions"]), str(state["metric"])
        except (OSError, ValueError, KeyError):
            return None, -1
        chunks = VectorIndex.load(directory / "chunks.faiss", dimensions, metric)
        documents = VectorIndex.load(directory / "documents.faiss", dimensions, metric)
        if chunks is None or documents is None:
            return None, -1
        return cls(chunks, documents), int(state["generation"])


def _atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    with tmp.open("wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
