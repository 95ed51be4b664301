"""Protobuf <-> core types. Nothing here decides anything."""

from __future__ import annotations

from typing import Any

from google.protobuf import json_format, struct_pb2

from embedsvc.chunking.types import Chunk
from embedsvc.encoding.profile import EncoderProfile
from embedsvc.errors import InvalidArgument
from embedsvc.indexing import DocumentInput
from embedsvc.retrieval import Condition
from embedsvc.storage.store import CollectionInfo
from embedsvc.v1 import index_pb2, types_pb2

METRIC_NAMES = {
    index_pb2.METRIC_UNSPECIFIED: "cosine",
    index_pb2.METRIC_COSINE: "cosine",
    index_pb2.METRIC_L2: "l2",
}
METRIC_ENUMS = {"cosine": index_pb2.METRIC_COSINE, "l2": index_pb2.METRIC_L2}


def struct_to_dict(struct: struct_pb2.Struct) -> dict[str, Any]:
    return json_format.MessageToDict(struct)


def dict_to_struct(data: dict[str, Any]) -> struct_pb2.Struct:
    struct = struct_pb2.Struct()
    struct.update(data)
    return struct


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


def chunk_out(chunk_id: int, content_hash: str, chunk: Chunk) -> types_pb2.Chunk:
    return types_pb2.Chunk(
        id=chunk_id, ordinal=chunk.ordinal, text=chunk.text, start_char=chunk.start_char,
        end_char=chunk.end_char, start_line=chunk.start_line, end_line=chunk.end_line,
        token_count=chunk.token_count, content_hash=content_hash, context=chunk.context,
        symbol=chunk.symbol, kind=chunk.kind,
    )


def collection_out(info: CollectionInfo) -> index_pb2.Collection:
    return index_pb2.Collection(
        name=info.name, model=info.model, model_fingerprint=info.model_fingerprint,
        dimensions=info.dimensions, metric=METRIC_ENUMS[info.metric],
        max_chunk_tokens=info.max_chunk_tokens, document_count=info.document_count,
        chunk_count=info.chunk_count, profile=profile_out(info.profile),
    )


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


def profile_out(profile: EncoderProfile) -> types_pb2.EncoderProfile:
    return types_pb2.EncoderProfile(
        layers=profile.layers or 0, dimensions=profile.dimensions or 0,
        tempscale=profile.tempscale, precision=profile.precision,
    )


def conditions_in(message: types_pb2.Filter) -> list[Condition]:
    conditions = []
    for condition in message.conditions:
        if condition.WhichOneof("op") != "equals":
            raise InvalidArgument(f"filter on {condition.key!r} has no operator; set equals")
        conditions.append(Condition(condition.key, json_format.MessageToDict(condition.equals)))
    return conditions
