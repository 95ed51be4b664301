"""Search: encode the query like the collection's chunks, find candidates in the vector index
and/or the lexical index (filters applied in both), fuse them, score documents over all their
chunks when asked, hydrate from SQL."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import NamedTuple

import numpy as np

from embedsvc import filters, tracing
from embedsvc.aggregation import DEFAULT_METHOD, Method, document_scores
from embedsvc.config import Settings
from embedsvc.errors import FailedPrecondition, InvalidArgument
from embedsvc.fusion import (
    DEFAULT_FUSION,
    PASSAGE_MIX,
    TOPIC_MIX,
    DocumentMix,
    Fusion,
    reciprocal_rank,
)
from embedsvc.intent import asks_for_passage
from embedsvc.lexical import query_terms
from embedsvc.services.collections import Collections
from embedsvc.storage import Storage
from embedsvc.types import (
    LEVELS,
    MODES,
    CollectionInfo,
    Condition,
    Hit,
    ProfileOverrides,
    Where,
    choice,
    conditions_of,
)

EVIDENCE_CHUNKS = 3
# The mode measuring best over every dev set (bench/retrieval_quality.py, README).
DEFAULT_MODE = "hybrid"
# Candidates each list contributes before fusion or document scoring.
MIN_POOL = 50
# Lexical chunks whose documents join a hybrid document ranking's candidates.
LEXICAL_DOCUMENT_POOL = 200


class Searcher:
    def __init__(self, settings: Settings, collections: Collections, storage: Storage) -> None:
        self.settings = settings
        self.collections = collections
        self.storage = storage

    def search(
        self, collection: str, query: str, k: int = 10, where: Where = None,
        level: str = "chunk", query_profile: ProfileOverrides | None = None,
        is_active: Callable[[], bool] | None = None, deadline: float | None = None,
        mode: str = "", funnel_dims: int = 0, query_vector: np.ndarray | None = None,
    ) -> list[Hit]:
        """Top-k chunks, or top-k documents (k counts documents) when ``level`` is "document".

        ``query_vector`` (embedded elsewhere, of the collection's width) replaces encoding the
        query for the dense side; with it the query text is optional, and without text the
        default mode is dense.

        ``mode`` is dense, lexical or hybrid ("" = DEFAULT_MODE). ``funnel_dims`` (0 = off)
        finds the dense candidates by a Matryoshka funnel: a shortlist by the leading dims,
        re-scored at full width. The query is encoded with the
        collection's profile, or a cheaper query profile of the same width (fewer layers,
        another tempscale or precision), after its query prompt.
        """
        choice("level", level, LEVELS)
        has_text = bool(query.strip())
        if query_vector is not None and not has_text:
            mode = choice("mode", mode or "dense", MODES)
            if mode != "dense":
                raise InvalidArgument(
                    f"{mode} search needs the query text; send query, or use mode dense with "
                    "query_vector alone", "query",
                )
        else:
            mode = choice("mode", mode or DEFAULT_MODE, MODES)
        if not has_text and query_vector is None:
            raise InvalidArgument("query is empty; send query text or a query_vector", "query")
        if len(query) > self.settings.max_query_chars:
            raise InvalidArgument(
                f"query has {len(query)} characters, more than {self.settings.max_query_chars}; "
                "only its first tokens are embedded anyway", "query",
            )
        max_k = self.settings.max_k
        if not 1 <= k <= max_k:
            raise InvalidArgument(f"k must be between 1 and {max_k}, got {k}", "k")
        conditions = conditions_of(where)
        filters.validate(conditions)
        info, encoder = self.collections.open(collection)
        if not 0 <= funnel_dims <= info.dimensions:
            raise InvalidArgument(
                f"funnel_dims must be between 0 (off) and the collection's {info.dimensions} "
                f"dimensions, got {funnel_dims}", "funnel_dims",
            )
        vector = None
        if query_vector is not None:
            vector = _checked_query_vector(query_vector, info, query_profile)
        elif mode != "lexical":
            profile = encoder.profile(info.profile, **(query_profile or {}))
            if not profile.query_compatible(info.profile, info.dimensions):
                raise FailedPrecondition(
                    f"query profile has {profile.dimensions} dimensions but collection "
                    f"{collection!r} stores {info.dimensions}; a query may change layers, "
                    "tempscale and precision, not the width"
                )
            with tracing.span("search.encode"):
                vector = encoder.encode(
                    [query], profile, normalize=info.metric == "cosine", is_active=is_active,
                    deadline=deadline, prompt=info.query_prompt, interactive=True,
                )[0]
        return self.rank(info, query, vector, k, level, mode, conditions,
                         funnel_dims=funnel_dims)

    def rank(
        self, info: CollectionInfo, query: str, vector: np.ndarray | None, k: int,
        level: str = "chunk", mode: str = DEFAULT_MODE, conditions: Sequence[Condition] = (),
        fusion: Fusion = DEFAULT_FUSION, funnel_dims: int = 0,
        mix: DocumentMix | None = None,
    ) -> list[Hit]:
        """The ranking itself, from the query text and its vector (None in lexical mode).
        A hybrid document ranking uses ``mix``, or else the one for what the query asks
        (document_mix)."""
        terms = query_terms(query) if mode != "dense" else []
        if level == "document":
            with tracing.span("search.documents", k=k, mode=mode):
                return self._documents(info, terms, vector, k, mode, conditions, funnel_dims,
                                       mix or document_mix(query))
        with tracing.span("search.candidates", k=k, conditions=len(conditions), mode=mode):
            pool = k if mode != "hybrid" else max(k, MIN_POOL)
            dense = self._dense_chunks(info, vector, pool, mode, conditions, funnel_dims)
            lexical = self._lexical_chunks(info, terms, pool, mode, conditions)
            if mode == "hybrid":
                ranked = reciprocal_rank([i for i, _ in dense], [i for i, _ in lexical], fusion)
            else:
                ranked = dense or lexical
        with tracing.span("search.hydrate", hits=min(k, len(ranked))):
            return self.storage.repository.chunk_hits(ranked[:k])

    def _dense_chunks(
        self, info: CollectionInfo, vector: np.ndarray | None, pool: int, mode: str,
        conditions: Sequence[Condition], funnel_dims: int = 0,
    ) -> list[tuple[int, float]]:
        if mode == "lexical":
            return []
        return self.storage.vectors.search(info, vector, pool, "chunk", conditions, funnel_dims)

    def _lexical_chunks(
        self, info: CollectionInfo, terms: list[str], pool: int, mode: str,
        conditions: Sequence[Condition],
    ) -> list[tuple[int, float]]:
        if mode == "dense":
            return []
        return self.storage.repository.lexical_chunks(info, terms, pool, conditions)

    def _documents(
        self, info: CollectionInfo, terms: list[str], vector: np.ndarray | None, k: int,
        mode: str, conditions: Sequence[Condition], funnel_dims: int = 0,
        mix: DocumentMix = PASSAGE_MIX,
    ) -> list[Hit]:
        """Documents by their vectors and chunks (dense), by their best lexical chunks
        (lexical), or both mixed by score over the candidates of both (hybrid)."""
        if mode == "lexical":
            return self._lexical_documents(info, terms, k, conditions)[:k]
        lexical = self.lexical_evidence(info, terms, conditions) if mode == "hybrid" else None
        return self._dense_documents(info, vector, k, conditions, funnel_dims, lexical, mix)

    def _dense_documents(
        self, info: CollectionInfo, query: np.ndarray, k: int, conditions: Sequence[Condition],
        funnel_dims: int = 0, lexical: dict[str, LexicalEvidence] | None = None,
        mix: DocumentMix = PASSAGE_MIX,
    ) -> list[Hit]:
        """Candidates from the document vectors and from the best chunks (and, with
        ``lexical`` evidence by document id, those documents too), each scored over all of its
        chunks: DEFAULT_METHOD alone, or with lexical evidence the hybrid ``mix``. A long
        document is found by its best passage, by its whole and by its words."""
        vectors, repository = self.storage.vectors, self.storage.repository
        pool = max(4 * k, MIN_POOL)
        by_document = vectors.search(info, query, pool, "document", conditions, funnel_dims)
        by_chunk = vectors.search(info, query, pool, "chunk", conditions, funnel_dims)
        candidates = {doc_id for doc_id, _ in by_document}
        candidates |= repository.documents_of_chunks([chunk_id for chunk_id, _ in by_chunk])
        if lexical:
            candidates |= repository.document_row_ids(info, list(lexical))
        documents = repository.document_chunks(sorted(candidates), info.dimensions)
        if not documents:
            return []
        unit_query = query / max(float(np.linalg.norm(query)), 1e-12)
        matrices = [_unit_rows(matrix) for *_, matrix in documents]
        if lexical is None:
            scores = document_scores(unit_query, matrices, DEFAULT_METHOD)
        else:
            dense = Method("max_mean_first", {"alpha": mix.alpha, "first": mix.first})
            best = max((evidence.best for evidence in lexical.values()), default=0.0)
            found = [lexical.get(document_id, _NO_WORDS) for document_id, *_ in documents]
            words = np.array([(e.best, e.first) for e in found], dtype=np.float32).reshape(-1, 2)
            words = words / best if best > 0 else np.zeros_like(words)
            scores = (document_scores(unit_query, matrices, dense)
                      + mix.lexical * words[:, 0] + mix.lexical_first * words[:, 1])
        hits = []
        for position in np.argsort(-scores, kind="stable")[:k]:
            document_id, metadata, chunks, _ = documents[position]
            best_chunks = np.argsort(-(matrices[position] @ unit_query))[:EVIDENCE_CHUNKS]
            hits.append(Hit(
                document_id, float(scores[position]), chunks[best_chunks[0]], metadata,
                [chunks[i] for i in best_chunks],
            ))
        return hits

    def lexical_evidence(
        self, info: CollectionInfo, terms: list[str], conditions: Sequence[Condition],
    ) -> dict[str, LexicalEvidence]:
        """Per document among the LEXICAL_DOCUMENT_POOL best lexical chunks: its best chunk
        score and its first chunk's (0 when the first chunk is not among them)."""
        ranked = self.storage.repository.lexical_chunks(info, terms, LEXICAL_DOCUMENT_POOL,
                                                        conditions)
        evidence: dict[str, LexicalEvidence] = {}
        for hit in self.storage.repository.chunk_hits(ranked):
            seen = evidence.get(hit.document_id, _NO_WORDS)
            first = hit.score if hit.chunk.ordinal == 0 else seen.first
            evidence[hit.document_id] = LexicalEvidence(max(seen.best, hit.score), first)
        return evidence

    def _lexical_documents(
        self, info: CollectionInfo, terms: list[str], k: int, conditions: Sequence[Condition],
    ) -> list[Hit]:
        """Documents ranked by their best lexical chunk among the 4 x k best chunks."""
        ranked = self.storage.repository.lexical_chunks(info, terms, max(4 * k, MIN_POOL),
                                                        conditions)
        hits: dict[str, Hit] = {}
        for hit in self.storage.repository.chunk_hits(ranked):
            best = hits.get(hit.document_id)
            if best is None:
                hits[hit.document_id] = Hit(hit.document_id, hit.score, hit.chunk, hit.metadata,
                                            [hit.chunk])
            elif len(best.evidence) < EVIDENCE_CHUNKS:
                best.evidence.append(hit.chunk)
        return list(hits.values())[:k]


