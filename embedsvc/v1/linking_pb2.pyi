from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Mention(_message.Message):
    __slots__ = ("text", "context", "start", "end")
    TEXT_FIELD_NUMBER: _ClassVar[int]
    CONTEXT_FIELD_NUMBER: _ClassVar[int]
    START_FIELD_NUMBER: _ClassVar[int]
    END_FIELD_NUMBER: _ClassVar[int]
    text: str
    context: str
    start: int
    end: int
    def __init__(self, text: _Optional[str] = ..., context: _Optional[str] = ..., start: _Optional[int] = ..., end: _Optional[int] = ...) -> None: ...

class LinkEntitiesRequest(_message.Message):
    __slots__ = ("kb", "mentions", "k", "rerank", "threshold", "generators", "no_abbreviation_expansion")
    KB_FIELD_NUMBER: _ClassVar[int]
    MENTIONS_FIELD_NUMBER: _ClassVar[int]
    K_FIELD_NUMBER: _ClassVar[int]
    RERANK_FIELD_NUMBER: _ClassVar[int]
    THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    GENERATORS_FIELD_NUMBER: _ClassVar[int]
    NO_ABBREVIATION_EXPANSION_FIELD_NUMBER: _ClassVar[int]
    kb: str
    mentions: _containers.RepeatedCompositeFieldContainer[Mention]
    k: int
    rerank: bool
    threshold: float
    generators: _containers.RepeatedScalarFieldContainer[str]
    no_abbreviation_expansion: bool
    def __init__(self, kb: _Optional[str] = ..., mentions: _Optional[_Iterable[_Union[Mention, _Mapping]]] = ..., k: _Optional[int] = ..., rerank: _Optional[bool] = ..., threshold: _Optional[float] = ..., generators: _Optional[_Iterable[str]] = ..., no_abbreviation_expansion: _Optional[bool] = ...) -> None: ...

class Candidate(_message.Message):
    __slots__ = ("concept_id", "name", "score", "sources", "alias")
    CONCEPT_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    SOURCES_FIELD_NUMBER: _ClassVar[int]
    ALIAS_FIELD_NUMBER: _ClassVar[int]
    concept_id: str
    name: str
    score: float
    sources: _containers.RepeatedScalarFieldContainer[str]
    alias: str
    def __init__(self, concept_id: _Optional[str] = ..., name: _Optional[str] = ..., score: _Optional[float] = ..., sources: _Optional[_Iterable[str]] = ..., alias: _Optional[str] = ...) -> None: ...

class LinkedMention(_message.Message):
    __slots__ = ("mention", "candidates", "nil", "expansion")
    MENTION_FIELD_NUMBER: _ClassVar[int]
    CANDIDATES_FIELD_NUMBER: _ClassVar[int]
    NIL_FIELD_NUMBER: _ClassVar[int]
    EXPANSION_FIELD_NUMBER: _ClassVar[int]
    mention: str
    candidates: _containers.RepeatedCompositeFieldContainer[Candidate]
    nil: bool
    expansion: str
    def __init__(self, mention: _Optional[str] = ..., candidates: _Optional[_Iterable[_Union[Candidate, _Mapping]]] = ..., nil: _Optional[bool] = ..., expansion: _Optional[str] = ...) -> None: ...

class LinkEntitiesResponse(_message.Message):
    __slots__ = ("results", "kb_version")
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    KB_VERSION_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[LinkedMention]
    kb_version: int
    def __init__(self, results: _Optional[_Iterable[_Union[LinkedMention, _Mapping]]] = ..., kb_version: _Optional[int] = ...) -> None: ...

class LoadKnowledgeBaseRequest(_message.Message):
    __slots__ = ("kb", "format", "content", "model", "filename", "reranker")
    KB_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    FILENAME_FIELD_NUMBER: _ClassVar[int]
    RERANKER_FIELD_NUMBER: _ClassVar[int]
    kb: str
    format: str
    content: str
    model: str
    filename: str
    reranker: str
    def __init__(self, kb: _Optional[str] = ..., format: _Optional[str] = ..., content: _Optional[str] = ..., model: _Optional[str] = ..., filename: _Optional[str] = ..., reranker: _Optional[str] = ...) -> None: ...

class KnowledgeBase(_message.Message):
    __slots__ = ("name", "version", "model", "concepts", "aliases", "format", "collection", "reranker")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    CONCEPTS_FIELD_NUMBER: _ClassVar[int]
    ALIASES_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    RERANKER_FIELD_NUMBER: _ClassVar[int]
    name: str
    version: int
    model: str
    concepts: int
    aliases: int
    format: str
    collection: str
    reranker: str
    def __init__(self, name: _Optional[str] = ..., version: _Optional[int] = ..., model: _Optional[str] = ..., concepts: _Optional[int] = ..., aliases: _Optional[int] = ..., format: _Optional[str] = ..., collection: _Optional[str] = ..., reranker: _Optional[str] = ...) -> None: ...

class ListKnowledgeBasesRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListKnowledgeBasesResponse(_message.Message):
    __slots__ = ("knowledge_bases",)
    KNOWLEDGE_BASES_FIELD_NUMBER: _ClassVar[int]
    knowledge_bases: _containers.RepeatedCompositeFieldContainer[KnowledgeBase]
    def __init__(self, knowledge_bases: _Optional[_Iterable[_Union[KnowledgeBase, _Mapping]]] = ...) -> None: ...
