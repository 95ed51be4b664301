"""All SQL of the product: collections, documents, chunks with their vectors, metadata filters.

SQL is the source of truth. Every write is one transaction that also bumps the collection's
generation and returns the `IndexChanges` the vector index then mirrors; a crash between the
commit and the mirror costs a repair from here (`ids`, `vectors`), never a wrong hit.
"""

from __future__ import annotations

import hashlib
import operator
import sqlite3
import threading
import time
from collections import defaultdict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import ColumnElement, Connection, Select, delete, func, select, update
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session, defer, sessionmaker

from embedsvc.errors import AlreadyExists, DataDirLocked, NotFound
from embedsvc.faults import fault_point
from embedsvc.lexical import chunk_terms
from embedsvc.metadata import canonical_json, filterable_entries
from embedsvc.storage.lock import SERVER_HINT
from embedsvc.storage.sql import lexical
from embedsvc.storage.sql.bm25 import Bm25Statistics, WeightedQuery
from embedsvc.storage.sql.database import (
    bounded_by_deadline,
    create_db_engine,
    migrate,
    translated_errors,
)
from embedsvc.storage.sql.schema import ChunkRow, CollectionRow, DocumentRow, MetadataEntry
from embedsvc.types import (
    Chunk,
    CollectionInfo,
    Condition,
    DeleteResult,
    DocumentInput,
    DocumentSummary,
    EncoderProfile,
    Hit,
    IndexChanges,
    Level,
    PreparedDocument,
    StoredChunk,
    StoredDocument,
    UpsertResult,
)

_VECTOR_BATCH = 4096
MAX_SYMBOL_CHARS = ChunkRow.__table__.c.symbol.type.length
MAX_KIND_CHARS = ChunkRow.__table__.c.kind.type.length


def vector_bytes(vector: np.ndarray) -> bytes:
    return np.asarray(vector, dtype="<f4").tobytes()


def vectors_of(rows: Sequence[bytes], dimensions: int) -> np.ndarray:
    return np.frombuffer(b"".join(rows), dtype="<f4").reshape(-1, dimensions).astype(np.float32)


