"""Protobuf <-> domain types, both ways, for the servicers and the client. Nothing here decides
anything: validation belongs to the services."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from google.protobuf import json_format, struct_pb2

from embedsvc.errors import InvalidArgument
from embedsvc.filters import RANGE_BOUNDS
from embedsvc.types import (
    Backup,
    Chunk,
    ChunkResult,
    CollectionInfo,
    CollectionSnapshot,
    Condition,
    DeleteResult,
    DocumentInput,
    DocumentSummary,
    Embedded,
    EncoderProfile,
    Hit,
    Limits,
    ModelEntry,
    ModelInfo,
    PreparedChunk,
    PreparedDocument,
    Range,
    ServerInfo,
    StoredChunk,
    StoredDocument,
    Token,
    UpsertResult,
)
from embedsvc.v1 import (
    admin_pb2,
    chunking_pb2,
    embedding_pb2,
    index_pb2,
    search_pb2,
    types_pb2,
)

METRIC_NAMES = {
    index_pb2.METRIC_UNSPECIFIED: "cosine",
    index_pb2.METRIC_COSINE: "cosine",
    index_pb2.METRIC_L2: "l2",
}
METRIC_ENUMS = {"cosine": index_pb2.METRIC_COSINE, "l2": index_pb2.METRIC_L2}
LEVEL_NAMES = {
    search_pb2.LEVEL_UNSPECIFIED: "chunk",
    search_pb2.LEVEL_CHUNK: "chunk",
    search_pb2.LEVEL_DOCUMENT: "document",
}
LEVEL_ENUMS = {"chunk": search_pb2.LEVEL_CHUNK, "document": search_pb2.LEVEL_DOCUMENT}
MODE_NAMES = {
    search_pb2.MODE_UNSPECIFIED: "",
    search_pb2.MODE_DENSE: "dense",
    search_pb2.MODE_LEXICAL: "lexical",
    search_pb2.MODE_HYBRID: "hybrid",
}
MODE_ENUMS = {name: enum for enum, name in MODE_NAMES.items()}
OVERFLOW_ENUMS = {
    "truncate": embedding_pb2.OVERFLOW_POLICY_TRUNCATE,
    "error": embedding_pb2.OVERFLOW_POLICY_ERROR,
}


# -- structs ----------------------------------------------------------------------------------


def struct_to_dict(struct: struct_pb2.Struct) -> dict[str, Any]:
    """A Struct as plain Python, NaN and Infinity kept (the services refuse them by name)."""
    return {key: value_to_python(value) for key, value in struct.fields.items()}


def value_to_python(value: struct_pb2.Value) -> Any:
    kind = value.WhichOneof("kind")
    if kind == "struct_value":
        return struct_to_dict(value.struct_value)
    if kind == "list_value":
        return [value_to_python(item) for item in value.list_value.values]
    if kind in (None, "null_value"):
        return None
    return getattr(value, kind)


def dict_to_struct(data: Mapping[str, Any] | None) -> struct_pb2.Struct:
    struct = struct_pb2.Struct()
    struct.update(dict(data or {}))
    return struct


# -- profiles ---------------------------------------------------------------------------------


def profile_overrides(message: types_pb2.EncoderProfile) -> dict[str, Any]:
    """The fields a client set; zero and empty mean inherit."""
    overrides: dict[str, Any] = {}
    if message.layers:
        overrides["layers"] = message.layers
    if message.dimensions:
        overrides["dimensions"] = message.dimensions
    if message.tempscale:
        overrides["tempscale"] = message.tempscale
    if message.precision:
        overrides["precision"] = message.precision
    return overrides


def overrides_out(overrides: Mapping[str, Any] | None) -> types_pb2.EncoderProfile:
    """An EncoderProfile message from a dict such as {"layers": 3, "precision": "fp32"}."""
    return types_pb2.EncoderProfile(**dict(overrides or {}))


def profile_out(profile: EncoderProfile) -> types_pb2.EncoderProfile:
    return types_pb2.EncoderProfile(
        layers=profile.layers or 0, dimensions=profile.dimensions or 0,
        tempscale=profile.tempscale, precision=profile.precision,
    )


def profile_in(message: types_pb2.EncoderProfile) -> EncoderProfile:
    return EncoderProfile(
        layers=message.layers or None, dimensions=message.dimensions or None,
        tempscale=message.tempscale or 1.0, precision=message.precision or "fp32",
    )


# -- documents and chunks ---------------------------------------------------------------------


def document_in(message: types_pb2.Document) -> DocumentInput:
    return DocumentInput(
        id=message.id, text=message.text, language=message.language,
        metadata=struct_to_dict(message.metadata),
    )


def document_out(document: DocumentInput) -> types_pb2.Document:
    return types_pb2.Document(
        id=document.id, text=document.text, language=document.language,
        metadata=dict_to_struct(document.metadata),
    )


def chunk_out(chunk: Chunk) -> types_pb2.Chunk:
    return types_pb2.Chunk(
        id=getattr(chunk, "id", 0), ordinal=chunk.ordinal, text=chunk.text,
        start_char=chunk.start_char, end_char=chunk.end_char, start_line=chunk.start_line,
        end_line=chunk.end_line, token_count=chunk.token_count, content_hash=chunk.content_hash,
        context=chunk.context, symbol=chunk.symbol, kind=chunk.kind,
    )


def chunk_in(message: types_pb2.Chunk) -> StoredChunk:
    return StoredChunk(
        ordinal=message.ordinal, text=message.text, start_char=message.start_char,
        end_char=message.end_char, start_line=message.start_line, end_line=message.end_line,
        token_count=message.token_count, context=message.context, symbol=message.symbol,
        kind=message.kind, id=message.id,
    )


def prepared_in(message: index_pb2.PreparedDocument) -> PreparedDocument:
    """A document with chunks and vectors as sent; its document vector is left empty, for the
    server computes it from the checked chunk vectors (`services.documents.precomputed`)."""
    chunks = [
        PreparedChunk(chunk_in(item.chunk), np.array(item.vector, dtype=np.float32))
        for item in message.chunks
    ]
    return PreparedDocument(document_in(message.document), chunks, np.zeros(0, np.float32))


def prepared_out(prepared: PreparedDocument) -> index_pb2.PreparedDocument:
    return index_pb2.PreparedDocument(
        document=document_out(prepared.document),
        chunks=[
            index_pb2.PreparedChunk(chunk=chunk_out(item.chunk), vector=item.vector.tolist())
            for item in prepared.chunks
        ],
    )


def stored_document_out(stored: StoredDocument) -> index_pb2.GetDocumentResponse:
    return index_pb2.GetDocumentResponse(
        document=document_out(stored.document), chunks=[chunk_out(c) for c in stored.chunks],
        content_hash=stored.content_hash,
    )


def stored_document_in(message: index_pb2.GetDocumentResponse) -> StoredDocument:
    return StoredDocument(
        document_in(message.document), message.content_hash,
        [chunk_in(c) for c in message.chunks],
    )


def summary_out(summary: DocumentSummary) -> index_pb2.DocumentSummary:
    return index_pb2.DocumentSummary(
        id=summary.id, content_hash=summary.content_hash, chunk_count=summary.chunk_count
    )


def summary_in(message: index_pb2.DocumentSummary) -> DocumentSummary:
    return DocumentSummary(message.id, message.content_hash, message.chunk_count)


def result_out(result: UpsertResult) -> index_pb2.DocumentResult:
    return index_pb2.DocumentResult(
        id=result.id, created=result.created, chunks=result.chunks,
        chunks_embedded=result.embedded, chunks_reused=result.reused,
        chunks_deleted=result.deleted, tokens_embedded=result.tokens_embedded,
    )


def result_in(message: index_pb2.DocumentResult) -> UpsertResult:
    return UpsertResult(
        message.id, message.created, message.chunks, message.chunks_embedded,
        message.chunks_reused, message.chunks_deleted, message.tokens_embedded,
    )


def deleted_out(result: DeleteResult) -> index_pb2.DeleteDocumentsResponse:
    return index_pb2.DeleteDocumentsResponse(
        deleted=result.deleted, not_found=result.not_found, chunks_deleted=result.chunks_deleted
    )


def deleted_in(message: index_pb2.DeleteDocumentsResponse) -> DeleteResult:
    return DeleteResult(list(message.deleted), list(message.not_found), message.chunks_deleted)


# -- collections ------------------------------------------------------------------------------


def collection_out(info: CollectionInfo) -> index_pb2.Collection:
    return index_pb2.Collection(
        name=info.name, model=info.model, model_fingerprint=info.model_fingerprint,
        dimensions=info.dimensions, metric=METRIC_ENUMS[info.metric],
        max_chunk_tokens=info.max_chunk_tokens, document_count=info.document_count,
        chunk_count=info.chunk_count, profile=profile_out(info.profile), chunking=info.chunking,
        query_prompt=info.query_prompt, document_prompt=info.document_prompt,
        index=info.index, index_params=dict(info.index_params),
    )


def collection_in(message: index_pb2.Collection) -> CollectionInfo:
    return CollectionInfo(
        name=message.name, model=message.model, model_fingerprint=message.model_fingerprint,
        dimensions=message.dimensions, metric=METRIC_NAMES.get(message.metric, "cosine"),
        max_chunk_tokens=message.max_chunk_tokens, profile=profile_in(message.profile),
        chunking=message.chunking or "auto", query_prompt=message.query_prompt,
        document_prompt=message.document_prompt, index=message.index or "flat",
        index_params=dict(message.index_params), document_count=message.document_count,
        chunk_count=message.chunk_count,
    )


# -- search -----------------------------------------------------------------------------------


# Wire field of each operator: `in` is a Python keyword, hence `is_in` on the wire.
_OP_FIELDS = {"equals": "equals", "not_equals": "not_equals", "in": "is_in", "not_in": "not_in",
              "range": "range", "prefix": "prefix", "exists": "exists"}
_FIELD_OPS = {wire: op for op, wire in _OP_FIELDS.items()}


def conditions_in(message: types_pb2.Filter) -> list[Condition]:
    conditions = []
    for position, condition in enumerate(message.conditions):
        field = condition.WhichOneof("op")
        if field is None:
            raise InvalidArgument(
                f"filter on {condition.key!r} has no operator; set one of "
                f"{', '.join(_OP_FIELDS.values())}", f"filter.conditions[{position}]",
            )
        wire = getattr(condition, field)
        if field in ("equals", "not_equals"):
            value: Any = value_to_python(wire)
        elif field in ("is_in", "not_in"):
            value = [value_to_python(item) for item in wire.values]
        elif field == "range":
            value = Range(**{name: value_to_python(getattr(wire, name))
                             for name in RANGE_BOUNDS if wire.HasField(name)})
        else:
            value = wire
        conditions.append(Condition(condition.key, value, _FIELD_OPS[field]))
    return conditions


def conditions_out(conditions: Sequence[Condition]) -> types_pb2.Filter:
    messages = []
    for position, condition in enumerate(conditions):
        try:
            messages.append(_condition_out(condition))
        except (TypeError, ValueError, AttributeError, json_format.ParseError) as error:
            raise InvalidArgument(
                f"filter on {condition.key!r}: its {condition.op} value cannot be sent "
                f"({error}); see embedsvc.filters for what each operator takes",
                f"filter.conditions[{position}]",
            ) from None
    return types_pb2.Filter(conditions=messages)


def _condition_out(condition: Condition) -> types_pb2.Condition:
    message = types_pb2.Condition(key=condition.key)
    op, value = condition.op, condition.value
    if op in ("equals", "not_equals"):
        json_format.ParseDict(value, getattr(message, op))
    elif op in ("in", "not_in"):
        json_format.ParseDict(list(value), getattr(message, _OP_FIELDS[op]))
    elif op == "range":
        for name, bound in value.bounds().items():
            json_format.ParseDict(bound, getattr(message.range, name))
        message.range.SetInParent()
    else:
        setattr(message, op, value)
    return message


def hit_out(hit: Hit) -> search_pb2.Hit:
    return search_pb2.Hit(
        document_id=hit.document_id, score=hit.score, chunk=chunk_out(hit.chunk),
        metadata=dict_to_struct(hit.metadata), evidence=[chunk_out(c) for c in hit.evidence],
    )


def hit_in(message: search_pb2.Hit) -> Hit:
    return Hit(
        message.document_id, message.score, chunk_in(message.chunk),
        struct_to_dict(message.metadata), [chunk_in(c) for c in message.evidence],
    )


def chunked_out(result: ChunkResult) -> chunking_pb2.ChunkResponse:
    return chunking_pb2.ChunkResponse(
        chunks=[chunk_out(chunk) for chunk in result.chunks], language=result.language
    )


def chunked_in(message: chunking_pb2.ChunkResponse) -> ChunkResult:
    return ChunkResult([chunk_in(chunk) for chunk in message.chunks], message.language)


# -- embedding and info -----------------------------------------------------------------------


def embedded_out(result: Embedded) -> embedding_pb2.EmbedResponse:
    return embedding_pb2.EmbedResponse(
        embeddings=[
            embedding_pb2.Embedding(values=vector, token_count=count, truncated=cut)
            for vector, count, cut in zip(
                result.vectors.tolist(), result.token_counts, result.truncated, strict=True
            )
        ],
        model=result.model, dimensions=result.vectors.shape[1],
    )


def embedded_in(message: embedding_pb2.EmbedResponse) -> Embedded:
    vectors = np.array([list(e.values) for e in message.embeddings], dtype=np.float32)
    return Embedded(
        vectors.reshape(len(message.embeddings), message.dimensions),
        [e.token_count for e in message.embeddings], [e.truncated for e in message.embeddings],
        message.model,
    )


def tokenized_out(tokenized: Sequence[Sequence[Token]], model: str
                  ) -> embedding_pb2.TokenizeResponse:
    return embedding_pb2.TokenizeResponse(
        texts=[
            embedding_pb2.TokenList(tokens=[
                embedding_pb2.Token(id=t.id, text=t.text, special=t.special,
                                    start_char=t.start_char, end_char=t.end_char)
                for t in tokens
            ])
            for tokens in tokenized
        ],
        model=model,
    )


def tokenized_in(message: embedding_pb2.TokenizeResponse) -> list[list[Token]]:
    return [
        [Token(t.id, t.text, t.special, t.start_char, t.end_char) for t in tokens.tokens]
        for tokens in message.texts
    ]


def info_out(info: ServerInfo) -> embedding_pb2.InfoResponse:
    model, limits = info.model, info.limits
    return embedding_pb2.InfoResponse(
        model=model.name, model_fingerprint=model.fingerprint, max_tokens=model.max_tokens,
        dimensions=model.dimensions, layers=model.layers, version=info.version,
        default_profile=profile_out(model.default_profile),
        query_prompt=model.query_prompt, document_prompt=model.document_prompt,
        backend=model.backend,
        limits=embedding_pb2.Limits(
            max_batch_texts=limits.max_batch_texts, max_text_chars=limits.max_text_chars,
            max_documents_per_upsert=limits.max_documents_per_upsert, max_k=limits.max_k,
            max_request_bytes=limits.max_request_bytes,
        ),
        models=[
            embedding_pb2.ModelEntry(
                name=m.name, fingerprint=m.fingerprint, loaded=m.loaded, is_default=m.is_default
            )
            for m in info.models
        ],
    )


def backup_out(backup: Backup) -> admin_pb2.BackupResponse:
    return admin_pb2.BackupResponse(
        directory=backup.directory, database=backup.database, note=backup.note,
        collections=[
            admin_pb2.CollectionSnapshot(name=c.name, generation=c.generation,
                                         documents=c.documents, chunks=c.chunks)
            for c in backup.collections
        ],
    )


def backup_in(message: admin_pb2.BackupResponse) -> Backup:
    return Backup(
        message.directory,
        [CollectionSnapshot(c.name, c.generation, c.documents, c.chunks)
         for c in message.collections],
        message.database, message.note,
    )


def info_in(message: embedding_pb2.InfoResponse) -> ServerInfo:
    limits = message.limits
    return ServerInfo(
        model=ModelInfo(
            name=message.model, fingerprint=message.model_fingerprint,
            max_tokens=message.max_tokens, dimensions=message.dimensions, layers=message.layers,
            default_profile=profile_in(message.default_profile),
            query_prompt=message.query_prompt, document_prompt=message.document_prompt,
            backend=message.backend,
        ),
        models=[ModelEntry(m.name, m.fingerprint, m.loaded, m.is_default) for m in message.models],
        limits=Limits(
            limits.max_batch_texts, limits.max_text_chars, limits.max_documents_per_upsert,
            limits.max_k, limits.max_request_bytes,
        ),
        version=message.version,
    )
