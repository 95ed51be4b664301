"""The domain types every layer speaks: no ORM, no protobuf, no model runtime.

The services, the repository, the vector indexes, the gRPC servicers and the client all pass
these around, so what a caller gets in-process (`Core`) and over the wire (`Client`) is the same.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any, Generic, Literal, TypeVar, get_args

import numpy as np

from embedsvc.errors import InvalidArgument
from embedsvc.filters import Condition as Condition  # filters are domain types too
from embedsvc.filters import Range as Range
from embedsvc.filters import Where as Where
from embedsvc.filters import conditions_of as conditions_of
from embedsvc.metadata import canonical

Metric = Literal["cosine", "l2"]
METRICS: tuple[Metric, ...] = get_args(Metric)
# A search level, and the vector space that serves it: chunk vectors or document vectors.
Level = Literal["chunk", "document"]
LEVELS: tuple[Level, ...] = get_args(Level)
# How candidates are found: by vector, by the lexical index, or both fused.
Mode = Literal["dense", "lexical", "hybrid"]
MODES: tuple[Mode, ...] = get_args(Mode)
Precision = Literal["fp32", "bf16", "int8"]
PRECISIONS: tuple[Precision, ...] = get_args(Precision)
# How a collection's documents become chunks: code by language/extension else prose (auto),
# always prose (text), always code (code), or the whole document as one chunk (none).
ChunkingPolicy = Literal["auto", "text", "code", "none"]
CHUNKING_POLICIES: tuple[ChunkingPolicy, ...] = get_args(ChunkingPolicy)
# How a collection's vectors are searched: exact, or approximately by a graph or by clusters.
IndexType = Literal["flat", "hnsw", "ivf"]
INDEX_TYPES: tuple[IndexType, ...] = get_args(IndexType)
# The parameters each index type takes (see Settings for their meaning and defaults).
INDEX_PARAMS: dict[str, tuple[str, ...]] = {
    "flat": (),
    "hnsw": ("m", "ef_construction", "ef_search"),
    "ivf": ("nlist", "nprobe", "train_size"),
}
MAX_TEMPSCALE = 2.0
ProfileOverrides = Mapping[str, Any]


def choice(name: str, value: str, allowed: Sequence[str]) -> str:
    """``value`` if it is one of ``allowed``, else INVALID_ARGUMENT naming the valid ones."""
    if value not in allowed:
        raise InvalidArgument(f"{name} must be one of {', '.join(allowed)}, got {value!r}", name)
    return value


# -- encoder profiles -------------------------------------------------------------------------


@dataclass(frozen=True)
class EncoderProfile:
    """How to run a model: a 2D Matryoshka slice (layers, dims), a TempScale temperature and a
    precision. ``None`` means the model's full depth or width; tempscale 1 is off."""

    layers: int | None = None
    dimensions: int | None = None
    tempscale: float = 1.0
    precision: str = "fp32"

    def validate(self, model_layers: int, model_dims: int) -> None:
        """Refuse values the model cannot serve, saying what the valid range is."""
        _check_range("layers", self.layers, model_layers, "the model's depth")
        _check_range("dimensions", self.dimensions, model_dims, "the model's width")
        tau = self.tempscale
        if (
            isinstance(tau, bool)
            or not isinstance(tau, int | float)
            or not math.isfinite(tau)
            or not 0 < tau <= MAX_TEMPSCALE
        ):
            raise InvalidArgument(
                f"tempscale must be a number in (0, {MAX_TEMPSCALE:g}] (1 = off, below 1 sharpens "
                f"attention for long texts), got {tau!r}", "tempscale",
            )
        choice("precision", self.precision, PRECISIONS)

    def resolved(self, model_layers: int, model_dims: int) -> EncoderProfile:
        """The same profile with ``None`` replaced by the model's values, so equal means equal."""
        self.validate(model_layers, model_dims)
        return replace(
            self,
            layers=model_layers if self.layers is None else self.layers,
            dimensions=model_dims if self.dimensions is None else self.dimensions,
            tempscale=float(self.tempscale),
        )

    def key(self) -> str:
        """Stable cache key such as ``L6-D384-T1.0-fp32``; resolve first for a canonical one."""
        layers = "*" if self.layers is None else self.layers
        dims = "*" if self.dimensions is None else self.dimensions
        return f"L{layers}-D{dims}-T{float(self.tempscale)!r}-{self.precision}"

    def query_compatible(self, collection: EncoderProfile, model_dims: int) -> bool:
        """Whether vectors of this (query) profile can be searched against ``collection``'s.

        Vectors live in one space only at the same width; depth, tempscale and precision change
        the vectors a little but not the space, so a query may trade them for speed. The model
        itself is checked by the caller (its fingerprint is stored with the collection).
        """
        return (self.dimensions or model_dims) == (collection.dimensions or model_dims)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> EncoderProfile:
        """Read a stored profile; unknown keys are an error rather than silently dropped."""
        unknown = set(data) - {item.name for item in fields(cls)}
        if unknown:
            raise InvalidArgument(f"unknown encoder profile fields: {', '.join(sorted(unknown))}")
        return cls(**data)


