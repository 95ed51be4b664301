from embedsvc.v1 import types_pb2 as _types_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ChunkRequest(_message.Message):
    __slots__ = ("text", "language", "path", "max_tokens", "overlap_sentences", "model")
    TEXT_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    MAX_TOKENS_FIELD_NUMBER: _ClassVar[int]
    OVERLAP_SENTENCES_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    text: str
    language: str
    path: str
    max_tokens: int
    overlap_sentences: int
    model: str
    def __init__(self, text: _Optional[str] = ..., language: _Optional[str] = ..., path: _Optional[str] = ..., max_tokens: _Optional[int] = ..., overlap_sentences: _Optional[int] = ..., model: _Optional[str] = ...) -> None: ...

class ChunkResponse(_message.Message):
    __slots__ = ("chunks", "language")
    CHUNKS_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    chunks: _containers.RepeatedCompositeFieldContainer[_types_pb2.Chunk]
    language: str
    def __init__(self, chunks: _Optional[_Iterable[_Union[_types_pb2.Chunk, _Mapping]]] = ..., language: _Optional[str] = ...) -> None: ...
