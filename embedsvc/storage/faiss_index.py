"""The FAISS vector index: a chunk space and a document space per collection, in the data dir.

Each collection has the index type it was created with (`CollectionInfo.index`):

- ``flat``: exact search behind an id map. Deletes remove ids.
- ``hnsw``: a graph (IndexHNSWFlat) behind an id map. A graph cannot delete, so a deleted
  vector's label becomes -1, a tombstone kept in the saved file, that every search skips; when
  tombstones pass ``hnsw_rebuild_fraction`` of the graph it is rebuilt from the live vectors.
- ``ivf``: exact (flat) until it holds ``train_size`` vectors, then clustered (IndexIVFFlat,
  which keeps the ids in its lists and removes them).

Filters are applied through id selectors (the allowed ids come from the repository, where the
metadata lives). On an ANN index a filter that keeps few vectors searches exactly over them,
and an approximate search that finds fewer than k (or fewer than all the matching ones) is
redone exactly, so a filter still yields k hits whenever k matching chunks exist. Each space
is saved to its own file, only when it changed, atomically beside the SQL generation it
reflects; on `sync` a stale or half-saved set is repaired from the repository.

Saved spaces are opened memory-mapped (``faiss_mmap``): FAISS reads the vectors, IVF lists
included, as views of the file's pages, so opening costs no copy and memory holds only the
pages searches touch, as reclaimable page cache. FAISS cannot grow, compact or delete from a
view (a delete segfaults on the read-only pages), so a mapped space reads its file into memory
before its first write (`_Space._own`); the file is never changed under a mapping, because
saves write a new file and rename it over the old one.
"""

from __future__ import annotations

import json
import logging
import math
import os
import shutil
import threading
from collections.abc import Mapping, Sequence
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
# Vectors per IVF cluster that k-means needs at least (FAISS warns below it).
MIN_POINTS_PER_CLUSTER = 39
_ANY_LABEL = (0, 2**63 - 1)  # every label but a tombstone's -1
# Flat codes and IVF lists as views of the file (FAISS >= 1.11; IO_FLAG_MMAP's on-disk lists
# do not combine with it).
_MAPPED = faiss.IO_FLAG_MMAP_IFC


@dataclass(frozen=True)
class _Options:
    """How a collection's spaces are built and searched: its index type and parameters (the
    collection's own over the settings' defaults) and the store-wide thresholds."""

    index: str = "flat"
    params: Mapping[str, int] | None = None
    rebuild_fraction: float = 0.25
    exact_fraction: float = 0.05
    mapped: bool = False  # saved spaces open memory-mapped

    @classmethod
    def of(cls, info: CollectionInfo, settings: Settings) -> _Options:
        params = {**settings.index_params(info.index), **info.index_params}
        return cls(info.index, params, settings.hnsw_rebuild_fraction,
                   settings.ann_exact_fraction, settings.faiss_mmap)

    def param(self, name: str) -> int:
        return int((self.params or {})[name])


def _metric_type(metric: str) -> int:
    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r}")
    return faiss.METRIC_INNER_PRODUCT if metric == "cosine" else faiss.METRIC_L2


def _flat(dimensions: int, metric: str) -> faiss.Index:
    return faiss.IndexFlat(dimensions, _metric_type(metric))


def _hits(scores: np.ndarray, labels: np.ndarray, metric: str) -> list[tuple[int, float]]:
    """(id, score) pairs, higher-is-better for both metrics; -1 labels (nothing found) left out."""
    sign = 1.0 if metric == "cosine" else -1.0
    return [(int(i), sign * float(s)) for i, s in zip(labels, scores, strict=True) if i >= 0]


