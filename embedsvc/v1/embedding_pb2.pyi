from embedsvc.v1 import types_pb2 as _types_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class OverflowPolicy(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    OVERFLOW_POLICY_UNSPECIFIED: _ClassVar[OverflowPolicy]
    OVERFLOW_POLICY_TRUNCATE: _ClassVar[OverflowPolicy]
    OVERFLOW_POLICY_ERROR: _ClassVar[OverflowPolicy]
OVERFLOW_POLICY_UNSPECIFIED: OverflowPolicy
OVERFLOW_POLICY_TRUNCATE: OverflowPolicy
OVERFLOW_POLICY_ERROR: OverflowPolicy

class EmbedRequest(_message.Message):
    __slots__ = ("texts", "normalize", "dimensions", "on_overflow", "profile", "model", "prompt")
    TEXTS_FIELD_NUMBER: _ClassVar[int]
    NORMALIZE_FIELD_NUMBER: _ClassVar[int]
    DIMENSIONS_FIELD_NUMBER: _ClassVar[int]
    ON_OVERFLOW_FIELD_NUMBER: _ClassVar[int]
    PROFILE_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    PROMPT_FIELD_NUMBER: _ClassVar[int]
    texts: _containers.RepeatedScalarFieldContainer[str]
    normalize: bool
    dimensions: int
    on_overflow: OverflowPolicy
    profile: _types_pb2.EncoderProfile
    model: str
    prompt: str
    def __init__(self, texts: _Optional[_Iterable[str]] = ..., normalize: _Optional[bool] = ..., dimensions: _Optional[int] = ..., on_overflow: _Optional[_Union[OverflowPolicy, str]] = ..., profile: _Optional[_Union[_types_pb2.EncoderProfile, _Mapping]] = ..., model: _Optional[str] = ..., prompt: _Optional[str] = ...) -> None: ...

class Embedding(_message.Message):
    __slots__ = ("values", "token_count", "truncated")
    VALUES_FIELD_NUMBER: _ClassVar[int]
    TOKEN_COUNT_FIELD_NUMBER: _ClassVar[int]
    TRUNCATED_FIELD_NUMBER: _ClassVar[int]
    values: _containers.RepeatedScalarFieldContainer[float]
    token_count: int
    truncated: bool
    def __init__(self, values: _Optional[_Iterable[float]] = ..., token_count: _Optional[int] = ..., truncated: _Optional[bool] = ...) -> None: ...

class EmbedResponse(_message.Message):
    __slots__ = ("embeddings", "model", "dimensions")
    EMBEDDINGS_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    DIMENSIONS_FIELD_NUMBER: _ClassVar[int]
    embeddings: _containers.RepeatedCompositeFieldContainer[Embedding]
    model: str
    dimensions: int
    def __init__(self, embeddings: _Optional[_Iterable[_Union[Embedding, _Mapping]]] = ..., model: _Optional[str] = ..., dimensions: _Optional[int] = ...) -> None: ...

class InfoRequest(_message.Message):
    __slots__ = ("model",)
    MODEL_FIELD_NUMBER: _ClassVar[int]
    model: str
    def __init__(self, model: _Optional[str] = ...) -> None: ...

class Limits(_message.Message):
    __slots__ = ("max_batch_texts", "max_text_chars", "max_documents_per_upsert", "max_k", "max_request_bytes")
    MAX_BATCH_TEXTS_FIELD_NUMBER: _ClassVar[int]
    MAX_TEXT_CHARS_FIELD_NUMBER: _ClassVar[int]
    MAX_DOCUMENTS_PER_UPSERT_FIELD_NUMBER: _ClassVar[int]
    MAX_K_FIELD_NUMBER: _ClassVar[int]
    MAX_REQUEST_BYTES_FIELD_NUMBER: _ClassVar[int]
    max_batch_texts: int
    max_text_chars: int
    max_documents_per_upsert: int
    max_k: int
    max_request_bytes: int
    def __init__(self, max_batch_texts: _Optional[int] = ..., max_text_chars: _Optional[int] = ..., max_documents_per_upsert: _Optional[int] = ..., max_k: _Optional[int] = ..., max_request_bytes: _Optional[int] = ...) -> None: ...

class ModelEntry(_message.Message):
    __slots__ = ("name", "fingerprint", "loaded", "is_default")
    NAME_FIELD_NUMBER: _ClassVar[int]
    FINGERPRINT_FIELD_NUMBER: _ClassVar[int]
    LOADED_FIELD_NUMBER: _ClassVar[int]
    IS_DEFAULT_FIELD_NUMBER: _ClassVar[int]
    name: str
    fingerprint: str
    loaded: bool
    is_default: bool
    def __init__(self, name: _Optional[str] = ..., fingerprint: _Optional[str] = ..., loaded: _Optional[bool] = ..., is_default: _Optional[bool] = ...) -> None: ...

class InfoResponse(_message.Message):
    __slots__ = ("model", "model_fingerprint", "max_tokens", "dimensions", "layers", "version", "limits", "default_profile", "models", "query_prompt", "document_prompt", "backend")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    MODEL_FINGERPRINT_FIELD_NUMBER: _ClassVar[int]
    MAX_TOKENS_FIELD_NUMBER: _ClassVar[int]
    DIMENSIONS_FIELD_NUMBER: _ClassVar[int]
    LAYERS_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    LIMITS_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_PROFILE_FIELD_NUMBER: _ClassVar[int]
    MODELS_FIELD_NUMBER: _ClassVar[int]
    QUERY_PROMPT_FIELD_NUMBER: _ClassVar[int]
    DOCUMENT_PROMPT_FIELD_NUMBER: _ClassVar[int]
    BACKEND_FIELD_NUMBER: _ClassVar[int]
    model: str
    model_fingerprint: str
    max_tokens: int
    dimensions: int
    layers: int
    version: str
    limits: Limits
    default_profile: _types_pb2.EncoderProfile
    models: _containers.RepeatedCompositeFieldContainer[ModelEntry]
    query_prompt: str
    document_prompt: str
    backend: str
    def __init__(self, model: _Optional[str] = ..., model_fingerprint: _Optional[str] = ..., max_tokens: _Optional[int] = ..., dimensions: _Optional[int] = ..., layers: _Optional[int] = ..., version: _Optional[str] = ..., limits: _Optional[_Union[Limits, _Mapping]] = ..., default_profile: _Optional[_Union[_types_pb2.EncoderProfile, _Mapping]] = ..., models: _Optional[_Iterable[_Union[ModelEntry, _Mapping]]] = ..., query_prompt: _Optional[str] = ..., document_prompt: _Optional[str] = ..., backend: _Optional[str] = ...) -> None: ...

class TokenizeRequest(_message.Message):
    __slots__ = ("texts", "model", "collection", "add_special_tokens")
    TEXTS_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    ADD_SPECIAL_TOKENS_FIELD_NUMBER: _ClassVar[int]
    texts: _containers.RepeatedScalarFieldContainer[str]
    model: str
    collection: str
    add_special_tokens: bool
    def __init__(self, texts: _Optional[_Iterable[str]] = ..., model: _Optional[str] = ..., collection: _Optional[str] = ..., add_special_tokens: _Optional[bool] = ...) -> None: ...

class Token(_message.Message):
    __slots__ = ("id", "text", "special", "start_char", "end_char")
    ID_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    SPECIAL_FIELD_NUMBER: _ClassVar[int]
    START_CHAR_FIELD_NUMBER: _ClassVar[int]
    END_CHAR_FIELD_NUMBER: _ClassVar[int]
    id: int
    text: str
    special: bool
    start_char: int
    end_char: int
    def __init__(self, id: _Optional[int] = ..., text: _Optional[str] = ..., special: _Optional[bool] = ..., start_char: _Optional[int] = ..., end_char: _Optional[int] = ...) -> None: ...

class TokenList(_message.Message):
    __slots__ = ("tokens",)
    TOKENS_FIELD_NUMBER: _ClassVar[int]
    tokens: _containers.RepeatedCompositeFieldContainer[Token]
    def __init__(self, tokens: _Optional[_Iterable[_Union[Token, _Mapping]]] = ...) -> None: ...

class TokenizeResponse(_message.Message):
    __slots__ = ("texts", "model")
    TEXTS_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    texts: _containers.RepeatedCompositeFieldContainer[TokenList]
    model: str
    def __init__(self, texts: _Optional[_Iterable[_Union[TokenList, _Mapping]]] = ..., model: _Optional[str] = ...) -> None: ...
