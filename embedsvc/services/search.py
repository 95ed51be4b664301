"""Search: encode the query like the collection's chunks, find candidates in the vector index
(filters applied there), score documents over all their chunks when asked, hydrate from SQL."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from embedsvc import tracing
from embedsvc.aggregation import DEFAULT_METHOD, document_scores
from embedsvc.config import Settings
from embedsvc.errors import FailedPrecondition, InvalidArgument
from embedsvc.metadata import check_finite, check_key, is_scalar
from embedsvc.services.collections import Collections
from embedsvc.storage import Storage
from embedsvc.types import (
    LEVELS,
    CollectionInfo,
    Condition,
    Hit,
    ProfileOverrides,
    Where,
    choice,
    conditions_of,
)

EVIDENCE_CHUNKS = 3
# Every condition is a join in SQL; past a few dozen they only cost the database.
MAX_CONDITIONS = 64


class Searcher:
    def __init__(self, settings: Settings, collections: Collections, storage: Storage) -> None:
        self.settings = settings
        self.collections = collections
        self.storage = storage

    def search(
        self, collection: str, query: str, k: int = 10, where: Where = None,
        level: str = "chunk", query_profile: ProfileOverrides | None = None,
        is_active: Callable[[], bool] | None = None, deadline: float | None = None,
    ) -> list[Hit]:
        """Top-k chunks, or top-k documents (k counts documents) when ``level`` is "document".

        The query is encoded with the collection's profile, or a cheaper query profile of the
        same width (fewer layers, another tempscale or precision), after its query prompt.
        """
        choice("level", level, LEVELS)
        if not query.strip():
            raise InvalidArgument("query is empty", "query")
        if len(query) > self.settings.max_query_chars:
            raise InvalidArgument(
                f"query has {len(query)} characters, more than {self.settings.max_query_chars}; "
                "only its first tokens are embedded anyway", "query",
            )
        max_k = self.settings.max_k
        if not 1 <= k <= max_k:
            raise InvalidArgument(f"k must be between 1 and {max_k}, got {k}", "k")
        conditions = conditions_of(where)
        _validate(conditions)
        info, encoder = self.collections.open(collection)
        profile = encoder.profile(info.profile, **(query_profile or {}))
        if not profile.query_compatible(info.profile, info.dimensions):
            raise FailedPrecondition(
                f"query profile has {profile.dimensions} dimensions but collection {collection!r} "
                f"stores {info.dimensions}; a query may change layers, tempscale and precision, "
                "not the width"
            )
        with tracing.span("search.encode"):
            vector = encoder.encode(
                [query], profile, normalize=info.metric == "cosine", is_active=is_active,
                deadline=deadline, prompt=info.query_prompt, interactive=True,
            )[0]
        if level == "document":
            with tracing.span("search.documents", k=k):
                return self._documents(info, vector, k, conditions)
        with tracing.span("search.candidates", k=k, conditions=len(conditions)):
            ranked = self.storage.vectors.search(info, vector, k, "chunk", conditions)
        with tracing.span("search.hydrate", hits=len(ranked)):
            return self.storage.repository.chunk_hits(ranked)

    def _documents(
        self, info: CollectionInfo, query: np.ndarray, k: int, conditions: list[Condition]
    ) -> list[Hit]:
        """Candidates from the document vectors and from the best chunks, ranked by
        DEFAULT_METHOD over all their chunks: a long document is found by its best passage and
        by its whole."""
        vectors, repository = self.storage.vectors, self.storage.repository
        pool = max(4 * k, 50)
        by_document = vectors.search(info, query, pool, "document", conditions)
        by_chunk = vectors.search(info, query, pool, "chunk", conditions)
        candidates = {doc_id for doc_id, _ in by_document}
        candidates |= repository.documents_of_chunks([chunk_id for chunk_id, _ in by_chunk])
        documents = repository.document_chunks(sorted(candidates), info.dimensions)
        if not documents:
            return []
        unit_query = query / max(float(np.linalg.norm(query)), 1e-12)
        matrices = [_unit_rows(matrix) for *_, matrix in documents]
        scores = document_scores(unit_query, matrices, DEFAULT_METHOD)
        hits = []
        for position in np.argsort(-scores)[:k]:
            document_id, metadata, chunks, _ = documents[position]
            best = np.argsort(-(matrices[position] @ unit_query))[:EVIDENCE_CHUNKS]
            hits.append(Hit(
                document_id, float(scores[position]), chunks[best[0]], metadata,
                [chunks[i] for i in best],
            ))
        return hits


def _validate(conditions: list[Condition]) -> None:
    if len(conditions) > MAX_CONDITIONS:
        raise InvalidArgument(
            f"{len(conditions)} filter conditions, more than {MAX_CONDITIONS}; a filter on that "
            "many keys belongs in a metadata value of its own", "filter.conditions",
        )
    for position, condition in enumerate(conditions):
        where = f"filter.conditions[{position}]"
        if not condition.key:
            raise InvalidArgument(f"{where}: the condition has an empty key", f"{where}.key")
        check_key(condition.key, where)
        if not is_scalar(condition.equals):
            raise InvalidArgument(
                f"filter on {condition.key!r}: only string, number, bool or null values compare",
                f"{where}.equals",
            )
        check_finite(condition.equals, f"{where}.equals")


def _unit_rows(matrix: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length, so L2 collections score documents by cosine too."""
    return matrix / np.maximum(np.linalg.norm(matrix, axis=1, keepdims=True), 1e-12)
