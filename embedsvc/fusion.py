"""Hybrid ranking: one list out of a dense and a lexical candidate list.

Reciprocal-rank fusion (Cormack et al., 2009) scores an item ``sum_i w_i / (k0 + rank_i)`` over
the lists it appears in (ranks from 1). It needs no score calibration, which matters here: a
cosine and a BM25 score live on unrelated scales, and BM25's scale moves with the
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
    """A hybrid document score: ``alpha`` x the best chunk's cosine + (1 - alpha) x the mean
    vector's, plus ``first`` x the first chunk's cosine (where a page says what it is about),
    plus ``lexical`` x the document's best lexical chunk score and ``lexical_first`` x its
    first chunk's, both over the best lexical chunk score among the candidates (so the
    lexical parts are in [0, 1] whatever the collection's BM25 scale).

    Unlike rank fusion it keeps how far apart the scores are: on the dev sets it beats every
    reciprocal-rank variant at document level (bench/README.md)."""

    alpha: float = 0.9
    first: float = 0.3
    lexical: float = 0.35
    lexical_first: float = 0.0


# Document level (bench/retrieval_quality.py). A question is answered by one passage: the best
# chunk leads, the first chunk and the words help (tuned on the FAQ sets). A phrase names what
# a whole page is about: the mean vector weighs as much as the best chunk, and the page's
# opening words count on top of its best lexical chunk (tuned on 100 library pages, checked on
# 102 others). embedsvc.intent tells the two apart.
PASSAGE_MIX = DocumentMix()
TOPIC_MIX = DocumentMix(alpha=0.5, first=0.0, lexical=0.35, lexical_first=0.5)


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
