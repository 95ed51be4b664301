"""Fusing the candidate generators, as xMEN's EnsembleLinker does: every score is multiplied
by its generator's weight, candidates merge by concept keeping the max, and each candidate
says which generators found it. On top of xMEN's max, a concept that several generators found
gains ``agreement`` times their other scores (0 = xMEN's plain max, 1 = the sum)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

# Generator weights, chosen on the dev sets in bench/linking.py (see bench/README.md).
WEIGHTS: Mapping[str, float] = {"sparse": 0.8, "dense": 1.0}
AGREEMENT = 0.0
GENERATORS = tuple(WEIGHTS)

# (concept position, score, alias position) from one generator, best first.
Ranked = list[tuple[int, float, int]]


def fuse(
    ranked: Mapping[str, Iterable[tuple[int, float, int]]], k: int,
    weights: Mapping[str, float] = WEIGHTS, agreement: float = AGREEMENT,
) -> list[tuple[int, float, tuple[str, ...], int]]:
    """The k best concepts over all generators: (concept, score, sources, best alias)."""
    per_generator: dict[int, dict[str, tuple[float, int]]] = {}
    for generator, candidates in ranked.items():
        weight = weights.get(generator, 1.0)
        for concept, score, alias in candidates:
            found = per_generator.setdefault(concept, {})
            if generator not in found or score * weight > found[generator][0]:
                found[generator] = (score * weight, alias)
    fused = {}
    for concept, found in per_generator.items():
        scores = sorted((score for score, _ in found.values()), reverse=True)
        fused[concept] = scores[0] + agreement * sum(scores[1:])
    order = sorted(fused, key=lambda concept: (-fused[concept], concept))[:k]
    return [
        (c, fused[c], tuple(per_generator[c]), max(per_generator[c].values())[1])
        for c in order
    ]
