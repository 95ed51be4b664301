"""The two ways the indexer reaches a store: the core on a data dir, or a server over gRPC.

Both expose the same small interface and return plain dicts, so every command behaves the
same in embedded and remote mode.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

from google.protobuf import json_format

from embedsvc.indexing import DocumentInput


class Backend(Protocol):
    def ensure_collection(self, name: str, options: dict[str, Any]) -> bool: ...
    def summaries(self, collection: str, prefix: str) -> dict[str, str]: ...
    def upsert(self, collection: str, documents: Sequence[DocumentInput]) -> list[dict]: ...
    def delete(self, collection: str, ids: Sequence[str]) -> tuple[list[str], int]: ...
    def search(self, collection: str, query: str, k: int, level: str,
               where: dict[str, Any]) -> list[dict]: ...
    def collections(self) -> list[dict]: ...
    def stats(self, collection: str) -> dict: ...
    def close(self) -> None: ...


def _collection_dict(collection: Any) -> dict[str, Any]:
    metric = getattr(collection, "metric", "")
    return {
        "name": collection.name, "model": collection.model, "dimensions": collection.dimensions,
        "metric": metric if isinstance(metric, str) else ("l2" if metric == 2 else "cosine"),
        "max_chunk_tokens": collection.max_chunk_tokens,
        "documents": collection.document_count, "chunks": collection.chunk_count,
    }


def _hit_dict(document_id: str, score: float, chunk: Any, metadata: dict) -> dict[str, Any]:
    return {
        "document_id": document_id, "score": round(float(score), 6),
        "start_line": chunk.start_line, "end_line": chunk.end_line,
        "start_char": chunk.start_char, "end_char": chunk.end_char,
        "symbol": chunk.symbol, "text": chunk.text, "metadata": metadata,
    }


class EmbeddedBackend:
    """Works on a data dir directly; the model loads only if something must be embedded."""

    def __init__(self, data_dir: Path) -> None:
        from embedsvc.config import Settings
        from embedsvc.core import Core

        self.core = Core(Settings(data_dir=data_dir))

    def ensure_collection(self, name: str, options: dict[str, Any]) -> bool:
        from embedsvc.errors import NotFound

        try:
            self.core.get_collection(name)
            return False
        except NotFound:
            self.core.create_collection(name, **options)
            return True

    def summaries(self, collection: str, prefix: str) -> dict[str, str]:
        found, token = {}, ""
        while True:
            page, token = self.core.list_documents(collection, 1000, token, prefix)
            found.update((doc.id, doc.content_hash) for doc in page)
            if not token:
                return found

    def upsert(self, collection: str, documents: Sequence[DocumentInput]) -> list[dict]:
        return [
            {"id": r.id, "created": r.created, "embedded": r.embedded, "reused": r.reused,
             "deleted": r.deleted, "tokens": r.tokens_embedded}
            for r in self.core.upsert(collection, documents)
        ]

    def delete(self, collection: str, ids: Sequence[str]) -> tuple[list[str], int]:
        return self.core.delete_documents(collection, ids)

    def search(
        self, collection: str, query: str, k: int, level: str, where: dict[str, Any]
    ) -> list[dict]:
        from embedsvc.retrieval import Condition

        conditions = [Condition(key, value) for key, value in where.items()]
        hits = self.core.search(collection, query, k, conditions, level=level)
        return [_hit_dict(h.document_id, h.score, h.chunk, h.metadata) for h in hits]

    def collections(self) -> list[dict]:
        names = [info.name for info in self.core.store.list_collections(limit=None)]
        return [_collection_dict(self.core.get_collection(name)) for name in names]

    def stats(self, collection: str) -> dict:
        return _collection_dict(self.core.get_collection(collection))

    def close(self) -> None:
        self.core.close()


class RemoteBackend:
    """Streams the same work to a running server."""

    def __init__(self, target: str, api_key: str = "") -> None:
        from embedsvc.client import Client

        self.client = Client(target, api_key=api_key, timeout=600)
        self.client.health()  # fail fast, with gRPC's UNAVAILABLE, if nobody listens

    def ensure_collection(self, name: str, options: dict[str, Any]) -> bool:
        import grpc

        try:
            self.client.get_collection(name)
            return False
        except grpc.RpcError as error:
            if error.code() != grpc.StatusCode.NOT_FOUND:
                raise
        self.client.create_collection(name, **options)
        return True

    def summaries(self, collection: str, prefix: str) -> dict[str, str]:
        return {
            doc.id: doc.content_hash
            for doc in self.client.document_summaries(collection, 1000, prefix)
        }

    def upsert(self, collection: str, documents: Sequence[DocumentInput]) -> list[dict]:
        response = self.client.upsert(collection, [
            {"id": d.id, "text": d.text, "language": d.language, "metadata": d.metadata}
            for d in documents
        ])
        return [
            {"id": r.id, "created": r.created, "embedded": r.chunks_embedded,
             "reused": r.chunks_reused, "deleted": r.chunks_deleted, "tokens": r.tokens_embedded}
            for r in response.results
        ]

    def delete(self, collection: str, ids: Sequence[str]) -> tuple[list[str], int]:
        response = self.client.delete_documents(collection, ids)
        return list(response.deleted), response.chunks_deleted

    def search(
        self, collection: str, query: str, k: int, level: str, where: dict[str, Any]
    ) -> list[dict]:
        hits = self.client.search(collection, query, k, where=where, level=level)
        return [
            _hit_dict(h.document_id, h.score, h.chunk, json_format.MessageToDict(h.metadata))
            for h in hits
        ]

    def collections(self) -> list[dict]:
        return [_collection_dict(c) for c in self.client.list_collections()]

    def stats(self, collection: str) -> dict:
        return _collection_dict(self.client.get_collection(collection))

    def close(self) -> None:
        self.client.close()