class SqlRepository:
    """The SQL store behind any SQLAlchemy URL (SQLite file, PostgreSQL), migrated on open."""

    def __init__(self, database_url: str) -> None:
        self.engine = create_db_engine(database_url)
        try:
            self.revision = migrate(self.engine)
        except BaseException:
            self.engine.dispose()
            raise
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        # SQLite allows one writer; a transaction that read before another committed could not
        # upgrade to a write lock, so writes of this process take turns (they are short:
        # inference never runs inside one).
        self._write_lock = threading.Lock()
        self._claim: Connection | None = None
        self._bm25 = Bm25Statistics()  # PostgreSQL's lexical ranking (SQLite's FTS5 has its own)

    @contextmanager
    def _writing(self) -> Iterator[Session]:
        with (translated_errors(), self._write_lock, self.sessions.begin() as session,
              bounded_by_deadline(session)):
            yield session

    @contextmanager
    def _reading(self) -> Iterator[Session]:
        with translated_errors(), self.sessions() as session, bounded_by_deadline(session):
            yield session

    def claim(self, wait: float = 10.0, hint: str = SERVER_HINT) -> None:
        """Hold the database for this process alone (PostgreSQL: an advisory lock on this
        schema, released when the process or its connection ends). A server killed a moment
        ago may still hold it, so the claim is retried for up to ``wait`` seconds. SQLite lives
        in the data dir, whose lock already says the same."""
        if self.engine.dialect.name != "postgresql":
            return
        connection = self.engine.connect()
        schema = connection.exec_driver_sql("SELECT current_schema()").scalar()
        key = int.from_bytes(hashlib.sha256(f"embedsvc:{schema}".encode()).digest()[:8],
                             "big", signed=True)
        deadline = time.monotonic() + wait
        while not connection.exec_driver_sql(f"SELECT pg_try_advisory_lock({key})").scalar():
            if time.monotonic() >= deadline:
                connection.close()
                raise DataDirLocked(
                    f"database schema {schema!r} is in use by another embedsvc server; {hint}"
                )
            time.sleep(0.2)
        connection.commit()
        self._claim = connection

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def copy_to(self, path: Path) -> bool:
        """An online, consistent copy of a SQLite database at ``path`` (the backup API); False
        for other databases, which are backed up with their own tools (pg_dump)."""
        if self.dialect != "sqlite":
            return False
        with translated_errors(), self._write_lock:
            source = self.engine.raw_connection()
            target = sqlite3.connect(path)
            try:
                source.driver_connection.backup(target)
            finally:
                target.close()
                source.close()
        return True

    def ping(self) -> bool:
        """Whether the database answers now."""
        try:
            with self.engine.connect() as connection:
                connection.execute(select(1))
            return True
        except DBAPIError:
            return False

    def close(self) -> None:
        if self._claim is not None:
            self._claim.close()
            self._claim = None
        self.engine.dispose()

    # -- collections -------------------------------------------------------------------

    def create_collection(self, info: CollectionInfo) -> CollectionInfo:
        row = CollectionRow(
            name=info.name, model=info.model, model_fingerprint=info.model_fingerprint,
            dimensions=info.dimensions, metric=info.metric,
            max_chunk_tokens=info.max_chunk_tokens, generation=0,
            profile=info.profile.to_dict(), chunking=info.chunking,
            query_prompt=info.query_prompt, document_prompt=info.document_prompt,
            index_type=info.index, index_params=dict(info.index_params),
        )
        try:
            with self._writing() as session:
                session.add(row)
        except IntegrityError:
            raise AlreadyExists(
                f"collection {info.name!r} already exists; pick another name or delete it first"
            ) from None
        return _info(row)

    def get_collection(self, name: str, with_counts: bool = False) -> CollectionInfo:
        query = _collections(with_counts).where(CollectionRow.name == name)
        with self._reading() as session:
            found = session.execute(query).first()
        if found is None:
            raise NotFound(f"collection {name!r} does not exist; create it first")
        return _info(*found)

    def list_collections(
        self, after_id: int = 0, limit: int | None = None, with_counts: bool = False,
        hidden_prefixes: Sequence[str] = (),
    ) -> list[CollectionInfo]:
        """Collections in id order, counts included in the same query when asked for; names
        starting with one of ``hidden_prefixes`` are left out in SQL, so pages stay full."""
        query = _collections(with_counts).where(CollectionRow.id > after_id)
        for prefix in hidden_prefixes:
            query = query.where(~CollectionRow.name.startswith(prefix, autoescape=True))
        query = query.order_by(CollectionRow.id)
        if limit is not None:
            query = query.limit(limit)
        with self._reading() as session:
            return [_info(*found) for found in session.execute(query).all()]

    def delete_collection(self, info: CollectionInfo) -> None:
        """The collection and, by the schema's cascades, its documents, chunks and metadata."""
        with self._writing() as session:
            session.execute(delete(CollectionRow).where(CollectionRow.id == info.id))

    def generation(self, collection_id: int) -> int | None:
        with self._reading() as session:
            return session.scalar(
                select(CollectionRow.generation).where(CollectionRow.id == collection_id)
            )

    # -- documents ---------------------------------------------------------------------

    def stored_vectors(
        self, info: CollectionInfo, document_ids: Sequence[str]
    ) -> dict[str, np.ndarray]:
        """Content hash -> stored vector of the chunks of these documents (for reuse)."""
        if not document_ids:
            return {}
        with self._reading() as session:
            rows = session.execute(
                select(ChunkRow.content_hash, ChunkRow.vector)
                .join(DocumentRow, ChunkRow.document_id == DocumentRow.id)
                .where(DocumentRow.collection_id == info.id,
                       DocumentRow.external_id.in_(list(document_ids)))
            ).all()
        return {
            content_hash: vectors_of([vector], info.dimensions)[0] for content_hash, vector in rows
        }

    def write_documents(
        self, info: CollectionInfo, documents: Sequence[PreparedDocument]
    ) -> tuple[list[UpsertResult], IndexChanges]:
        """Create or replace each document in one transaction; chunks whose content hash is
        unchanged keep their rows (ids and vectors), the others get the prepared vectors."""
        changes = _ChangeLog()
        with self._writing() as session:
            _lock_collection(session, info)
            results = [_write_document(session, info, doc, changes) for doc in documents]
            session.flush()
            fault_point("upsert.writing")
            changes.generation = _bump_generation(session, info)
        return results, changes.build(info.dimensions)

    def delete_documents(
        self, info: CollectionInfo, ids: Sequence[str]
    ) -> tuple[DeleteResult, IndexChanges]:
        with self._writing() as session:
            _lock_collection(session, info)
            rows = session.execute(
                select(DocumentRow.id, DocumentRow.external_id).where(
                    DocumentRow.collection_id == info.id, DocumentRow.external_id.in_(list(ids))
                )
            ).all()
            document_ids = [row.id for row in rows]
            chunk_ids: list[int] = []
            if document_ids:
                chunk_ids = list(session.scalars(
                    select(ChunkRow.id).where(ChunkRow.document_id.in_(document_ids))
                ))
                session.execute(delete(DocumentRow).where(DocumentRow.id.in_(document_ids)))
            generation = _bump_generation(session, info)
        deleted = [row.external_id for row in rows]
        gone = set(deleted)
        result = DeleteResult(deleted, [i for i in ids if i not in gone], len(chunk_ids))
        changes = IndexChanges(
            chunks_removed=np.array(chunk_ids, dtype=np.int64),
            documents_removed=np.array(document_ids, dtype=np.int64), generation=generation,
        )
        return result, changes

    def get_document(self, info: CollectionInfo, document_id: str) -> StoredDocument:
        with self._reading() as session:
            row = session.scalar(
                select(DocumentRow).where(
                    DocumentRow.collection_id == info.id, DocumentRow.external_id == document_id
                )
            )
            if row is None:
                raise NotFound(f"document {document_id!r} is not in collection {info.name!r}")
            chunks = session.scalars(
                select(ChunkRow).options(defer(ChunkRow.vector))
                .where(ChunkRow.document_id == row.id).order_by(ChunkRow.ordinal)
            ).all()
            document = DocumentInput(row.external_id, row.text, row.language, row.metadata_ or {})
            return StoredDocument(document, row.content_hash, [_stored_chunk(c) for c in chunks])

    def list_documents(
        self, info: CollectionInfo, after_id: int, limit: int, id_prefix: str = ""
    ) -> list[tuple[int, DocumentSummary]]:
        """(row id, summary) of up to ``limit`` documents after ``after_id``, in id order."""
        chunk_counts = (
            select(func.count()).select_from(ChunkRow)
            .where(ChunkRow.document_id == DocumentRow.id).scalar_subquery()
        )
        query = (
            select(DocumentRow.id, DocumentRow.external_id, DocumentRow.content_hash, chunk_counts)
            .where(DocumentRow.collection_id == info.id, DocumentRow.id > after_id)
            .order_by(DocumentRow.id).limit(limit)
        )
        if id_prefix:
            query = query.where(DocumentRow.external_id.startswith(id_prefix, autoescape=True))
        with self._reading() as session:
            rows = session.execute(query).all()
        return [(row[0], DocumentSummary(row[1], row[2], row[3])) for row in rows]

    # -- search ------------------------------------------------------------------------

    def matching_ids(
        self, info: CollectionInfo, conditions: Sequence[Condition], level: Level
    ) -> np.ndarray:
        """Ids of the documents (or of their chunks) whose metadata satisfies every condition."""
        documents = _matching_documents(info, conditions)
        if level == "chunk":
            query = select(ChunkRow.id).where(ChunkRow.document_id.in_(documents))
        else:
            query = documents
        with self._reading() as session:
            return np.fromiter(session.scalars(query), dtype=np.int64)

    def lexical_chunks(
        self, info: CollectionInfo, terms: Sequence[str], k: int,
        conditions: Sequence[Condition] = (),
    ) -> list[tuple[int, float]]:
        """The ``k`` chunks that best match any of ``terms`` in the lexical index, best first,
        with their scores (higher is better), filtered in the same query."""
        if not terms:
            return []
        documents = _matching_documents(info, conditions) if conditions else None
        with self._reading() as session:
            query: Sequence[str] | WeightedQuery | None = terms
            if self.dialect != "sqlite":  # BM25 weights come from the collection's statistics
                query = self._bm25.weigh(session, info.id, terms)
            if query is None:
                return []
            ranked = lexical.ranked_chunks(query, info.id, k, documents)
            return [(int(row[0]), float(row[1])) for row in session.execute(ranked)]

    def chunk_hits(self, ranked: Sequence[tuple[int, float]]) -> list[Hit]:
        """Hits for ranked (chunk id, score) pairs, in rank order; ids deleted meanwhile are
        skipped."""
        if not ranked:
            return []
        with self._reading() as session:
            rows = session.execute(
                select(ChunkRow, DocumentRow.external_id, DocumentRow.metadata_)
                .options(defer(ChunkRow.vector))
                .join(DocumentRow, ChunkRow.document_id == DocumentRow.id)
                .where(ChunkRow.id.in_([chunk_id for chunk_id, _ in ranked]))
            ).all()
        by_id = {row[0].id: row for row in rows}
        return [
            Hit(by_id[chunk_id][1], score, _stored_chunk(by_id[chunk_id][0]),
                by_id[chunk_id][2] or {})
            for chunk_id, score in ranked if chunk_id in by_id
        ]

    def document_row_ids(self, info: CollectionInfo, document_ids: Sequence[str]) -> set[int]:
        """Row ids of these documents of the collection (for candidates found by name)."""
        if not document_ids:
            return set()
        with self._reading() as session:
            return set(session.scalars(select(DocumentRow.id).where(
                DocumentRow.collection_id == info.id,
                DocumentRow.external_id.in_(list(document_ids)),
            )))

    def documents_of_chunks(self, chunk_ids: Sequence[int]) -> set[int]:
        if not chunk_ids:
            return set()
        with self._reading() as session:
            return set(session.scalars(
                select(ChunkRow.document_id).where(ChunkRow.id.in_(list(chunk_ids)))
            ))

    def document_chunks(
        self, document_ids: Sequence[int], dimensions: int
    ) -> list[tuple[str, dict[str, Any], list[StoredChunk], np.ndarray]]:
        """For each document: its id, metadata, chunks in order and their vectors (rows)."""
        if not document_ids:
            return []
        with self._reading() as session:
            rows = session.execute(
                select(ChunkRow, DocumentRow.external_id, DocumentRow.metadata_)
                .join(DocumentRow, ChunkRow.document_id == DocumentRow.id)
                .where(ChunkRow.document_id.in_(list(document_ids)))
                .order_by(ChunkRow.document_id, ChunkRow.ordinal)
            ).all()
        grouped: dict[int, list] = defaultdict(list)
        for row in rows:
            grouped[row[0].document_id].append(row)
        return [
            (group[0][1], group[0][2] or {}, [_stored_chunk(r[0]) for r in group],
             vectors_of([r[0].vector for r in group], dimensions))
            for group in grouped.values()
        ]

    # -- what a vector index is repaired from ------------------------------------------

    def ids(self, info: CollectionInfo, level: Level) -> np.ndarray:
        if level == "chunk":
            query = select(ChunkRow.id).where(ChunkRow.collection_id == info.id)
        else:
            query = select(DocumentRow.id).where(
                DocumentRow.collection_id == info.id, DocumentRow.vector.is_not(None)
            )
        with self._reading() as session:
            return np.fromiter(session.scalars(query), dtype=np.int64)

    def vectors(
        self, info: CollectionInfo, level: Level, ids: np.ndarray | None = None
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """(ids, vectors) in batches: of the given ids, or of the whole collection."""
        table = ChunkRow if level == "chunk" else DocumentRow
        wanted = self.ids(info, level) if ids is None else np.asarray(ids, dtype=np.int64)
        for start in range(0, len(wanted), _VECTOR_BATCH):
            batch = wanted[start : start + _VECTOR_BATCH].tolist()
            with self._reading() as session:
                rows = session.execute(
                    select(table.id, table.vector).where(
                        table.id.in_(batch), table.vector.is_not(None)
                    )
                ).all()
            yield (np.array([row[0] for row in rows], dtype=np.int64),
                   vectors_of([row[1] for row in rows], info.dimensions))

    def mirror_of(self, info: CollectionInfo, document_ids: Sequence[int]) -> IndexChanges:
        """What an index adds to hold these documents and their chunks as SQL has them now
        (for a backend that repairs a stale copy document by document)."""
        changes = _ChangeLog()
        for start in range(0, len(document_ids), _VECTOR_BATCH):
            batch = [int(i) for i in document_ids[start : start + _VECTOR_BATCH]]
            with self._reading() as session:
                documents = session.scalars(select(DocumentRow).where(
                    DocumentRow.collection_id == info.id, DocumentRow.id.in_(batch),
                    DocumentRow.vector.is_not(None),
                )).all()
                chunks = session.scalars(
                    select(ChunkRow).where(ChunkRow.document_id.in_(batch))
                ).all()
            changes.documents += [(row, vectors_of([row.vector], info.dimensions)[0])
                                  for row in documents]
            changes.chunks_added += [(row, vectors_of([row.vector], info.dimensions)[0])
                                     for row in chunks]
        changes.generation = self.generation(info.id) or 0
        built = changes.build(info.dimensions)
        built.documents_removed = np.zeros(0, dtype=np.int64)
        return built


class _ChangeLog:
    """Collects what a write transaction changes, for the vector index."""

    def __init__(self) -> None:
        self.chunks_removed: list[int] = []
        self.chunks_added: list[tuple[ChunkRow, np.ndarray]] = []
        self.documents: list[tuple[DocumentRow, np.ndarray]] = []
        self.generation = 0

    def build(self, dimensions: int) -> IndexChanges:
        empty = np.zeros((0, dimensions), dtype=np.float32)
        added = self.chunks_added
        return IndexChanges(
            chunks_removed=np.array(self.chunks_removed, dtype=np.int64),
            chunk_ids=np.array([row.id for row, _ in added], dtype=np.int64),
            chunk_vectors=np.stack([v for _, v in added]).astype(np.float32) if added else empty,
            chunk_documents=np.array([row.document_id for row, _ in added], dtype=np.int64),
            # A replaced document keeps its id and gets a new vector: remove, then add.
            documents_removed=np.array([row.id for row, _ in self.documents], dtype=np.int64),
            document_ids=np.array([row.id for row, _ in self.documents], dtype=np.int64),
            document_vectors=np.stack([v for _, v in self.documents]).astype(np.float32)
            if self.documents else empty,
            document_metadata={row.id: row.metadata_ or {} for row, _ in self.documents},
            document_hashes={row.id: row.content_hash for row, _ in self.documents},
            generation=self.generation,
        )


def _lock_collection(session: Session, info: CollectionInfo) -> None:
    """Re-check the collection inside the write (it may have been deleted since it was read),
    and hold its row so that writers on other connections take turns."""
    found = session.scalar(
        select(CollectionRow.id).where(CollectionRow.id == info.id).with_for_update()
    )
    if found is None:
        raise NotFound(f"collection {info.name!r} was deleted")


def _bump_generation(session: Session, info: CollectionInfo) -> int:
    session.execute(
        update(CollectionRow).where(CollectionRow.id == info.id)
        .values(generation=CollectionRow.generation + 1)
    )
    return int(session.scalar(
        select(CollectionRow.generation).where(CollectionRow.id == info.id)
    ))


def _write_document(
    session: Session, info: CollectionInfo, prepared: PreparedDocument, changes: _ChangeLog
) -> UpsertResult:
    doc = prepared.document
    row = session.scalar(
        select(DocumentRow).where(
            DocumentRow.collection_id == info.id, DocumentRow.external_id == doc.id
        )
    )
    created = row is None
    if created:
        row = DocumentRow(collection_id=info.id, external_id=doc.id)
        session.add(row)
    row.text, row.language, row.metadata_ = doc.text, doc.language, doc.metadata
    row.content_hash = doc.content_hash
    row.vector = vector_bytes(prepared.vector)
    session.flush()
    old: dict[str, list[ChunkRow]] = defaultdict(list)
    if not created:
        for old_row in session.scalars(
            select(ChunkRow).options(defer(ChunkRow.vector)).where(ChunkRow.document_id == row.id)
        ):
            old[old_row.content_hash].append(old_row)
    embedded = reused = tokens = 0
    for item in prepared.chunks:
        chunk = item.chunk
        kept = old[chunk.content_hash].pop() if old[chunk.content_hash] else None
        if kept is not None:
            _place(kept, chunk)
            reused += 1
            continue
        new_row = ChunkRow(
            collection_id=info.id, document_id=row.id, content_hash=chunk.content_hash,
            vector=vector_bytes(item.vector),
        )
        _place(new_row, chunk)
        session.add(new_row)
        changes.chunks_added.append((new_row, item.vector))
        if item.embedded:
            embedded += 1
            tokens += chunk.token_count
        else:
            reused += 1
    changes.documents.append((row, prepared.vector))
    stale_rows = [stale for rows in old.values() for stale in rows]
    for stale in stale_rows:
        changes.chunks_removed.append(stale.id)
        session.delete(stale)
    session.execute(delete(MetadataEntry).where(MetadataEntry.document_id == row.id))
    session.add_all(
        MetadataEntry(document_id=row.id, key=key, value_json=value.json,
                      value_number=value.number, value_text=value.text)
        for key, value in filterable_entries(doc.metadata).items()
    )
    return UpsertResult(
        doc.id, created, len(prepared.chunks), embedded, reused, len(stale_rows), tokens
    )


def _place(row: ChunkRow, chunk: Chunk) -> None:
    """Copy a chunk's position and content fields onto its row (the vector stays)."""
    row.ordinal, row.text = chunk.ordinal, chunk.text
    row.start_char, row.end_char = chunk.start_char, chunk.end_char
    row.start_line, row.end_line = chunk.start_line, chunk.end_line
    row.token_count, row.context = chunk.token_count, chunk.context
    # Generated names can outgrow the columns (PostgreSQL enforces them); keep their start.
    row.symbol, row.kind = chunk.symbol[:MAX_SYMBOL_CHARS], chunk.kind[:MAX_KIND_CHARS]
    row.terms = chunk_terms(row.symbol, chunk.context, chunk.text)


def _matching_documents(info: CollectionInfo, conditions: Sequence[Condition]) -> Select:
    """The ids of the collection's documents that satisfy every condition."""
    documents = select(DocumentRow.id).where(DocumentRow.collection_id == info.id)
    for condition in conditions:
        documents = documents.where(_holds(condition))
    return documents


def _holds(condition: Condition) -> ColumnElement[bool]:
    """One condition as a predicate on DocumentRow.id (see embedsvc.filters for the meaning)."""
    entries = select(MetadataEntry.document_id).where(MetadataEntry.key == condition.key)
    op, value = condition.op, condition.value
    if op in ("equals", "not_equals"):
        entries = entries.where(MetadataEntry.value_json == canonical_json(value))
    elif op in ("in", "not_in"):
        entries = entries.where(MetadataEntry.value_json.in_([canonical_json(v) for v in value]))
    elif op == "prefix":
        entries = entries.where(func.substr(MetadataEntry.value_text, 1, len(value)) == value)
    elif op == "range":
        bounds = value.bounds()
        numeric = not any(isinstance(bound, str) for bound in bounds.values())
        column = MetadataEntry.value_number if numeric else MetadataEntry.value_text
        for name, bound in bounds.items():
            entries = entries.where(_COMPARISONS[name](column, bound))
    if op in ("not_equals", "not_in") or (op == "exists" and not value):
        return DocumentRow.id.not_in(entries)
    return DocumentRow.id.in_(entries)


_COMPARISONS = {
    "gt": operator.gt, "gte": operator.ge, "lt": operator.lt, "lte": operator.le,
}


def _stored_chunk(row: ChunkRow) -> StoredChunk:
    return StoredChunk(
        ordinal=row.ordinal, text=row.text, start_char=row.start_char, end_char=row.end_char,
        start_line=row.start_line, end_line=row.end_line, token_count=row.token_count,
        context=row.context, symbol=row.symbol, kind=row.kind, id=row.id,
    )


def _collections(with_counts: bool) -> Select:
    """Collection rows, with their document and chunk counts as correlated subqueries."""
    if not with_counts:
        return select(CollectionRow)
    documents = (
        select(func.count()).select_from(DocumentRow)
        .where(DocumentRow.collection_id == CollectionRow.id).scalar_subquery()
    )
    chunks = (
        select(func.count()).select_from(ChunkRow)
        .where(ChunkRow.collection_id == CollectionRow.id).scalar_subquery()
    )
    return select(CollectionRow, documents, chunks)


def _info(row: CollectionRow, documents: int = 0, chunks: int = 0) -> CollectionInfo:
    """Stored settings as plain data; collections from before profiles ran fp32 at full size."""
    profile = (
        EncoderProfile.from_dict(row.profile) if row.profile
        else EncoderProfile(dimensions=row.dimensions, precision="fp32")
    )
    return CollectionInfo(
        name=row.name, model=row.model, model_fingerprint=row.model_fingerprint,
        dimensions=row.dimensions, metric=row.metric, max_chunk_tokens=row.max_chunk_tokens,
        profile=profile, chunking=row.chunking or "auto", query_prompt=row.query_prompt or "",
        document_prompt=row.document_prompt or "", index=row.index_type or "flat",
        index_params=dict(row.index_params or {}), document_count=documents or 0,
        chunk_count=chunks or 0, id=row.id,
    )
