"""The Milvus vector index: a chunk and a document collection in Milvus per embedsvc collection.

SQL stays the source of truth. A committed write is applied by id (upserts and deletes, so
applying it twice is harmless), then the collection's generation is recorded in a state
collection. A write that finds the recorded generation is not the one before its own (a crash,
or another server's crash, between a commit and its Milvus write) repairs the collection from
SQL instead, as `sync` does on start: chunk ids are diffed, and documents whose content hash
Milvus holds differs from SQL's are written again with their chunks.

Filters are pushed down as expressions on each row's ``filters`` JSON field
(`milvus_filters`), so a filtered HNSW search still returns k hits whenever k rows match.
Milvus Lite (no URI) runs in this process under the data dir; a Milvus server is shared.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from pymilvus import DataType, MilvusClient, MilvusException
from pymilvus.client.types import LoadState

from embedsvc.config import Settings
from embedsvc.errors import InvalidArgument, NotFound, Unavailable
from embedsvc.paging import MAX_PAGE_SIZE
from embedsvc.ports import Repository
from embedsvc.storage import milvus_local
from embedsvc.storage.milvus_filters import (
    FILTERS_FIELD,
    expression,
    filter_fields,
    ids_expression,
)
from embedsvc.types import CollectionInfo, Condition, IndexChanges, Level

# pymilvus pings every 10 s even on an idle channel. A gRPC server on gRPC's default keepalive
# policy (Milvus Lite's) allows one ping per 5 minutes without calls and answers early ones with
# GOAWAY "too_many_pings" (seen within 100 s of idling); a recovery under load can then fail.
# Ping only while calls are in flight, at the rate such servers accept.
KEEPALIVE = {"grpc.keepalive_time_ms": 300_000, "grpc.keepalive_permit_without_calls": 0}

log = logging.getLogger(__name__)

# index type -> (build params, search params) used when the settings give none
INDEX_DEFAULTS: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "HNSW": ({"M": 16, "efConstruction": 200}, {"ef": 128}),
    "HNSW_SQ": ({"M": 16, "efConstruction": 200}, {"ef": 128}),
    "IVF_FLAT": ({"nlist": 128}, {"nprobe": 16}),
    "IVF_SQ8": ({"nlist": 128}, {"nprobe": 16}),
    "FLAT": ({}, {}),
}
METRICS = {"cosine": "COSINE", "l2": "L2"}
SPACES: dict[str, str] = {"chunk": "chunks", "document": "documents"}
_BATCH = 1000
_HASH_CHARS = 64


class MilvusVectorIndex:
    """`VectorIndex` on Milvus collections ``PREFIX_<id>_chunks`` and ``PREFIX_<id>_documents``."""

    backup_note = (
        "the vectors in Milvus are not in this backup: a store restored from it rebuilds "
        "them from SQL when it starts (back up a Milvus cluster with its own tools to "
        "skip that)"
    )

    def __init__(self, settings: Settings, repository: Repository) -> None:
        self.repository = repository
        self.prefix = settings.milvus_prefix
        self.index_type = settings.milvus_index_type.upper()
        if self.index_type not in INDEX_DEFAULTS:
            raise InvalidArgument(
                f"milvus_index_type {settings.milvus_index_type!r} is not supported; use one of "
                f"{', '.join(INDEX_DEFAULTS)}", "milvus_index_type",
            )
        build, search = INDEX_DEFAULTS[self.index_type]
        self.build_params = dict(settings.milvus_index_params or build)
        self.search_params = dict(settings.milvus_search_params or search)
        self._lite: Path | None = None
        self._touched: set[str] = set()  # collections written since the last flush
        self._lock = threading.Lock()
        uri = settings.milvus_uri
        if not uri:
            settings.data_dir.mkdir(parents=True, exist_ok=True)
            self._lite = settings.data_dir / "milvus.db"
            uri = milvus_local.acquire(self._lite)
        try:
            self.client = MilvusClient(uri=uri, token=settings.milvus_token,
                                       grpc_options=KEEPALIVE)
            self._state = f"{self.prefix}_state"
            self._create_state()
        except MilvusException as error:
            self._release_lite()
            raise Unavailable(f"Milvus at {uri} cannot be used: {error}") from None
        self._names = re.compile(rf"{re.escape(self.prefix)}_(\d+)_(chunks|documents)")

    @staticmethod
    def shared_by_processes(settings: Settings) -> bool:
        """A Milvus server (a URI, not a Lite file) can serve several embedsvc servers."""
        return bool(settings.milvus_uri) and not settings.milvus_uri.endswith(".db")

    # -- VectorIndex -------------------------------------------------------------------

    def sync(self, info: CollectionInfo) -> None:
        """Create the collection's spaces if missing, and repair them unless Milvus already
        reflects SQL's generation."""
        current = self.repository.generation(info.id)
        if current is None:
            raise NotFound(f"collection {info.name!r} was deleted")
        created = self._create_spaces(info)
        if created or self._applied(info) != current:
            self._repair(info, current)

    def apply(self, info: CollectionInfo, changes: IndexChanges) -> None:
        self._check_exists(info)
        applied = self._applied(info)
        if applied != changes.generation - 1:
            log.warning("collection %s: Milvus reflects generation %s, not %d; repairing from "
                        "SQL", info.name, applied, changes.generation - 1)
            self._repair(info, changes.generation)
            return
        self._delete(info, "chunk", changes.chunks_removed)
        self._delete(info, "document",
                     np.setdiff1d(changes.documents_removed, changes.document_ids))
        self._write(info, changes)
        self._mark(info, changes.generation)

    def search(
        self, info: CollectionInfo, query: np.ndarray, k: int, level: Level = "chunk",
        conditions: Sequence[Condition] = (), funnel_dims: int = 0,
    ) -> list[tuple[int, float]]:
        """``funnel_dims`` is accepted and ignored: the HNSW/IVF index already makes the
        shortlist, and Milvus re-scores it at full width."""
        where = expression(conditions)
        if where is None:  # an operator not pushed down: filter by the ids SQL finds
            allowed = self.repository.matching_ids(info, conditions, level)
            if len(allowed) == 0:
                return []
            where = ids_expression(allowed)
        params = dict(self.search_params)
        if "ef" in params:
            params["ef"] = max(int(params["ef"]), k)
        try:
            found = self.client.search(
                self._name(info, level), data=[np.asarray(query, dtype=np.float32).tolist()],
                limit=k, filter=where, output_fields=["id"],
                search_params={"metric_type": METRICS[info.metric], "params": params},
            )
        except MilvusException:
            self._check_exists(info)
            raise
        sign = 1.0 if info.metric == "cosine" else -1.0  # L2 distances are squared
        return [(int(hit["id"]), sign * float(hit["distance"])) for hit in found[0]]

    def ids(self, info: CollectionInfo, level: Level = "chunk") -> np.ndarray:
        self._check_exists(info)
        ids = [row["id"] for row in self._rows(self._name(info, level), ["id"])]
        return np.array(ids, dtype=np.int64)

    def count(self, info: CollectionInfo, level: Level = "chunk") -> int:
        self._check_exists(info)
        rows = self.client.query(self._name(info, level), filter="", output_fields=["count(*)"])
        return int(rows[0]["count(*)"])

    def export(self, info: CollectionInfo, directory: Path) -> int:
        """Nothing to copy: Milvus is backed up with its own tools, or rebuilt from SQL on
        start (a restored store's generations differ). Returns the generation Milvus holds."""
        return self._applied(info) or 0

    def retain(self, collections: Sequence[CollectionInfo]) -> None:
        """Drop the spaces of collections SQL no longer has (a crash in a delete). SQL is read
        after Milvus, so a collection another server is creating right now is kept."""
        held = [name for name in self.client.list_collections() if self._names.fullmatch(name)]
        keep = {info.id for info in collections}
        keep |= {info.id for info in self.repository.list_collections()}
        for name in held:
            collection_id = int(self._names.fullmatch(name).group(1))
            if collection_id not in keep:
                log.warning("dropping Milvus collection %s of a deleted collection", name)
                self.client.drop_collection(name)
                self.client.delete(self._state, ids=[collection_id])

    def drop(self, info: CollectionInfo) -> None:
        for level in SPACES:
            self.client.drop_collection(self._name(info, level))
        self.client.delete(self._state, ids=[info.id])

    def rebuild(self, info: CollectionInfo) -> int:
        self.drop(info)
        self.sync(info)
        return self.count(info)

    def flush(self) -> None:
        """Seal what was written since the last flush into indexed segments. Milvus persists
        each write by itself (Lite: in its write-ahead log), but Milvus Lite searches unsealed
        rows one by one in Python, so the server's flush loop keeps them few."""
        with self._lock:
            touched, self._touched = self._touched, set()
        for name in touched:
            if self.client.has_collection(name):
                self.client.flush(name)

    def close(self) -> None:
        try:
            self.client.close()
        finally:
            self._release_lite()

    # -- writing -----------------------------------------------------------------------

    def _write(self, info: CollectionInfo, changes: IndexChanges) -> None:
        """Upsert the changes' rows: chunks first, then documents (whose hash says the
        document is complete), and chunks kept from an older version get the new filters."""
        filters = {int(d): filter_fields(m) for d, m in changes.document_metadata.items()}
        self._refilter_kept_chunks(info, changes, filters)
        vectors = changes.chunk_vectors if changes.chunk_vectors is not None else []
        self._upsert(info, "chunk", [
            {"id": int(i), "vector": v.tolist(), "document": int(d),
             FILTERS_FIELD: filters.get(int(d), {})}
            for i, v, d in zip(changes.chunk_ids, vectors, changes.chunk_documents, strict=True)
        ])
        vectors = changes.document_vectors if changes.document_vectors is not None else []
        self._upsert(info, "document", [
            {"id": int(i), "vector": v.tolist(), FILTERS_FIELD: filters.get(int(i), {}),
             "content_hash": changes.document_hashes.get(int(i), "")}
            for i, v in zip(changes.document_ids, vectors, strict=True)
        ])

    def _refilter_kept_chunks(
        self, info: CollectionInfo, changes: IndexChanges, filters: dict[int, dict[str, str]]
    ) -> None:
        """A replaced document keeps the rows of its unchanged chunks; if its metadata changed,
        Milvus's copies of those rows must filter by the new metadata."""
        documents = [int(i) for i in changes.document_ids]
        if not documents:
            return
        held = self.client.get(self._name(info, "document"), ids=documents,
                               output_fields=["id", FILTERS_FIELD])
        changed = [int(row["id"]) for row in held
                   if row[FILTERS_FIELD] != filters.get(int(row["id"]), {})]
        if not changed:
            return
        added = set(changes.chunk_ids.tolist())
        where = f"document in [{', '.join(map(str, changed))}]"
        kept = [row for row in self._rows(self._name(info, "chunk"), ["id", "vector", "document"],
                                          where) if int(row["id"]) not in added]
        self._upsert(info, "chunk", [
            {"id": int(row["id"]), "vector": list(row["vector"]), "document": int(row["document"]),
             FILTERS_FIELD: filters.get(int(row["document"]), {})} for row in kept
        ])

    def _repair(self, info: CollectionInfo, generation: int) -> None:
        """Make Milvus hold what SQL holds, then record ``generation``."""
        sql_chunks = self.repository.ids(info, "chunk")
        held_chunks = self.ids(info, "chunk")
        extra = np.setdiff1d(held_chunks, sql_chunks)
        missing = np.setdiff1d(sql_chunks, held_chunks)
        with_vectors = set(self.repository.ids(info, "document").tolist())
        sql_hashes = {i: h for i, h in self._sql_hashes(info) if i in with_vectors}
        held_hashes = {int(row["id"]): row["content_hash"] for row in
                       self._rows(self._name(info, "document"), ["id", "content_hash"])}
        gone = [i for i in held_hashes if i not in sql_hashes]
        stale = {i for i, h in sql_hashes.items() if held_hashes.get(i) != h}
        stale |= self.repository.documents_of_chunks(missing.tolist())
        self._delete(info, "chunk", extra)
        self._delete(info, "document", np.array(gone, dtype=np.int64))
        if stale:
            self._write(info, self.repository.mirror_of(info, sorted(stale)))
        self._mark(info, generation)
        if len(extra) or len(missing) or gone or stale:
            log.warning("collection %s: Milvus repaired from SQL (%d stale chunks, %d missing; "
                        "%d documents rewritten, %d removed)", info.name, len(extra),
                        len(missing), len(stale), len(gone))

    def _sql_hashes(self, info: CollectionInfo) -> Iterator[tuple[int, str]]:
        after, size = 0, MAX_PAGE_SIZE
        while True:
            rows = self.repository.list_documents(info, after, size)
            yield from ((row_id, summary.content_hash) for row_id, summary in rows)
            if len(rows) < size:
                return
            after = rows[-1][0]

    def _upsert(self, info: CollectionInfo, level: Level, rows: list[dict[str, Any]]) -> None:
        self._touch(info, level)
        for start in range(0, len(rows), _BATCH):
            self.client.upsert(self._name(info, level), rows[start : start + _BATCH])

    def _touch(self, info: CollectionInfo, level: Level) -> None:
        with self._lock:
            self._touched.add(self._name(info, level))

    def _delete(self, info: CollectionInfo, level: Level, ids: np.ndarray) -> None:
        self._touch(info, level)
        for start in range(0, len(ids), _BATCH):
            batch = [int(i) for i in ids[start : start + _BATCH]]
            self.client.delete(self._name(info, level), ids=batch)

    def _rows(
        self, name: str, fields: list[str], where: str = ""
    ) -> Iterator[dict[str, Any]]:
        iterator = self.client.query_iterator(name, batch_size=_BATCH, filter=where,
                                              output_fields=fields)
        try:
            while batch := iterator.next():
                yield from batch
        finally:
            iterator.close()

    # -- collections and the state they reflect ----------------------------------------

    def _name(self, info: CollectionInfo, level: Level) -> str:
        return f"{self.prefix}_{info.id}_{SPACES[level]}"

    def _check_exists(self, info: CollectionInfo) -> None:
        if not self.client.has_collection(self._name(info, "chunk")):
            raise NotFound(f"collection {info.name!r} was deleted")

    def _create_spaces(self, info: CollectionInfo) -> bool:
        """Create what is missing (or of another shape: a reused id); True if anything was."""
        created = False
        for level in SPACES:
            name = self._name(info, level)
            if self.client.has_collection(name):
                if self._shape(name) == (info.dimensions, METRICS[info.metric]):
                    self._load(name)
                    continue
                log.warning("Milvus collection %s has another shape; recreating it", name)
                self.client.drop_collection(name)
            self._create_space(info, level)
            created = True
        return created

    def _shape(self, name: str) -> tuple[int, str]:
        fields = self.client.describe_collection(name)["fields"]
        dimensions = next(int(f["params"]["dim"]) for f in fields if f["name"] == "vector")
        return dimensions, self.client.describe_index(name, "vector")["metric_type"]

    def _create_space(self, info: CollectionInfo, level: Level) -> None:
        schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("id", DataType.INT64, is_primary=True)
        schema.add_field("vector", DataType.FLOAT_VECTOR, dim=info.dimensions)
        schema.add_field(FILTERS_FIELD, DataType.JSON)
        if level == "chunk":
            schema.add_field("document", DataType.INT64)
        else:
            schema.add_field("content_hash", DataType.VARCHAR, max_length=_HASH_CHARS)
        index = self.client.prepare_index_params()
        index.add_index(field_name="vector", index_type=self.index_type,
                        metric_type=METRICS[info.metric], params=self.build_params)
        self._create(self._name(info, level), schema, index)

    def _create_state(self) -> None:
        schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("id", DataType.INT64, is_primary=True)
        schema.add_field("generation", DataType.INT64)
        schema.add_field("vector", DataType.FLOAT_VECTOR, dim=2)  # Milvus needs one
        index = self.client.prepare_index_params()
        index.add_index(field_name="vector", index_type="FLAT", metric_type="L2")
        self._create(self._state, schema, index)

    def _create(self, name: str, schema: Any, index: Any) -> None:
        """Create ``name`` unless it exists (another server may be creating it too)."""
        if self.client.has_collection(name):
            self._load(name)
            return
        try:
            self.client.create_collection(name, schema=schema, consistency_level="Strong")
            # pymilvus would poll a new index every 0.5 s; an empty collection's is ready.
            self.client.create_index(name, index, sync=False)
            self.client.load_collection(name)
        except MilvusException:
            if not self.client.has_collection(name):
                raise

    def _load(self, name: str) -> None:
        """Milvus serves a collection once loaded (Milvus Lite reopens them released)."""
        if self.client.get_load_state(name)["state"] != LoadState.Loaded:
            self.client.load_collection(name)

    def _applied(self, info: CollectionInfo) -> int | None:
        rows = self.client.get(self._state, ids=[info.id], output_fields=["generation"])
        return int(rows[0]["generation"]) if rows else None

    def _mark(self, info: CollectionInfo, generation: int) -> None:
        self.client.upsert(self._state,
                           [{"id": info.id, "generation": generation, "vector": [1.0, 0.0]}])

    def _release_lite(self) -> None:
        if self._lite is not None:
            milvus_local.release(self._lite)
            self._lite = None
