from google.protobuf import struct_pb2 as _struct_pb2
from embedsvc.v1 import types_pb2 as _types_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Level(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    LEVEL_UNSPECIFIED: _ClassVar[Level]
    LEVEL_CHUNK: _ClassVar[Level]
    LEVEL_DOCUMENT: _ClassVar[Level]

class Mode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    MODE_UNSPECIFIED: _ClassVar[Mode]
    MODE_DENSE: _ClassVar[Mode]
    MODE_LEXICAL: _ClassVar[Mode]
    MODE_HYBRID: _ClassVar[Mode]
LEVEL_UNSPECIFIED: Level
LEVEL_CHUNK: Level
LEVEL_DOCUMENT: Level
MODE_UNSPECIFIED: Mode
MODE_DENSE: Mode
MODE_LEXICAL: Mode
MODE_HYBRID: Mode

class SearchRequest(_message.Message):
    __slots__ = ("collection", "query", "k", "filter", "level", "query_profile", "mode", "funnel_dims", "query_vector")
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    QUERY_FIELD_NUMBER: _ClassVar[int]
    K_FIELD_NUMBER: _ClassVar[int]
    FILTER_FIELD_NUMBER: _ClassVar[int]
    LEVEL_FIELD_NUMBER: _ClassVar[int]
    QUERY_PROFILE_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    FUNNEL_DIMS_FIELD_NUMBER: _ClassVar[int]
    QUERY_VECTOR_FIELD_NUMBER: _ClassVar[int]
    collection: str
    query: str
    k: int
    filter: _types_pb2.Filter
    level: Level
    query_profile: _types_pb2.EncoderProfile
    mode: Mode
    funnel_dims: int
    query_vector: _containers.RepeatedScalarFieldContainer[float]
    def __init__(self, collection: _Optional[str] = ..., query: _Optional[str] = ..., k: _Optional[int] = ..., filter: _Optional[_Union[_types_pb2.Filter, _Mapping]] = ..., level: _Optional[_Union[Level, str]] = ..., query_profile: _Optional[_Union[_types_pb2.EncoderProfile, _Mapping]] = ..., mode: _Optional[_Union[Mode, str]] = ..., funnel_dims: _Optional[int] = ..., query_vector: _Optional[_Iterable[float]] = ...) -> None: ...

class Hit(_message.Message):
    __slots__ = ("document_id", "score", "chunk", "metadata", "evidence")
    DOCUMENT_ID_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    EVIDENCE_FIELD_NUMBER: _ClassVar[int]
    document_id: str
    score: float
    chunk: _types_pb2.Chunk
    metadata: _struct_pb2.Struct
    evidence: _containers.RepeatedCompositeFieldContainer[_types_pb2.Chunk]
    def __init__(self, document_id: _Optional[str] = ..., score: _Optional[float] = ..., chunk: _Optional[_Union[_types_pb2.Chunk, _Mapping]] = ..., metadata: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., evidence: _Optional[_Iterable[_Union[_types_pb2.Chunk, _Mapping]]] = ...) -> None: ...

class SearchResponse(_message.Message):
    __slots__ = ("hits",)
    HITS_FIELD_NUMBER: _ClassVar[int]
    hits: _containers.RepeatedCompositeFieldContainer[Hit]
    def __init__(self, hits: _Optional[_Iterable[_Union[Hit, _Mapping]]] = ...) -> None: ...
