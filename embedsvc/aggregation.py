"""Document-level scores from chunk vectors: how a long document ranks against a query.

A document longer than the model window is embedded as several chunk vectors. Retrieval runs
in two stages: one vector per document (:func:`mean_vector`) finds candidates in the vector
index, then :func:`document_scores` ranks each candidate from the similarities of all its
chunks. The mean vector alone blurs a document into its average topic and misses an answer
confined to one chunk; the best chunk alone ignores whether the rest of the document is about
the query at all. The scorers here sit between those two (see bench/long_documents.py).

All vectors are expected L2-normalized, so dot products are cosine similarities.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np


@dataclass(frozen=True)
class Method:
    """A scoring method by name, with the parameters it is run with."""

    name: str
    params: Mapping[str, float] = field(default_factory=dict)


def mean_vector(chunk_vectors: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """The L2-normalized (weighted) mean of a document's chunk vectors: its index vector.

    Zero vector for a document without chunks (it then matches nothing).
    """
    vectors = np.asarray(chunk_vectors, dtype=np.float32)
    if len(vectors) == 0:
        return np.zeros(vectors.shape[-1] if vectors.ndim == 2 else 0, dtype=np.float32)
    total = np.average(vectors, axis=0, weights=weights)
    norm = float(np.linalg.norm(total))
    return (total / norm if norm > 0 else total).astype(np.float32)


class _Similarities:
    """One document seen from a batch of queries: chunk similarities, and the mean cosine."""

    def __init__(self, queries: np.ndarray, chunk_vectors: np.ndarray) -> None:
        self.queries = queries
        self.vectors = chunk_vectors
        self.chunks = queries @ chunk_vectors.T  # (queries, chunks)

    @cached_property
    def mean(self) -> np.ndarray:
        return self.queries @ mean_vector(self.vectors)


def _max(s: _Similarities) -> np.ndarray:
    """The best chunk: finds a detail anywhere, ignores the rest of the document."""
    return s.chunks.max(axis=1)


def _mean(s: _Similarities) -> np.ndarray:
    """Cosine with the mean vector: the first-stage score alone."""
    return s.mean


def _max_mean(s: _Similarities, alpha: float = 0.9) -> np.ndarray:
    """``alpha`` x best chunk + (1 - alpha) x mean-vector cosine: a detail, in a document
    whose whole is about the query."""
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1], got {alpha}")
    return alpha * s.chunks.max(axis=1) + (1.0 - alpha) * s.mean


def _max_mean_first(s: _Similarities, alpha: float = 0.9, first: float = 0.3) -> np.ndarray:
    """``_max_mean`` plus ``first`` x the first chunk's cosine: a page's opening (its title
    area, its summary) says what the whole page is about."""
    return _max_mean(s, alpha) + first * s.chunks[:, 0]


def _lse(s: _Similarities, temperature: float = 0.02) -> np.ndarray:
    """Soft maximum ``t * log(mean(exp(sim / t)))``: the mean as t grows, the max as t -> 0.

    Averaging (not summing) the exponentials keeps long documents from winning by length.
    """
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    top = s.chunks.max(axis=1, keepdims=True)
    spread = np.exp((s.chunks - top) / temperature).mean(axis=1)
    return top[:, 0] + temperature * np.log(spread)


def _top_m(s: _Similarities, m: int = 3) -> np.ndarray:
    """Mean of the ``m`` best chunks (all of them in a shorter document): evidence that
    spans a few chunks counts more than one lucky chunk."""
    if m < 1 or int(m) != m:
        raise ValueError(f"m must be a positive integer, got {m}")
    k = min(int(m), s.chunks.shape[1])
    return -np.partition(-s.chunks, k - 1, axis=1)[:, :k].mean(axis=1)


_SCORERS: dict[str, Callable[..., np.ndarray]] = {
    "max": _max,
    "mean": _mean,
    "max_mean": _max_mean,
    "max_mean_first": _max_mean_first,
    "lse": _lse,
    "top_m": _top_m,
}
METHODS = tuple(_SCORERS)

# The recommended document scoring (bench/long_documents.py, see bench/README.md).
DEFAULT_METHOD = Method("max_mean", {"alpha": 0.9})


def document_scores(
    query_vectors: np.ndarray,
    chunk_vectors_by_doc: Sequence[np.ndarray],
    method: str | Method = DEFAULT_METHOD,
    **params: float,
) -> np.ndarray:
    """Score candidate documents, given as their chunk vectors, against one or more queries.

    ``query_vectors`` is one vector (-> scores of shape ``(docs,)``) or a ``(queries, dim)``
    batch (-> ``(queries, docs)``). ``method`` is a :class:`Method` or a name from
    :data:`METHODS`; ``params`` override its parameters. Documents without chunks score -inf.
    """
    if isinstance(method, Method):
        name, params = method.name, {**method.params, **params}
    else:
        name = method
    scorer = _SCORERS.get(name)
    if scorer is None:
        raise ValueError(f"unknown scoring method {name!r}; expected one of {', '.join(METHODS)}")
    queries = np.asarray(query_vectors, dtype=np.float32)
    batch = np.atleast_2d(queries)
    scores = np.full((len(batch), len(chunk_vectors_by_doc)), -np.inf, dtype=np.float32)
    for d, vectors in enumerate(chunk_vectors_by_doc):
        vectors = np.asarray(vectors, dtype=np.float32)
        if len(vectors):
            scores[:, d] = scorer(_Similarities(batch, vectors), **params)
    return scores[0] if queries.ndim == 1 else scores
