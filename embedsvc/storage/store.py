"""Keeps the SQL store (source of truth) and the FAISS indexes in agreement.

Every write commits to SQL first, bumping the collection's generation, then applies the same
change to FAISS in memory; indexes are saved in the background and on shutdown. On open, each
index is diffed against the chunk ids in SQL and repaired, so a crash at any point (even
SIGKILL between the SQL commit and the FAISS save) costs at most a repair, never a wrong hit.
"""

from __future__ import annotations

import logging
import re
import shutil
import threading
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from embedsvc.encoding.profile import EncoderProfile
from embedsvc.errors import AlreadyExists, FailedPrecondition, InvalidArgument, NotFound
from embedsvc.storage.database import create_db_engine, migrate
from embedsvc.storage.lock import DataDirLock
from embedsvc.storage.schema import ChunkRow, CollectionRow, DocumentRow, MetadataEntry
from embedsvc.storage.vectors import METRICS, CollectionVectors, VectorIndex

log = logging.getLogger(__name__)

COLLECTION_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
_REPAIR_BATCH = 4096


@dataclass(frozen=True)
class CollectionInfo:
    id: int
    name: str
    model: str
    model_fingerprint: str
    dimensions: int
    metric: str
    max_chunk_tokens: int
    profile: EncoderProfile
    document_count: int = 0
    chunk_count: int = 0


@dataclass
class WriteBatch:
    """What one transaction changes in FAISS: chunks and document vectors removed and added."""

    session: Session
    removed_ids: list[int] = field(default_factory=list)
    added: list[ChunkRow] = field(default_factory=list)
    documents_removed: list[int] = field(default_factory=list)
    documents_added: list[DocumentRow] = field(default_factory=list)


def vector_bytes(vector: np.ndarray) -> bytes:
    return np.asarray(vector, dtype="<f4").tobytes()


def vectors_of(rows: list[bytes], dimensions: int) -> np.ndarray:
    return np.frombuffer(b"".join(rows), dtype="<f4").reshape(-1, dimensions)