def _row(query: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(query.reshape(1, -1), dtype=np.float32)


class _Space:
    """One vector space (a collection's chunks or its documents): thread-safe, dirty until
    saved. Subclasses hold one FAISS index in ``_index`` and guard it with ``_lock``."""

    def __init__(self, dimensions: int, metric: str, options: _Options) -> None:
        _metric_type(metric)
        self.dimensions = dimensions
        self.metric = metric
        self.options = options
        self._lock = threading.Lock()
        self._index: faiss.Index
        self._file: Path | None = None  # the saved file the index is a view of, if mapped
        self.dirty = False

    def __len__(self) -> int:
        raise NotImplementedError

    @property
    def mapped(self) -> bool:
        return self._file is not None

    def _own(self) -> None:
        """Before a write to a mapped index: read its file into memory and use that copy. The
        file holds what the mapping shows (a mapped space writes nothing to FAISS's views; its
        file is replaced only by a save of that same content). Called with ``_lock`` held."""
        if self._file is not None:
            index = faiss.read_index(str(self._file))
            self._file = None
            self._replace(index)

    def _replace(self, index: faiss.Index) -> None:
        """Use ``index``, an in-memory copy of the mapped one."""
        self._index = index

    def ids(self) -> np.ndarray:
        raise NotImplementedError

    def add(self, ids: np.ndarray, vectors: np.ndarray | None) -> None:
        raise NotImplementedError

    def remove(self, ids: np.ndarray) -> None:
        raise NotImplementedError

    def search(
        self, query: np.ndarray, k: int, allowed_ids: np.ndarray | None = None
    ) -> list[tuple[int, float]]:
        """Top-k (id, score) pairs, best first; score is higher-is-better for both metrics."""
        raise NotImplementedError

    def funnel_search(
        self, query: np.ndarray, k: int, dims: int, allowed_ids: np.ndarray | None = None
    ) -> list[tuple[int, float]]:
        """An ANN index already makes a shortlist: the funnel is for exact indexes."""
        return self.search(query, k, allowed_ids)

    def maintain(self) -> None:
        """Work a write may leave due (train clusters, rebuild a graph); run by the writer."""

    def write(self, path: Path) -> Path:
        """Write the index to a temporary file beside ``path`` and return it (not yet synced or
        renamed, so that a reader never sees half a file); the space is clean from here."""
        tmp = path.with_suffix(path.suffix + ".tmp")
        with self._lock:
            faiss.write_index(self._index, str(tmp))
            self.dirty = False
        return tmp

    @classmethod
    def load(cls, path: Path, dimensions: int, metric: str, options: _Options) -> _Space | None:
        """The saved space (mapped when ``options.mapped``), or None when it is missing,
        unreadable or of another shape."""
        try:
            index = faiss.read_index(str(path), _MAPPED if options.mapped else 0)
        except (OSError, ValueError, RuntimeError):
            return None
        if index.d != dimensions or index.metric_type != _metric_type(metric):
            return None
        space = cls.adopt(index, dimensions, metric, options)
        if space is not None and options.mapped:
            space.map_from(path)
        return space

    def map_from(self, path: Path) -> None:
        """Note that the index is a view of ``path``."""
        self._file = path

    @classmethod
    def adopt(cls, index: faiss.Index, dimensions: int, metric: str,
              options: _Options) -> _Space | None:
        """A space around a loaded index, or None when it is not this space's kind. (The loaded
        object owns the FAISS index: it is kept, never replaced by a downcast view of it.)"""
        raise NotImplementedError


class _FlatIndex(_Space):
    """Exact search: a FAISS id-mapped flat index."""

    def __init__(self, dimensions: int, metric: str, index: faiss.Index | None = None,
                 options: _Options | None = None) -> None:
        super().__init__(dimensions, metric, options or _Options())
        self._index = index if index is not None else faiss.IndexIDMap2(_flat(dimensions, metric))
        self._funnels: dict[int, _Funnel] = {}  # by shortlist width; dropped on every write

    @classmethod
    def adopt(cls, index, dimensions, metric, options):
        if not isinstance(index, faiss.IndexIDMap2) or not isinstance(
                faiss.downcast_index(index.index), faiss.IndexFlat):
            return None
        return cls(dimensions, metric, index, options)

    def __len__(self) -> int:
        return int(self._index.ntotal)

    def ids(self) -> np.ndarray:
        with self._lock:
            return faiss.vector_to_array(self._index.id_map).astype(np.int64)

    def contents(self) -> tuple[np.ndarray, np.ndarray]:
        """Every id and its vector, in the same order."""
        with self._lock:
            ids = faiss.vector_to_array(self._index.id_map).astype(np.int64)
            return ids, self._index.index.reconstruct_n(0, self._index.ntotal)

    def _replace(self, index: faiss.Index) -> None:
        self._index = index
        self._funnels.clear()

    def add(self, ids: np.ndarray, vectors: np.ndarray | None) -> None:
        if len(ids) == 0 or vectors is None:
            return
        with self._lock:
            self._own()
            self._index.add_with_ids(
                np.ascontiguousarray(vectors, dtype=np.float32), np.asarray(ids, dtype=np.int64)
            )
            self._funnels.clear()
            self.dirty = True

    def remove(self, ids: np.ndarray) -> None:
        if len(ids) == 0:
            return
        with self._lock:
            self._own()
            self._index.remove_ids(np.asarray(ids, dtype=np.int64))
            self._funnels.clear()
            self.dirty = True

    def search(self, query, k, allowed_ids=None):
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
            scores, ids = self._index.search(_row(query), k, params=params)
        return _hits(scores[0], ids[0], self.metric)

    def funnel_search(self, query, k, dims, allowed_ids=None):
        """Matryoshka funnel: a shortlist of FUNNEL_FACTOR x k by the leading ``dims``, then
        exact scores at full width for the shortlist only."""
        if allowed_ids is not None and len(allowed_ids) == 0:
            return []
        with self._lock:  # the funnel re-scores from the index's own vectors
            if self._index.ntotal == 0:
                return []
            funnel = self._funnels.get(dims)
            if funnel is None:
                funnel = self._funnels[dims] = _Funnel.of(self._index, dims, self.metric)
            return funnel.search(query, k, allowed_ids)


class _HnswIndex(_Space):
    """A graph behind an id map; a deleted vector's label becomes -1 and searches skip it."""

    def __init__(self, dimensions: int, metric: str, options: _Options,
                 index: faiss.Index | None = None) -> None:
        super().__init__(dimensions, metric, options)
        if index is None:
            graph = faiss.IndexHNSWFlat(dimensions, options.param("m"), _metric_type(metric))
            graph.hnsw.efConstruction = options.param("ef_construction")
            index = faiss.IndexIDMap(graph)
        self._index = index
        self._graph = faiss.downcast_index(index.index)
        self._labels = faiss.vector_to_array(index.id_map).astype(np.int64)  # by position
        self._dead = int((self._labels < 0).sum())

    def _replace(self, index: faiss.Index) -> None:
        # Deletes since the open marked tombstones in memory only (the id map is never a view).
        faiss.rev_swig_ptr(index.id_map.data(), index.id_map.size())[:] = self._labels
        self._index, self._graph = index, faiss.downcast_index(index.index)

    @classmethod
    def adopt(cls, index, dimensions, metric, options):
        if type(index) is not faiss.IndexIDMap or not isinstance(
                faiss.downcast_index(index.index), faiss.IndexHNSWFlat):
            return None
        return cls(dimensions, metric, options, index)

    def __len__(self) -> int:
        return len(self._labels) - self._dead

    @property
    def tombstones(self) -> int:
        return self._dead

    def ids(self) -> np.ndarray:
        with self._lock:
            return self._labels[self._labels >= 0].copy()

    def add(self, ids, vectors):
        if len(ids) == 0 or vectors is None:
            return
        ids = np.asarray(ids, dtype=np.int64)
        with self._lock:
            self._own()
            self._index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), ids)
            self._labels = np.concatenate([self._labels, ids])
            self.dirty = True

    def remove(self, ids):
        """Tombstones: labels in the id map, which is in memory even when the graph is mapped."""
        if len(ids) == 0:
            return
        with self._lock:
            positions = np.flatnonzero(np.isin(self._labels, np.asarray(ids, dtype=np.int64)))
            if len(positions) == 0:
                return
            self._labels[positions] = -1
            saved = faiss.rev_swig_ptr(self._index.id_map.data(), self._index.id_map.size())
            saved[positions] = -1
            self._dead += len(positions)
            self.dirty = True

    def search(self, query, k, allowed_ids=None):
        with self._lock:
            live = len(self)
            if live == 0 or (allowed_ids is not None and len(allowed_ids) == 0):
                return []
            if allowed_ids is None:
                matching = live
                inner = faiss.IDSelectorRange(*_ANY_LABEL) if self._dead else None
            else:
                matching = min(len(allowed_ids), live)
                inner = faiss.IDSelectorBatch(np.asarray(allowed_ids, dtype=np.int64))
            # Selectors see positions; translated, they judge each position by its label.
            selector = None if inner is None else faiss.IDSelectorTranslated(
                self._index.id_map, inner)
            if matching >= self.options.exact_fraction * live:
                params = faiss.SearchParametersHNSW()
                params.efSearch = max(self.options.param("ef_search"), k)
                if selector is not None:
                    params.sel = selector
                scores, positions = self._graph.search(_row(query), k, params=params)
                hits = self._found(scores[0], positions[0])
                if len(hits) >= min(k, matching):
                    return hits
            exact = None if selector is None else faiss.SearchParameters(sel=selector)
            scores, positions = self._graph.storage.search(_row(query), k, params=exact)
            return self._found(scores[0], positions[0])

    def _found(self, scores: np.ndarray, positions: np.ndarray) -> list[tuple[int, float]]:
        labels = np.where(positions >= 0, self._labels[np.maximum(positions, 0)], -1)
        return _hits(scores, labels, self.metric)

    def maintain(self) -> None:
        """Rebuild the graph from the live vectors once tombstones pass the threshold. Searches
        go on in the old graph meanwhile; writes wait (the writer runs this)."""
        with self._lock:
            if not self._dead or self._dead < self.options.rebuild_fraction * len(self._labels):
                return
            live = np.flatnonzero(self._labels >= 0)
            ids = self._labels[live]
            vectors = self._graph.storage.reconstruct_batch(live)
        rebuilt = _HnswIndex(self.dimensions, self.metric, self.options)
        rebuilt.add(ids, vectors)
        with self._lock:
            log.info("HNSW graph rebuilt without its %d deleted vectors (%d live)",
                     self._dead, len(ids))
            self._index, self._graph = rebuilt._index, rebuilt._graph
            self._labels, self._dead, self._file = rebuilt._labels, 0, None
            self.dirty = True