def _check_range(name: str, value: int | None, limit: int, what: str) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= limit:
        raise InvalidArgument(
            f"{name} must be between 1 and {limit} ({what}), got {value!r}", name
        )


# -- models and limits ------------------------------------------------------------------------


@dataclass(frozen=True)
class ModelInfo:
    """A served model. ``path`` is only known on the server."""

    name: str
    fingerprint: str
    max_tokens: int
    dimensions: int
    layers: int
    default_profile: EncoderProfile
    query_prompt: str = ""
    document_prompt: str = ""
    path: str = ""
    # The runtime serving full-depth profiles: "openvino" or "torch".
    backend: str = ""


@dataclass(frozen=True)
class ModelEntry:
    """A model a server can serve, loaded or not yet (models load on first use)."""

    name: str
    fingerprint: str
    loaded: bool
    is_default: bool


@dataclass(frozen=True)
class Limits:
    max_batch_texts: int
    max_text_chars: int
    max_documents_per_upsert: int
    max_k: int
    max_request_bytes: int


@dataclass(frozen=True)
class ServerInfo:
    """What `Info` answers: one model described in full, every model listed, the limits."""

    model: ModelInfo
    models: list[ModelEntry]
    limits: Limits
    version: str


@dataclass(frozen=True)
class Token:
    """One token of a text: ``text == source[start_char:end_char]`` for ordinary tokens; a
    special token (``[CLS]``) carries its own string and an empty span at 0."""

    id: int
    text: str
    special: bool
    start_char: int
    end_char: int


@dataclass(frozen=True)
class Embedded:
    vectors: np.ndarray
    token_counts: list[int]
    truncated: list[bool]
    model: str = ""


# -- chunks and documents ---------------------------------------------------------------------


def content_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Chunk:
    """One embeddable piece of a document, mapped back to its exact place in the source.

    ``text`` is exactly ``source[start_char:end_char]`` (Python string indices); lines are
    1-based and ``end_line`` is the line of the chunk's last character. ``context``
    (headings, enclosing scope) is kept apart from ``text`` but embedded with it.
    """

    ordinal: int
    text: str
    start_char: int
    end_char: int
    start_line: int
    end_line: int
    token_count: int
    context: str = ""
    symbol: str = ""
    kind: str = ""

    @property
    def embed_input(self) -> str:
        """What the encoder sees (after the collection's document prompt): context, then text."""
        return f"{self.context}\n{self.text}" if self.context else self.text

    @property
    def content_hash(self) -> str:
        """Hash of the embedded input: equal hashes mean a stored vector can be reused.

        This is the one definition of what a chunk hash covers, for every writer and reader.
        """
        return content_hash(self.embed_input)


@dataclass(frozen=True)
class StoredChunk(Chunk):
    """A chunk as stored: its row id (stable for the chunk's life, never reused)."""

    id: int = 0

    @classmethod
    def of(cls, chunk: Chunk, chunk_id: int) -> StoredChunk:
        values = {item.name: getattr(chunk, item.name) for item in fields(Chunk)}
        return cls(**values, id=chunk_id)


