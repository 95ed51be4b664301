"""The FAISS vector index: a chunk index and a document index per collection, in the data dir.

Exact flat search behind an ID map: it supports deletes (HNSW does not) and filtered search
through an id selector (the allowed ids come from the repository, where the metadata lives), so
a filter still yields k hits whenever k matching chunks exist. Each collection's files are saved
atomically beside the SQL generation they reflect; on `sync` a stale or half-saved set is
repaired from the repository.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import faiss
import numpy as np

from embedsvc import metrics
from embedsvc.config import Settings
from embedsvc.errors import NotFound
from embedsvc.faults import fault_point
from embedsvc.ports import Repository
from embedsvc.types import METRICS, CollectionInfo, Condition, IndexChanges, Level

log = logging.getLogger(__name__)
# A funnel search re-scores this many candidates per hit wanted.
FUNNEL_FACTOR = 10


class _FlatIndex:
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
        self._funnels: dict[int, _Funnel] = {}  # by shortlist width; dropped on every write
        self.dirty = False

    def __len__(self) -> int:
        return int(self._index.ntotal)

    def ids(self) -> np.ndarray:
        with self._lock:
            return faiss.vector_to_array(self._index.id_map).astype(np.int64)

    def add(self, ids: np.ndarray, vectors: np.ndarray | None) -> None:
        if len(ids) == 0 or vectors is None:
            return
        with self._lock:
            self._index.add_with_ids(
                np.ascontiguousarray(vectors, dtype=np.float32), np.asarray(ids, dtype=np.int64)
            )
            self._funnels.clear()
            self.dirty = True

    def remove(self, ids: np.ndarray) -> None:
        if len(ids) == 0:
            return
        with self._lock:
            self._index.remove_ids(np.asarray(ids, dtype=np.int64))
            self._funnels.clear()
            self.dirty = True

    def search(
        self, query: np.ndarray, k: int, allowed_ids: np.ndarray | None = None
    ) -> list[tuple[int, float]]:
        """Top-k (id, score) pairs, best first; score is higher-is-better for both metrics."""
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

    def funnel_search(
        self, query: np.ndarray, k: int, dims: int, allowed_ids: np.ndarray | None = None
    ) -> list[tuple[int, float]]:
        """Matryoshka funnel: a shortlist of FUNNEL_FACTOR x k by the leading ``dims``, then
        exact scores at full width for the shortlist only."""
        if allowed_ids is not None and len(allowed_ids) == 0:
            return []
        with self._lock:
            if self._index.ntotal == 0:
                return []
            funnel = self._funnels.get(dims)
            if funnel is None:
                funnel = self._funnels[dims] = _Funnel.of(self._index, dims, self.metric)
        return funnel.search(query, k, allowed_ids)

    def serialized(self) -> bytes:
        with self._lock:
            self.dirty = False
            return faiss.serialize_index(self._index).tobytes()

    @classmethod
    def load(cls, path: Path, dimensions: int, metric: str) -> _FlatIndex | None:
        """The saved index, or None when it is missing, unreadable or of the wrong shape."""
        try:
            index = faiss.deserialize_index(np.frombuffer(path.read_bytes(), dtype=np.uint8))
        except (OSError, ValueError, RuntimeError):
            return None
        return cls(dimensions, metric, index) if index.d == dimensions else None


class _Funnel:
    """The leading dims of every vector in a flat index of their own (re-normalized for
    cosine), beside the full vectors for re-scoring; built on first use after a write."""

    def __init__(self, ids: np.ndarray, full: np.ndarray, dims: int, metric: str) -> None:
        self.ids, self.full, self.metric = ids, full, metric
        low = np.ascontiguousarray(full[:, :dims])
        if metric == "cosine":
            low /= np.maximum(np.linalg.norm(low, axis=1, keepdims=True), 1e-12)
            self.low = faiss.IndexFlatIP(dims)
        else:
            self.low = faiss.IndexFlatL2(dims)
        self.low.add(low)
        self.dims = dims

    @classmethod
    def of(cls, index: faiss.Index, dims: int, metric: str) -> _Funnel:
        ids = faiss.vector_to_array(index.id_map).astype(np.int64)
        return cls(ids, index.index.reconstruct_n(0, index.ntotal), dims, metric)

    def search(
        self, query: np.ndarray, k: int, allowed_ids: np.ndarray | None
    ) -> list[tuple[int, float]]:
        query = np.asarray(query, dtype=np.float32).reshape(-1)
        low = query[: self.dims].copy()
        if self.metric == "cosine":
            low /= max(float(np.linalg.norm(low)), 1e-12)
        params = None
        if allowed_ids is not None:
            rows = np.flatnonzero(np.isin(self.ids, allowed_ids)).astype(np.int64)
            params = faiss.SearchParameters(sel=faiss.IDSelectorBatch(rows))
        _, rows = self.low.search(low.reshape(1, -1), FUNNEL_FACTOR * k, params=params)
        rows = rows[0][rows[0] >= 0]
        candidates = self.full[rows]
        if self.metric == "cosine":
            scores = candidates @ query
        else:
            scores = -((candidates - query) ** 2).sum(axis=1)
        best = np.argsort(-scores, kind="stable")[:k]
        return [(int(self.ids[rows[i]]), float(scores[i])) for i in best]


@dataclass
class _CollectionIndexes:
    """A collection's two spaces and the SQL generation they reflect.

    Each file is replaced by atomic rename and the state (with the generation) is written last,
    so after a crash a stale or half-saved set is detected on the next sync and repaired.
    """

    chunks: _FlatIndex
    documents: _FlatIndex
    generation: int
    lock: threading.Lock

    @classmethod
    def empty(cls, dimensions: int, metric: str, generation: int = -1) -> _CollectionIndexes:
        return cls(_FlatIndex(dimensions, metric), _FlatIndex(dimensions, metric), generation,
                   threading.Lock())

    def space(self, level: Level) -> _FlatIndex:
        return self.chunks if level == "chunk" else self.documents

    @property
    def dirty(self) -> bool:
        return self.chunks.dirty or self.documents.dirty

    def save(self, directory: Path) -> None:
        with metrics.INDEX_SAVE_SECONDS.time():
            self._save(directory)

    def _save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        with self.lock:
            chunks, documents = self.chunks.serialized(), self.documents.serialized()
            generation = self.generation
        _atomic_write(directory / "chunks.faiss", chunks)
        fault_point("index.save")
        _atomic_write(directory / "documents.faiss", documents)
        state = {"generation": generation, "dimensions": self.chunks.dimensions,
                 "metric": self.chunks.metric}
        _atomic_write(directory / "state.json", json.dumps(state).encode())

    @classmethod
    def load(cls, directory: Path) -> _CollectionIndexes | None:
        """What was saved, or None when any part of it cannot be used."""
        try:
            state = json.loads((directory / "state.json").read_text())
            dimensions, metric = int(state["dimensions"]), str(state["metric"])
            generation = int(state["generation"])
        except (OSError, ValueError, KeyError):
            return None
        chunks = _FlatIndex.load(directory / "chunks.faiss", dimensions, metric)
        documents = _FlatIndex.load(directory / "documents.faiss", dimensions, metric)
        if chunks is None or documents is None:
            return None
        return cls(chunks, documents, generation, threading.Lock())


class FaissVectorIndex:
    """`VectorIndex` on FAISS files under ``data_dir/indexes/<collection id>/``."""

    backup_note = ""  # the index files are in the backup

    def __init__(self, settings: Settings, repository: Repository) -> None:
        self.threads = settings.faiss_threads
        self.data_dir = settings.data_dir
        self.repository = repository
        self._collections: dict[int, _CollectionIndexes] = {}
        self._lock = threading.Lock()

    def sync(self, info: CollectionInfo) -> None:
        """Load the saved indexes and make them hold exactly what SQL holds.

        Chunk rows never change their vector, so the chunk index is repaired by an id diff.
        A document keeps its id when its vector changes, so a stale document index is rebuilt.
        What was repaired is saved by the next flush.
        """
        directory = self._directory(info)
        current = self.repository.generation(info.id)
        if current is None:
            raise NotFound(f"collection {info.name!r} was deleted")
        saved = _CollectionIndexes.load(directory)
        indexes = saved
        if indexes is None or indexes.chunks.dimensions != info.dimensions:
            indexes = _CollectionIndexes.empty(info.dimensions, info.metric)
        sql_ids = self.repository.ids(info, "chunk")
        saved_ids = indexes.chunks.ids()
        extra, missing = np.setdiff1d(saved_ids, sql_ids), np.setdiff1d(sql_ids, saved_ids)
        indexes.chunks.remove(extra)
        for ids, vectors in self.repository.vectors(info, "chunk", missing):
            indexes.chunks.add(ids, vectors)
        stale = indexes.generation != current
        if stale:
            indexes.documents = _FlatIndex(info.dimensions, info.metric)
            for ids, vectors in self.repository.vectors(info, "document"):
                indexes.documents.add(ids, vectors)
            indexes.generation = current
            indexes.documents.dirty = indexes.documents.dirty or saved is not None
        if len(extra) or len(missing):
            log.warning("collection %s: FAISS index repaired from SQL (%d stale, %d missing)",
                        info.name, len(extra), len(missing))
        with self._lock:
            self._collections[info.id] = indexes

    def apply(self, info: CollectionInfo, changes: IndexChanges) -> None:
        indexes = self._get(info)
        try:
            with indexes.lock:
                indexes.chunks.remove(changes.chunks_removed)
                indexes.chunks.add(changes.chunk_ids, changes.chunk_vectors)
                indexes.documents.remove(changes.documents_removed)
                indexes.documents.add(changes.document_ids, changes.document_vectors)
                indexes.generation = changes.generation
        except Exception:
            log.exception("FAISS update failed for %s; re-syncing from SQL", info.name)
            self.sync(info)
            raise

    def search(
        self, info: CollectionInfo, query: np.ndarray, k: int, level: Level = "chunk",
        conditions: Sequence[Condition] = (), funnel_dims: int = 0,
    ) -> list[tuple[int, float]]:
        allowed = self.repository.matching_ids(info, conditions, level) if conditions else None
        # Searches arrive concurrently, one thread each; FAISS's own threads inside one only
        # contend with them (3x slower per query with two on 2 cores under load). OpenMP keeps
        # the setting per calling thread, so it is set here, in the searching thread.
        faiss.omp_set_num_threads(self.threads)
        space = self._get(info).space(level)
        if 0 < funnel_dims < info.dimensions:
            return space.funnel_search(query, k, funnel_dims, allowed)
        return space.search(query, k, allowed)

    def ids(self, info: CollectionInfo, level: Level = "chunk") -> np.ndarray:
        return self._get(info).space(level).ids()

    def count(self, info: CollectionInfo, level: Level = "chunk") -> int:
        return len(self._get(info).space(level))

    def export(self, info: CollectionInfo, directory: Path) -> int:
        """Save the collection, copy its files into ``directory``; returns their generation."""
        indexes = self._get(info)
        source = self._directory(info)
        indexes.save(source)
        target = directory / "indexes" / str(info.id)
        shutil.copytree(source, target, ignore=shutil.ignore_patterns("*.tmp"))
        return indexes.generation

    def retain(self, collections: Sequence[CollectionInfo]) -> None:
        """Delete the files of collections that no longer exist (a crash in a delete)."""
        keep = {str(info.id) for info in collections}
        root = self.data_dir / "indexes"
        for directory in root.iterdir() if root.is_dir() else ():
            if directory.is_dir() and directory.name not in keep:
                log.warning("removing the index files of deleted collection %s", directory.name)
                shutil.rmtree(directory, ignore_errors=True)

    def drop(self, info: CollectionInfo) -> None:
        with self._lock:
            self._collections.pop(info.id, None)
        shutil.rmtree(self._directory(info), ignore_errors=True)

    def rebuild(self, info: CollectionInfo) -> int:
        """Forget the saved files and rebuild from SQL; returns the chunk vectors indexed."""
        self.drop(info)
        self.sync(info)
        indexes = self._get(info)
        indexes.chunks.dirty = True  # saved by the next flush, even when empty
        return len(indexes.chunks)

    def flush(self) -> None:
        """Save every collection changed since its last save, with the generation it reflects."""
        with self._lock:
            dirty = [(cid, idx) for cid, idx in self._collections.items() if idx.dirty]
        for collection_id, indexes in dirty:
            indexes.save(self.data_dir / "indexes" / str(collection_id))

    def close(self) -> None:
        self.flush()

    def _get(self, info: CollectionInfo) -> _CollectionIndexes:
        with self._lock:
            indexes = self._collections.get(info.id)
        if indexes is None:
            raise NotFound(f"collection {info.name!r} was deleted")
        return indexes

    def _directory(self, info: CollectionInfo) -> Path:
        return self.data_dir / "indexes" / str(info.id)


def _atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    with tmp.open("wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
