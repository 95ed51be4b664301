"""Ranking metrics and the two report formats every benchmark writes (markdown and JSON)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

RESULTS_DIR = Path(__file__).parent / "results"


def gold_ranks(scores: np.ndarray, gold: Sequence[int]) -> np.ndarray:
    """1-based rank of each query's gold item in its row of ``scores`` (queries x items).

    Ties count against the gold item, so a scorer gains nothing from constant scores.
    """
    gold_scores = scores[np.arange(len(gold)), gold]
    return (scores >= gold_scores[:, None]).sum(axis=1)


def first_hit_ranks(hits: Sequence[Sequence[bool]]) -> np.ndarray:
    """1-based rank of the first hit in each query's ranked list, 0 when none is a hit."""
    return np.array([next((i + 1 for i, hit in enumerate(row) if hit), 0) for row in hits])


def mrr(ranks: np.ndarray, k: int = 10) -> float:
    """Mean reciprocal rank, a miss or a rank past ``k`` counting 0."""
    found = (ranks >= 1) & (ranks <= k)
    return float(np.where(found, 1.0 / np.maximum(ranks, 1), 0.0).mean()) if len(ranks) else 0.0


def recall(ranks: np.ndarray, k: int) -> float:
    """Share of queries whose first relevant item is within the top ``k``."""
    return float(((ranks >= 1) & (ranks <= k)).mean()) if len(ranks) else 0.0


def top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of each row's ``k`` best scores, best first."""
    k = min(k, scores.shape[1])
    part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    order = np.argsort(-np.take_along_axis(scores, part, axis=1), axis=1, kind="stable")
    return np.take_along_axis(part, order, axis=1)


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A GitHub markdown table; floats with 3 decimals."""
    def cell(value: Any) -> str:
        return f"{value:.3f}" if isinstance(value, float) else str(value)

    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def write_results(name: str, payload: dict[str, Any]) -> Path:
    """bench/results/<name>.json, pretty-printed."""
    RESULTS_DIR.mkdir(exist_ok=True)
    path = RESULTS_DIR / f"{name}.json"
    path.write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n")
    return path