@dataclass(frozen=True)
class DocumentInput:
    id: str
    text: str
    language: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def content_hash(self) -> str:
        """Covers everything that shapes the stored document, so equal hashes mean no-op.

        Metadata is canonicalized first: over gRPC every number arrives as a double.
        """
        payload = json.dumps([self.text, self.language, canonical(self.metadata)], sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()


@dataclass(frozen=True)
class PreparedChunk:
    """A chunk with its vector; ``embedded`` is False when the vector was a stored one."""

    chunk: Chunk
    vector: np.ndarray
    embedded: bool = True


@dataclass(frozen=True)
class PreparedDocument:
    """A document chunked and embedded, ready to commit (here, or sent from a worker).

    ``vector`` is the document vector that finds it at document level (from its chunks').
    """

    document: DocumentInput
    chunks: list[PreparedChunk]
    vector: np.ndarray


@dataclass(frozen=True)
class StoredDocument:
    document: DocumentInput
    content_hash: str
    chunks: list[StoredChunk]


@dataclass(frozen=True)
class DocumentSummary:
    """What a client needs to decide whether a document changed: compare content hashes."""

    id: str
    content_hash: str
    chunk_count: int


@dataclass(frozen=True)
class UpsertResult:
    id: str
    created: bool
    chunks: int
    embedded: int
    reused: int
    deleted: int
    tokens_embedded: int


@dataclass(frozen=True)
class DeleteResult:
    deleted: list[str]
    not_found: list[str]
    chunks_deleted: int


# -- collections ------------------------------------------------------------------------------


@dataclass(frozen=True)
class CollectionInfo:
    """A collection's settings, fixed at creation; counts are filled where asked for.

    ``id`` is the store's own key (0 outside the server).
    """

    name: str
    model: str
    model_fingerprint: str
    dimensions: int
    metric: str
    max_chunk_tokens: int
    profile: EncoderProfile
    chunking: str = "auto"
    query_prompt: str = ""
    document_prompt: str = ""
    index: str = "flat"
    index_params: Mapping[str, int] = field(default_factory=dict)
    document_count: int = 0
    chunk_count: int = 0
    id: int = 0


# -- search -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Hit:
    """A chunk hit; at document level, the document's best chunk and its top chunks as evidence."""

    document_id: str
    score: float
    chunk: StoredChunk
    metadata: dict[str, Any]
    evidence: list[StoredChunk] = field(default_factory=list)


@dataclass(frozen=True)
class ChunkResult:
    chunks: list[Chunk]
    language: str  # the code language the chunker used; "" for prose


T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    next_page_token: str = ""


# -- backups --------------------------------------------------------------------------------


@dataclass(frozen=True)
class CollectionSnapshot:
    name: str
    generation: int  # the SQL generation its saved vector index reflects
    documents: int
    chunks: int


@dataclass(frozen=True)
class Backup:
    directory: str
    collections: list[CollectionSnapshot]
    database: str  # "sqlite" (copied into the backup) or "postgresql" (see note)
    note: str = ""


# -- what a committed write changes in the vector index ---------------------------------------


def _no_ids() -> np.ndarray:
    return np.zeros(0, dtype=np.int64)


@dataclass
class IndexChanges:
    """One committed write to a collection, as the vector index must mirror it.

    Vectors are float32 rows beside their int64 ids. ``chunk_documents`` gives each added
    chunk's document id and ``document_metadata`` the added documents' metadata, for backends
    that filter on scalar fields of their own, ``document_hashes`` their content hashes (to tell
    a stale copy). ``generation`` is the collection's generation after the write.
    """

    chunks_removed: np.ndarray = field(default_factory=_no_ids)
    chunk_ids: np.ndarray = field(default_factory=_no_ids)
    chunk_vectors: np.ndarray | None = None
    chunk_documents: np.ndarray = field(default_factory=_no_ids)
    documents_removed: np.ndarray = field(default_factory=_no_ids)
    document_ids: np.ndarray = field(default_factory=_no_ids)
    document_vectors: np.ndarray | None = None
    document_metadata: dict[int, dict[str, Any]] = field(default_factory=dict)
    document_hashes: dict[int, str] = field(default_factory=dict)
    generation: int = 0