class Store:
    """Collections, their SQL rows and their FAISS indexes under one data dir."""

    def __init__(self, data_dir: Path, database_url: str) -> None:
        self.data_dir = data_dir
        self._lock = DataDirLock(data_dir)
        self._lock.acquire()
        try:
            self.engine = create_db_engine(database_url)
            migrate(self.engine)
            self.sessions = sessionmaker(self.engine, expire_on_commit=False)
            self._indexes: dict[int, CollectionVectors] = {}
            self._write_lock = threading.RLock()
            self._collection_locks: dict[int, threading.Lock] = defaultdict(threading.Lock)
            for info in self.list_collections(limit=None):
                self._indexes[info.id] = self._open_index(info)
        except BaseException:
            self._lock.release()
            raise

    # -- collections -------------------------------------------------------------------

    def create_collection(
        self, name: str, model: str, model_fingerprint: str, profile: EncoderProfile, metric: str,
        max_chunk_tokens: int,
    ) -> CollectionInfo:
        if not COLLECTION_NAME.match(name):
            raise InvalidArgument(
                f"collection name {name!r} is invalid: use 1-128 letters, digits, '_', '-', '.', "
                "starting with a letter or digit"
            )
        if metric not in METRICS:
            raise InvalidArgument(f"metric must be one of {', '.join(METRICS)}, got {metric!r}")
        dimensions = profile.dimensions
        row = CollectionRow(
            name=name, model=model, model_fingerprint=model_fingerprint, dimensions=dimensions,
            metric=metric, max_chunk_tokens=max_chunk_tokens, generation=0,
            profile=profile.to_dict(),
        )
        with self._write_lock:
            try:
                with self.sessions.begin() as session:
                    session.add(row)
            except IntegrityError:
                raise AlreadyExists(
                    f"collection {name!r} already exists; pick another name or delete it first"
                ) from None
            info = _info(row)
            vectors = CollectionVectors.empty(dimensions, metric)
            vectors.save(self._index_dir(info.id), 0)
            self._indexes[info.id] = vectors
        return info

    def get_collection(self, name: str, with_counts: bool = False) -> CollectionInfo:
        with self.sessions() as session:
            row = session.scalar(select(CollectionRow).where(CollectionRow.name == name))
            if row is None:
                raise NotFound(f"collection {name!r} does not exist; create it first")
            if not with_counts:
                return _info(row)
            docs = session.scalar(
                select(func.count()).select_from(DocumentRow)
                .where(DocumentRow.collection_id == row.id)
            )
            chunks = session.scalar(
                select(func.count()).select_from(ChunkRow).where(ChunkRow.collection_id == row.id)
            )
            return _info(row, docs or 0, chunks or 0)

    def collection_for_model(self, name: str, model_fingerprint: str) -> CollectionInfo:
        """The collection, if it was built with the model loaded now (else vectors mismatch)."""
        info = self.get_collection(name)
        if info.model_fingerprint != model_fingerprint:
            raise FailedPrecondition(
                f"collection {name!r} was built with model {info.model} (fingerprint "
                f"{info.model_fingerprint}), but the server runs a different model "
                f"(fingerprint {model_fingerprint}); serve that model or reindex into a new "
                "collection"
            )
        return info

    def list_collections(
        self, after_id: int = 0, limit: int | None = 100
    ) -> list[CollectionInfo]:
        with self.sessions() as session:
            query = select(CollectionRow).where(CollectionRow.id > after_id)
            query = query.order_by(CollectionRow.id)
            if limit is not None:
                query = query.limit(limit)
            return [_info(row) for row in session.scalars(query)]

    def delete_collection(self, name: str) -> None:
        info = self.get_collection(name)
        with self._write_lock:
            with self.sessions.begin() as session:
                documents = select(DocumentRow.id).where(DocumentRow.collection_id == info.id)
                session.execute(
                    delete(MetadataEntry).where(MetadataEntry.document_id.in_(documents))
                )
                session.execute(delete(ChunkRow).where(ChunkRow.collection_id == info.id))
                session.execute(delete(DocumentRow).where(DocumentRow.collection_id == info.id))
                session.execute(delete(CollectionRow).where(CollectionRow.id == info.id))
            self._indexes.pop(info.id, None)
            shutil.rmtree(self._index_dir(info.id), ignore_errors=True)

    # -- writes ------------------------------------------------------------------------

    def collection_lock(self, info: CollectionInfo) -> threading.Lock:
        """Serializes read-modify-write sequences (upserts, deletes) on one collection."""
        with self._write_lock:
            return self._collection_locks[info.id]

    @contextmanager
    def transaction(self, info: CollectionInfo) -> Iterator[WriteBatch]:
        """One atomic SQL write to a collection, mirrored into FAISS once it has committed."""
        with self._write_lock:
            with self.sessions.begin() as session:
                batch = WriteBatch(session)
                yield batch
                session.flush()
                session.execute(
                    update(CollectionRow).where(CollectionRow.id == info.id)
                    .values(generation=CollectionRow.generation + 1)
                )
            vectors = self.index(info)
            try:
                vectors.chunks.remove(np.array(batch.removed_ids, dtype=np.int64))
                vectors.chunks.add(*_ids_and_vectors(batch.added, info.dimensions))
                replaced = [row.id for row in batch.documents_added]
                vectors.documents.remove(np.array(batch.documents_removed + replaced, np.int64))
                vectors.documents.add(*_ids_and_vectors(batch.documents_added, info.dimensions))
            except Exception:
                log.exception("FAISS update failed for %s; re-syncing from SQL", info.name)
                self._indexes[info.id] = self._open_index(info)
                raise

    # -- vectors -----------------------------------------------------------------------

    def index(self, info: CollectionInfo) -> CollectionVectors:
        vectors = self._indexes.get(info.id)
        if vectors is None:
            raise NotFound(f"collection {info.name!r} was deleted")
        return vectors

    def flush(self) -> None:
        """Save every index changed since its last save, with the generation it reflects."""
        with self._write_lock:
            with self.sessions() as session:
                generations = dict(
                    session.execute(select(CollectionRow.id, CollectionRow.generation)).all()
                )
            for collection_id, index in list(self._indexes.items()):
                if index.dirty and collection_id in generations:
                    index.save(self._index_dir(collection_id), generations[collection_id])

    def reindex(self, name: str) -> int:
        """Rebuild a collection's FAISS index from the vectors in SQL; returns its size."""
        info = self.get_collection(name)
        with self._write_lock:
            shutil.rmtree(self._index_dir(info.id), ignore_errors=True)
            self._indexes[info.id] = self._open_index(info)
            return len(self._indexes[info.id].chunks)

    def close(self) -> None:
        try:
            self.flush()
        finally:
            self.engine.dispose()
            self._lock.release()

    def _index_dir(self, collection_id: int) -> Path:
        return self.data_dir / "indexes" / str(collection_id)

    def _open_index(self, info: CollectionInfo) -> CollectionVectors:
        """Load the saved indexes and make them hold exactly what SQL holds.

        Chunk rows never change their vector, so the chunk index is repaired by an id diff.
        A document keeps its id when its vector changes, so a stale document index is rebuilt.
        """
        directory = self._index_dir(info.id)
        loaded, generation = CollectionVectors.load(directory)
        vectors = loaded or CollectionVectors.empty(info.dimensions, info.metric)
        index = vectors.chunks
        with self.sessions() as session:
            sql_ids = np.fromiter(
                session.scalars(select(ChunkRow.id).where(ChunkRow.collection_id == info.id)),
                dtype=np.int64,
            )
            current = session.scalar(
                select(CollectionRow.generation).where(CollectionRow.id == info.id)
            )
            faiss_ids = index.ids()
            extra = np.setdiff1d(faiss_ids, sql_ids)
            missing = np.setdiff1d(sql_ids, faiss_ids)
            index.remove(extra)
            for start in range(0, len(missing), _REPAIR_BATCH):
                ids = missing[start : start + _REPAIR_BATCH]
                rows = session.execute(
                    select(ChunkRow.id, ChunkRow.vector).where(ChunkRow.id.in_(ids.tolist()))
                ).all()
                index.add(*_ids_and_vectors(rows, info.dimensions))
            if generation != current:
                vectors.documents = VectorIndex(info.dimensions, info.metric)
                rows = session.execute(
                    select(DocumentRow.id, DocumentRow.vector).where(
                        DocumentRow.collection_id == info.id, DocumentRow.vector.is_not(None)
                    )
                ).all()
                vectors.documents.add(*_ids_and_vectors(rows, info.dimensions))
        if len(extra) or len(missing) or generation != current:
            if len(extra) or len(missing):
                log.warning(
                    "collection %s: FAISS index repaired from SQL (%d stale, %d missing)",
                    info.name, len(extra), len(missing),
                )
            vectors.save(directory, current or 0)
        return vectors


def _ids_and_vectors(rows: list, dimensions: int) -> tuple[np.ndarray, np.ndarray]:
    """(ids, vectors) of rows that have ``id`` and ``vector`` attributes."""
    ids = np.array([row.id for row in rows], dtype=np.int64)
    return ids, vectors_of([row.vector for row in rows], dimensions)


def _info(row: CollectionRow, documents: int = 0, chunks: int = 0) -> CollectionInfo:
    return CollectionInfo(
        id=row.id, name=row.name, model=row.model, model_fingerprint=row.model_fingerprint,
        dimensions=row.dimensions, metric=row.metric, max_chunk_tokens=row.max_chunk_tokens,
        profile=EncoderProfile.from_dict(row.profile) if row.profile
        else EncoderProfile(dimensions=row.dimensions, precision="fp32"),
        document_count=documents, chunk_count=chunks,
    )
