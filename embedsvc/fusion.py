"""Hybrid ranking: one list out of a dense and a lexical candidate list.

Reciprocal-rank fusion (Cormack et al., 2009) scores an item ``sum_i w_i / (k0 + rank_i)`` over
the lists it appears in (ranks from 1). It needs no score calibration, which matters here: a
cosine and a BM25 / ts_rank score live on unrelated scales, and BM25's scale moves with the
collection. ``k0`` and the lexical weight are chosen on the dev sets (bench/retrieval_quality.py).
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import TypeVar

Key = TypeVar("Key", bound=Hashable)


@dataclass(frozen=True)
class Fusion:
    k0: float = 60.0
    lexical_weight: float = 1.0


# Chunk level (bench/retrieval_quality.py): best or tied-best on every dev set.
DEFAULT_FUSION = Fusion(k0=10.0, lexical_weight=1.0)


@dataclass(frozen=True)
class DocumentMix:
    """A hybrid document score: the dense document score (best chunk and mean vector), plus
    ``first`` x the first chunk's cosine (where a page says what it is about), plus
    ``lexical`` x the document's best lexical chunk score over the best among the candidates
    (so the lexical part is in [0, 1] whatever the collection's BM25 scale).

    Unlike rank fusion it keeps how far apart the scores are: on the dev sets it beats every
    reciprocal-rank variant at document level (bench/README.md)."""

    first: float = 0.3
    lexical: float = 0.35


DEFAULT_DOCUMENT_MIX = DocumentMix()


def reciprocal_rank(
    dense: Sequence[Key], lexical: Sequence[Key], fusion: Fusion = DEFAULT_FUSION
) -> list[tuple[Key, float]]:
    """Items of both ranked lists (best first, no duplicates within a list), fused, best first;
    ties keep the dense order, then the lexical one."""
    scores: dict[Key, float] = {}
    for weight, ranked in ((1.0, dense), (fusion.lexical_weight, lexical)):
        for rank, key in enumerate(ranked, start=1):
            scores[key] = scores.get(key, 0.0) + weight / (fusion.k0 + rank)
    order = {key: position for position, key in enumerate(scores)}
    return sorted(scores.items(), key=lambda item: (-item[1], order[item[0]]))
