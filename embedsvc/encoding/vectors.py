"""Post-processing every backend shares: Matryoshka width slicing and re-normalization."""

from __future__ import annotations

import numpy as np


def slice_dimensions(vectors: np.ndarray, dimensions: int | None, normalize: bool) -> np.ndarray:
    """Keep the leading dims (Matryoshka) and re-normalize so cosine scores stay comparable."""
    if dimensions:
        vectors = vectors[:, :dimensions]
    if normalize:
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        vectors = vectors / np.maximum(norms, 1e-12)
    return np.ascontiguousarray(vectors, dtype=np.float32)