class _IvfIndex(_Space):
    """Exact (a flat index) until it holds ``train_size`` vectors, then clustered: IVF keeps
    the ids in its lists, so deletes remove them."""

    def __init__(self, dimensions: int, metric: str, options: _Options,
                 index: faiss.Index | None = None) -> None:
        super().__init__(dimensions, metric, options)
        self._exact: _FlatIndex | None = None  # until trained; then ``_index`` is the IVF
        if index is None:
            self._exact = _FlatIndex(dimensions, metric, options=options)
        elif isinstance(index, faiss.IndexIDMap2):
            self._exact = _FlatIndex(dimensions, metric, index, options)
        else:
            self._index = index

    @classmethod
    def adopt(cls, index, dimensions, metric, options):
        if isinstance(index, faiss.IndexIVFFlat):
            return cls(dimensions, metric, options, index)
        flat = _FlatIndex.adopt(index, dimensions, metric, options)
        return None if flat is None else cls(dimensions, metric, options, flat._index)

    @property
    def trained(self) -> bool:
        return self._exact is None

    @property
    def mapped(self) -> bool:
        return self._exact.mapped if self._exact is not None else self._file is not None

    def map_from(self, path: Path) -> None:
        if self._exact is not None:
            self._exact.map_from(path)
        else:
            self._file = path

    def __len__(self) -> int:
        if self._exact is not None:
            return len(self._exact)
        return int(self._index.ntotal)

    def ids(self) -> np.ndarray:
        if self._exact is not None:
            return self._exact.ids()
        with self._lock:
            lists = self._index.invlists
            found = [faiss.rev_swig_ptr(lists.get_ids(i), lists.list_size(i)).copy()
                     for i in range(lists.nlist) if lists.list_size(i)]
        return np.concatenate(found).astype(np.int64) if found else np.empty(0, np.int64)

    def add(self, ids, vectors):
        if self._exact is not None:
            self._exact.add(ids, vectors)
        elif len(ids) and vectors is not None:
            with self._lock:
                self._own()
                self._index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32),
                                         np.asarray(ids, dtype=np.int64))
        self.dirty = self.dirty or bool(len(ids))

    def remove(self, ids):
        if self._exact is not None:
            self._exact.remove(ids)
        elif len(ids):
            with self._lock:
                self._own()
                self._index.remove_ids(faiss.IDSelectorBatch(np.asarray(ids, dtype=np.int64)))
        self.dirty = self.dirty or bool(len(ids))

    def search(self, query, k, allowed_ids=None):
        if self._exact is not None:
            return self._exact.search(query, k, allowed_ids)
        with self._lock:
            total = int(self._index.ntotal)
            if total == 0 or (allowed_ids is not None and len(allowed_ids) == 0):
                return []
            params = faiss.SearchParametersIVF()
            matching = total
            if allowed_ids is not None:
                matching = min(len(allowed_ids), total)
                selector = faiss.IDSelectorBatch(np.asarray(allowed_ids, dtype=np.int64))
                params.sel = selector
            nlist = int(self._index.nlist)
            # Probing every cluster is an exact search.
            probes = [nlist] if matching < self.options.exact_fraction * total else \
                [min(self.options.param("nprobe"), nlist), nlist]
            for nprobe in probes:
                params.nprobe = nprobe
                scores, ids = self._index.search(_row(query), k, params=params)
                hits = _hits(scores[0], ids[0], self.metric)
                if len(hits) >= min(k, matching):
                    break
            return hits

    def funnel_search(self, query, k, dims, allowed_ids=None):
        if self._exact is not None:
            return self._exact.funnel_search(query, k, dims, allowed_ids)
        return self.search(query, k, allowed_ids)

    def maintain(self) -> None:
        """Cluster the vectors once there are ``train_size`` of them. Searches stay exact
        meanwhile; writes wait (the writer runs this)."""
        exact = self._exact
        if exact is None or len(exact) < max(self.options.param("train_size"), 1):
            return
        ids, vectors = exact.contents()
        nlist = self.options.param("nlist") or max(
            1, min(round(4 * math.sqrt(len(ids))), len(ids) // MIN_POINTS_PER_CLUSTER))
        nlist = min(nlist, len(ids))
        index = faiss.index_factory(self.dimensions, f"IVF{nlist},Flat",
                                    _metric_type(self.metric))
        index.train(vectors)
        index.add_with_ids(vectors, ids)
        with self._lock:
            self._index, self._exact = index, None
            self.dirty = True
        log.info("IVF index trained: %d vectors in %d clusters", len(ids), nlist)

    def write(self, path: Path) -> Path:
        if self._exact is not None:
            tmp = self._exact.write(path)
            self.dirty = False
            return tmp
        return super().write(path)


SPACES: dict[str, type[_Space]] = {"flat": _FlatIndex, "hnsw": _HnswIndex, "ivf": _IvfIndex}


def _new_space(dimensions: int, metric: str, options: _Options) -> _Space:
    if options.index == "flat":
        return _FlatIndex(dimensions, metric, options=options)
    return SPACES[options.index](dimensions, metric, options)


class _Funnel:
    """The leading dims of every vector in a flat index of their own (re-normalized for
    cosine), beside the full vectors for re-scoring; built on first use after a write."""

    def __init__(self, ids: np.ndarray, full: np.ndarray, dims: int, metric: str) -> None:
        self.ids, self.full, self.metric = ids, full, metric
        low = np.array(full[:, :dims])  # a copy: ``full`` may be the index's own vectors
        if metric == "cosine":
            low /= np.maximum(np.linalg.norm(low, axis=1, keepdims=True), 1e-12)
            self.low = faiss.IndexFlatIP(dims)
        else:
            self.low = faiss.IndexFlatL2(dims)
        self.low.add(low)
        self.dims = dims

    @classmethod
    def of(cls, index: faiss.Index, dims: int, metric: str) -> _Funnel:
        """A funnel over an id-mapped flat index; its full vectors are a view of the index's
        own (no copy): valid until the index changes, when the funnel is dropped."""
        ids = faiss.vector_to_array(index.id_map).astype(np.int64)
        flat = faiss.downcast_index(index.index)
        full = faiss.rev_swig_ptr(flat.get_xb(), index.ntotal * index.d)
        return cls(ids, full.reshape(index.ntotal, index.d), dims, metric)

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

    Each changed file is replaced by atomic rename and the state (with the generation) is
    written last, so after a crash a stale or half-saved set is detected on the next sync and
    repaired. A space that did not change since its last save keeps its file.
    """

    chunks: _Space
    documents: _Space
    generation: int
    options: _Options
    lock: threading.Lock
    saving: threading.Lock

    @classmethod
    def empty(cls, dimensions: int, metric: str, options: _Options,
              generation: int = -1) -> _CollectionIndexes:
        return cls(_new_space(dimensions, metric, options),
                   _new_space(dimensions, metric, options), generation, options,
                   threading.Lock(), threading.Lock())

    def space(self, level: Level) -> _Space:
        return self.chunks if level == "chunk" else self.documents

    @property
    def dirty(self) -> bool:
        return self.chunks.dirty or self.documents.dirty

    def save(self, directory: Path) -> None:
        with metrics.INDEX_SAVE_SECONDS.time():
            self._save(directory)

    def _save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        with self.saving:
            with self.lock:  # no write in between: both files and the state agree
                spaces = [(space, directory / name)
                          for name, space in (("chunks.faiss", self.chunks),
                                              ("documents.faiss", self.documents))
                          if space.dirty or not (directory / name).exists()]
                written = [(space.write(path), path) for space, path in spaces]
                generation = self.generation
            try:
                for position, (tmp, path) in enumerate(written):
                    _sync_file(tmp)
                    os.replace(tmp, path)
                    if position == 0:
                        fault_point("index.save")
            except BaseException:
                for space, _ in spaces:  # saved again by the next flush
                    space.dirty = True
                raise
            state = {"generation": generation, "dimensions": self.chunks.dimensions,
                     "metric": self.chunks.metric, "index": self.options.index}
            _atomic_write(directory / "state.json", json.dumps(state).encode())

    @classmethod
    def load(cls, directory: Path, options: _Options) -> _CollectionIndexes | None:
        """What was saved, or None when any part of it cannot be used."""
        try:
            state = json.loads((directory / "state.json").read_text())
            dimensions, metric = int(state["dimensions"]), str(state["metric"])
            generation = int(state["generation"])
        except (OSError, ValueError, KeyError):
            return None
        if state.get("index", "flat") != options.index:
            return None
        kind = SPACES[options.index]
        chunks = kind.load(directory / "chunks.faiss", dimensions, metric, options)
        documents = kind.load(directory / "documents.faiss", dimensions, metric, options)
        if chunks is None or documents is None:
            return None
        return cls(chunks, documents, generation, options, threading.Lock(), threading.Lock())


class FaissVectorIndex:
    """`VectorIndex` on FAISS files under ``data_dir/indexes/<collection id>/``."""

    backup_note = ""  # the index files are in the backup

    def __init__(self, settings: Settings, repository: Repository) -> None:
        self.settings = settings
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
        options = _Options.of(info, self.settings)
        saved = _CollectionIndexes.load(directory, options)
        indexes = saved
        if indexes is None or indexes.chunks.dimensions != info.dimensions:
            indexes = _CollectionIndexes.empty(info.dimensions, info.metric, options)
        sql_ids = self.repository.ids(info, "chunk")
        saved_ids = indexes.chunks.ids()
        extra, missing = np.setdiff1d(saved_ids, sql_ids), np.setdiff1d(sql_ids, saved_ids)
        indexes.chunks.remove(extra)
        faiss.omp_set_num_threads(self.threads)
        for ids, vectors in self.repository.vectors(info, "chunk", missing):
            indexes.chunks.add(ids, vectors)
        indexes.chunks.maintain()
        stale = indexes.generation != current
        if stale:
            indexes.documents = _new_space(info.dimensions, info.metric, options)
            for ids, vectors in self.repository.vectors(info, "document"):
                indexes.documents.add(ids, vectors)
            indexes.documents.maintain()
            indexes.generation = current
            indexes.documents.dirty = indexes.documents.dirty or saved is not None
        if len(extra) or len(missing):
            log.warning("collection %s: FAISS index repaired from SQL (%d stale, %d missing)",
                        info.name, len(extra), len(missing))
        with self._lock:
            self._collections[info.id] = indexes

    def apply(self, info: CollectionInfo, changes: IndexChanges) -> None:
        indexes = self._get(info)
        faiss.omp_set_num_threads(self.threads)
        try:
            with indexes.lock:
                indexes.chunks.remove(changes.chunks_removed)
                indexes.chunks.add(changes.chunk_ids, changes.chunk_vectors)
                indexes.documents.remove(changes.documents_removed)
                indexes.documents.add(changes.document_ids, changes.document_vectors)
                indexes.generation = changes.generation
            # Training or rebuilding outside the lock: a save meanwhile writes the old index.
            indexes.chunks.maintain()
            indexes.documents.maintain()
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


def _sync_file(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    with tmp.open("wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
