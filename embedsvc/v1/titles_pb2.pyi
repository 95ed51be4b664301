from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class CatalogEntry(_message.Message):
    __slots__ = ("id", "title", "alt_labels", "skills", "description")
    ID_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    ALT_LABELS_FIELD_NUMBER: _ClassVar[int]
    SKILLS_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    id: str
    title: str
    alt_labels: _containers.RepeatedScalarFieldContainer[str]
    skills: _containers.RepeatedScalarFieldContainer[str]
    description: str
    def __init__(self, id: _Optional[str] = ..., title: _Optional[str] = ..., alt_labels: _Optional[_Iterable[str]] = ..., skills: _Optional[_Iterable[str]] = ..., description: _Optional[str] = ...) -> None: ...

class Catalog(_message.Message):
    __slots__ = ("name", "model", "version", "entries", "labels", "collection")
    NAME_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    name: str
    model: str
    version: int
    entries: int
    labels: int
    collection: str
    def __init__(self, name: _Optional[str] = ..., model: _Optional[str] = ..., version: _Optional[int] = ..., entries: _Optional[int] = ..., labels: _Optional[int] = ..., collection: _Optional[str] = ...) -> None: ...

class LoadCatalogRequest(_message.Message):
    __slots__ = ("catalog", "entries", "model")
    CATALOG_FIELD_NUMBER: _ClassVar[int]
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    catalog: str
    entries: _containers.RepeatedCompositeFieldContainer[CatalogEntry]
    model: str
    def __init__(self, catalog: _Optional[str] = ..., entries: _Optional[_Iterable[_Union[CatalogEntry, _Mapping]]] = ..., model: _Optional[str] = ...) -> None: ...

class LoadCatalogResponse(_message.Message):
    __slots__ = ("catalog", "vectors_embedded", "vectors_reused")
    CATALOG_FIELD_NUMBER: _ClassVar[int]
    VECTORS_EMBEDDED_FIELD_NUMBER: _ClassVar[int]
    VECTORS_REUSED_FIELD_NUMBER: _ClassVar[int]
    catalog: Catalog
    vectors_embedded: int
    vectors_reused: int
    def __init__(self, catalog: _Optional[_Union[Catalog, _Mapping]] = ..., vectors_embedded: _Optional[int] = ..., vectors_reused: _Optional[int] = ...) -> None: ...

class ListCatalogsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListCatalogsResponse(_message.Message):
    __slots__ = ("catalogs",)
    CATALOGS_FIELD_NUMBER: _ClassVar[int]
    catalogs: _containers.RepeatedCompositeFieldContainer[Catalog]
    def __init__(self, catalogs: _Optional[_Iterable[_Union[Catalog, _Mapping]]] = ...) -> None: ...

class TitleQuery(_message.Message):
    __slots__ = ("title", "skills", "description")
    TITLE_FIELD_NUMBER: _ClassVar[int]
    SKILLS_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    title: str
    skills: _containers.RepeatedScalarFieldContainer[str]
    description: str
    def __init__(self, title: _Optional[str] = ..., skills: _Optional[_Iterable[str]] = ..., description: _Optional[str] = ...) -> None: ...

class NormalizeTitlesRequest(_message.Message):
    __slots__ = ("catalog", "queries", "k", "no_cleanup", "threshold")
    CATALOG_FIELD_NUMBER: _ClassVar[int]
    QUERIES_FIELD_NUMBER: _ClassVar[int]
    K_FIELD_NUMBER: _ClassVar[int]
    NO_CLEANUP_FIELD_NUMBER: _ClassVar[int]
    THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    catalog: str
    queries: _containers.RepeatedCompositeFieldContainer[TitleQuery]
    k: int
    no_cleanup: bool
    threshold: float
    def __init__(self, catalog: _Optional[str] = ..., queries: _Optional[_Iterable[_Union[TitleQuery, _Mapping]]] = ..., k: _Optional[int] = ..., no_cleanup: _Optional[bool] = ..., threshold: _Optional[float] = ...) -> None: ...

class StringList(_message.Message):
    __slots__ = ("values",)
    VALUES_FIELD_NUMBER: _ClassVar[int]
    values: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, values: _Optional[_Iterable[str]] = ...) -> None: ...

class CleanTitle(_message.Message):
    __slots__ = ("text", "attributes", "steps")
    class AttributesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: StringList
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[StringList, _Mapping]] = ...) -> None: ...
    TEXT_FIELD_NUMBER: _ClassVar[int]
    ATTRIBUTES_FIELD_NUMBER: _ClassVar[int]
    STEPS_FIELD_NUMBER: _ClassVar[int]
    text: str
    attributes: _containers.MessageMap[str, StringList]
    steps: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, text: _Optional[str] = ..., attributes: _Optional[_Mapping[str, StringList]] = ..., steps: _Optional[_Iterable[str]] = ...) -> None: ...

class TitleCandidate(_message.Message):
    __slots__ = ("id", "title", "label", "score", "signals", "lexical", "dense", "evidence")
    ID_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    LABEL_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    SIGNALS_FIELD_NUMBER: _ClassVar[int]
    LEXICAL_FIELD_NUMBER: _ClassVar[int]
    DENSE_FIELD_NUMBER: _ClassVar[int]
    EVIDENCE_FIELD_NUMBER: _ClassVar[int]
    id: str
    title: str
    label: str
    score: float
    signals: _containers.RepeatedScalarFieldContainer[str]
    lexical: float
    dense: float
    evidence: float
    def __init__(self, id: _Optional[str] = ..., title: _Optional[str] = ..., label: _Optional[str] = ..., score: _Optional[float] = ..., signals: _Optional[_Iterable[str]] = ..., lexical: _Optional[float] = ..., dense: _Optional[float] = ..., evidence: _Optional[float] = ...) -> None: ...

class NormalizedTitle(_message.Message):
    __slots__ = ("query", "cleaned", "candidates")
    QUERY_FIELD_NUMBER: _ClassVar[int]
    CLEANED_FIELD_NUMBER: _ClassVar[int]
    CANDIDATES_FIELD_NUMBER: _ClassVar[int]
    query: str
    cleaned: CleanTitle
    candidates: _containers.RepeatedCompositeFieldContainer[TitleCandidate]
    def __init__(self, query: _Optional[str] = ..., cleaned: _Optional[_Union[CleanTitle, _Mapping]] = ..., candidates: _Optional[_Iterable[_Union[TitleCandidate, _Mapping]]] = ...) -> None: ...

class NormalizeTitlesResponse(_message.Message):
    __slots__ = ("results",)
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[NormalizedTitle]
    def __init__(self, results: _Optional[_Iterable[_Union[NormalizedTitle, _Mapping]]] = ...) -> None: ...
