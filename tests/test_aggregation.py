"""Document-level scoring from chunk vectors (embedsvc.aggregation)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from embedsvc.aggregation import (
    DEFAULT_METHOD,
    METHODS,
    Method,
    document_scores,
    mean_vector,
)


def unit(rows: np.ndarray) -> np.ndarray:
    rows = np.asarray(rows, dtype=np.float32)
    return rows / np.linalg.norm(rows, axis=-1, keepdims=True)


def random_unit(seed: int, *shape: int) -> np.ndarray:
    return unit(np.random.default_rng(seed).normal(size=shape))


# --- mean_vector -------------------------------------------------------------------------------


def test_mean_vector_is_normalized_mean() -> None:
    vectors = random_unit(0, 5, 8)
    expected = vectors.mean(axis=0) / np.linalg.norm(vectors.mean(axis=0))
    np.testing.assert_allclose(mean_vector(vectors), expected, rtol=1e-5)
    assert np.linalg.norm(mean_vector(vectors)) == pytest.approx(1.0, abs=1e-6)


def test_mean_vector_weights_pull_towards_heavier_chunks() -> None:
    vectors = unit(np.eye(3)[:2])
    weighted = mean_vector(vectors, weights=np.array([3.0, 1.0]))
    assert weighted[0] > weighted[1] > 0
    np.testing.assert_allclose(mean_vector(vectors, np.ones(2)), mean_vector(vectors), rtol=1e-6)


def test_mean_vector_of_one_chunk_is_that_chunk() -> None:
    vector = random_unit(1, 1, 6)
    np.testing.assert_allclose(mean_vector(vector), vector[0], rtol=1e-6)


def test_mean_vector_of_no_chunks_is_zero() -> None:
    assert not mean_vector(np.zeros((0, 4), dtype=np.float32)).any()


# --- document_scores ---------------------------------------------------------------------------


def test_shapes_follow_the_query() -> None:
    docs = [random_unit(2, 3, 8), random_unit(3, 1, 8)]
    assert document_scores(random_unit(4, 8), docs, "max").shape == (2,)
    assert document_scores(random_unit(5, 4, 8), docs, "max").shape == (4, 2)


def test_document_without_chunks_scores_minus_infinity() -> None:
    docs = [np.zeros((0, 8), dtype=np.float32), random_unit(6, 2, 8)]
    for method in METHODS:
        scores = document_scores(random_unit(7, 8), docs, method)
        assert scores[0] == -np.inf and np.isfinite(scores[1])


def test_max_and_mean_match_their_definitions() -> None:
    query, chunks = random_unit(8, 8), random_unit(9, 4, 8)
    sims = chunks @ query
    assert document_scores(query, [chunks], "max")[0] == pytest.approx(sims.max(), abs=1e-6)
    assert document_scores(query, [chunks], "mean")[0] == pytest.approx(
        float(query @ mean_vector(chunks)), abs=1e-6
    )


def test_max_mean_interpolates_between_its_ends() -> None:
    query, docs = random_unit(10, 8), [random_unit(11, 4, 8), random_unit(12, 2, 8)]
    ends = {a: document_scores(query, docs, "max_mean", alpha=a) for a in (0.0, 1.0)}
    np.testing.assert_allclose(ends[1.0], document_scores(query, docs, "max"), atol=1e-6)
    np.testing.assert_allclose(ends[0.0], document_scores(query, docs, "mean"), atol=1e-6)
    half = document_scores(query, docs, "max_mean", alpha=0.5)
    np.testing.assert_allclose(half, (ends[0.0] + ends[1.0]) / 2, atol=1e-6)


def test_lse_goes_from_max_to_mean_similarity_with_temperature() -> None:
    query, chunks = random_unit(13, 8), random_unit(14, 5, 8)
    sims = chunks @ query
    cold = document_scores(query, [chunks], "lse", temperature=1e-4)[0]
    hot = document_scores(query, [chunks], "lse", temperature=1e3)[0]
    assert cold == pytest.approx(sims.max(), abs=1e-3)
    assert hot == pytest.approx(sims.mean(), abs=1e-3)


def test_top_m_ends() -> None:
    query, chunks = random_unit(15, 8), random_unit(16, 4, 8)
    sims = np.sort(chunks @ query)[::-1]
    assert document_scores(query, [chunks], "top_m", m=1)[0] == pytest.approx(sims[0], abs=1e-6)
    assert document_scores(query, [chunks], "top_m", m=2)[0] == pytest.approx(
        sims[:2].mean(), abs=1e-6
    )
    assert document_scores(query, [chunks], "top_m", m=9)[0] == pytest.approx(
        sims.mean(), abs=1e-6
    )


@pytest.mark.parametrize("method", ["max", "mean", "max_mean", "lse"])
def test_repeating_a_document_does_not_raise_its_score(method: str) -> None:
    """Long documents must not win by length alone: a document twice over scores the same."""
    query, chunks = random_unit(17, 8), random_unit(18, 3, 8)
    once, twice = document_scores(query, [chunks, np.vstack([chunks, chunks])], method)
    assert twice == pytest.approx(once, abs=1e-5)


@settings(max_examples=50, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(1, 12), t=st.floats(0.001, 10.0))
def test_lse_lies_between_mean_and_max(seed: int, n: int, t: float) -> None:
    query, chunks = random_unit(seed, 16), random_unit(seed + 1, n, 16)
    sims = chunks @ query
    score = document_scores(query, [chunks], "lse", temperature=t)[0]
    assert sims.mean() - 1e-5 <= score <= sims.max() + 1e-5


def test_batched_queries_score_like_single_ones() -> None:
    queries, docs = random_unit(19, 3, 8), [random_unit(20, 4, 8), random_unit(21, 2, 8)]
    batch = document_scores(queries, docs, DEFAULT_METHOD)
    for i, query in enumerate(queries):
        np.testing.assert_allclose(batch[i], document_scores(query, docs, DEFAULT_METHOD),
                                   atol=1e-6)


def test_method_params_apply_and_keywords_override_them() -> None:
    query, docs = random_unit(22, 8), [random_unit(23, 4, 8)]
    direct = document_scores(query, docs, "lse", temperature=0.2)
    np.testing.assert_allclose(document_scores(query, docs, Method("lse", {"temperature": 0.2})),
                               direct)
    overridden = document_scores(query, docs, Method("lse", {"temperature": 5.0}), temperature=0.2)
    np.testing.assert_allclose(overridden, direct)


def test_default_method_is_known_and_runs() -> None:
    assert DEFAULT_METHOD.name in METHODS
    assert document_scores(random_unit(24, 8), [random_unit(25, 2, 8)]).shape == (1,)


@pytest.mark.parametrize(
    ("method", "params", "error"),
    [
        ("median", {}, ValueError),
        ("lse", {"temperature": 0.0}, ValueError),
        ("max_mean", {"alpha": 1.5}, ValueError),
        ("top_m", {"m": 0}, ValueError),
        ("top_m", {"m": 1.5}, ValueError),
        ("max", {"alpha": 0.5}, TypeError),
    ],
)
def test_bad_methods_and_params_are_refused(method: str, params: dict, error: type) -> None:
    with pytest.raises(error):
        document_scores(random_unit(26, 8), [random_unit(27, 2, 8)], method, **params)