class LexicalEvidence(NamedTuple):
    """A document's lexical scores: its best chunk's and its first chunk's."""

    best: float
    first: float


_NO_WORDS = LexicalEvidence(0.0, 0.0)


def document_mix(query: str) -> DocumentMix:
    """The hybrid document score for what ``query`` asks: PASSAGE_MIX for a question or a
    sentence, TOPIC_MIX for a phrase naming what a document is about (embedsvc.intent)."""
    return PASSAGE_MIX if asks_for_passage(query) else TOPIC_MIX


def _checked_query_vector(
    vector: np.ndarray, info: CollectionInfo, query_profile: ProfileOverrides | None
) -> np.ndarray:
    """A query vector sent by the caller, as the index compares it (unit length for cosine)."""
    if query_profile:
        raise InvalidArgument(
            "query_profile says how to encode the query, but query_vector is already encoded; "
            "send one of the two", "query_profile",
        )
    vector = np.asarray(vector, dtype=np.float32).reshape(-1)
    if vector.shape[0] != info.dimensions:
        raise InvalidArgument(
            f"query_vector has {vector.shape[0]} dimensions but collection {info.name!r} "
            f"stores {info.dimensions}; embed the query as the collection does (same model "
            "and width)", "query_vector",
        )
    if not np.isfinite(vector).all():
        raise InvalidArgument("query_vector holds NaN or infinite values", "query_vector")
    norm = float(np.linalg.norm(vector))
    if norm == 0.0:
        raise InvalidArgument("query_vector is all zeros", "query_vector")
    return vector / norm if info.metric == "cosine" else vector


def _unit_rows(matrix: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length, so L2 collections score documents by cosine too."""
    return matrix / np.maximum(np.linalg.norm(matrix, axis=1, keepdims=True), 1e-12)
