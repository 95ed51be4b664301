"""Fusing the candidate generators, as xMEN's EnsembleLinker does: every score is multiplied
by its generator's weight, candidates merge by concept keeping the max, and each candidate
says which generators found it."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

# Generator weights, chosen on the dev sets in bench/linking.py (see bench/README.md).
WEIGHTS: Mapping[str, float] = {"sparse": 1.0, "dense": 1.0}
GENERATORS = tuple(WEIGHTS)

# (concept position, score, alias position) from one generator, best first.
Ranked = list[tuple[int, float, int]]


def fuse(
    ranked: Mapping[str, Iterable[tuple[int, float, int]]], k: int,
    weights: Mapping[str, float] = WEIGHTS,
) -> list[tuple[int, float, tuple[str, ...], int]]:
    """The k best concepts over all generators: (concept, score, sources, best alias)."""
    best: dict[int, tuple[float, int]] = {}
    sources: dict[int, list[str]] = {}
    for generator, candidates in ranked.items():
        weight = weights.get(generator, 1.0)
        for concept, score, alias in candidates:
            weighted = score * weight
            if concept not in best or weighted > best[concept][0]:
                best[concept] = (weighted, alias)
            found = sources.setdefault(concept, [])
            if generator not in found:
                found.append(generator)
    order = sorted(best, key=lambda concept: (-best[concept][0], concept))[:k]
    return [(c, best[c][0], tuple(sources[c]), best[c][1]) for c in order]
