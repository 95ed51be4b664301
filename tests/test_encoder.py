"""Encoder semantics: token accounting, over-length policy, leading-dims slicing."""

from __future__ import annotations

import numpy as np
import pytest

from embedsvc.encoding.elastic import slice_dimensions
from embedsvc.errors import InvalidArgument


def test_token_counts_include_special_tokens(encoder):
    assert encoder.token_counts(["hello world", ""]) == [4, 2]


def test_overflow_policy(encoder):
    counts = encoder.token_counts(["short", "word " * 300])
    assert encoder.check_overflow(counts, allow_truncation=True) == [False, True]
    with pytest.raises(InvalidArgument, match=r"texts\[1\] has 302 tokens"):
        encoder.check_overflow(counts, allow_truncation=False)


def test_leading_dims_are_renormalized(encoder):
    full = encoder.encode(["the quick brown fox"])
    small = encoder.encode(["the quick brown fox"], dimensions=48)
    assert small.shape == (1, 48) and small.dtype == np.float32
    assert np.linalg.norm(small) == pytest.approx(1.0, abs=1e-5)
    expected = full[:, :48] / np.linalg.norm(full[:, :48])
    np.testing.assert_allclose(small, expected, atol=1e-6)
    with pytest.raises(InvalidArgument):
        encoder.encode(["x"], dimensions=385)


def test_slice_without_normalize_keeps_values():
    vectors = np.array([[3.0, 4.0, 12.0]], dtype=np.float32)
    np.testing.assert_array_equal(slice_dimensions(vectors, 2, normalize=False), [[3.0, 4.0]])
    np.testing.assert_allclose(slice_dimensions(vectors, 2, normalize=True), [[0.6, 0.8]])
