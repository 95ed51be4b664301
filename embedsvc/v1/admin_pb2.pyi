from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class BackupRequest(_message.Message):
    __slots__ = ("directory",)
    DIRECTORY_FIELD_NUMBER: _ClassVar[int]
    directory: str
    def __init__(self, directory: _Optional[str] = ...) -> None: ...

class CollectionSnapshot(_message.Message):
    __slots__ = ("name", "generation", "documents", "chunks")
    NAME_FIELD_NUMBER: _ClassVar[int]
    GENERATION_FIELD_NUMBER: _ClassVar[int]
    DOCUMENTS_FIELD_NUMBER: _ClassVar[int]
    CHUNKS_FIELD_NUMBER: _ClassVar[int]
    name: str
    generation: int
    documents: int
    chunks: int
    def __init__(self, name: _Optional[str] = ..., generation: _Optional[int] = ..., documents: _Optional[int] = ..., chunks: _Optional[int] = ...) -> None: ...

class BackupResponse(_message.Message):
    __slots__ = ("directory", "collections", "database", "note")
    DIRECTORY_FIELD_NUMBER: _ClassVar[int]
    COLLECTIONS_FIELD_NUMBER: _ClassVar[int]
    DATABASE_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    directory: str
    collections: _containers.RepeatedCompositeFieldContainer[CollectionSnapshot]
    database: str
    note: str
    def __init__(self, directory: _Optional[str] = ..., collections: _Optional[_Iterable[_Union[CollectionSnapshot, _Mapping]]] = ..., database: _Optional[str] = ..., note: _Optional[str] = ...) -> None: ...
