"""The sparse candidate generator: character 3-gram TF-IDF over all aliases, exact top-k.

scispaCy and xMEN put these vectors into an nmslib HNSW index; a sparse matrix product is exact,
needs no native wheel, and is fast enough for terminologies of a few hundred thousand aliases.
The fitted vectorizer and the alias matrix are saved beside each other and load in well under
a second (no refitting).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import joblib
import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import TfidfVectorizer

VECTORIZER_FILE = "tfidf_vectorizer.joblib"
MATRIX_FILE = "tfidf_aliases.npz"


class SparseIndex:
    """Aliases as L2-normalized char 3-gram TF-IDF rows; a query scores every alias at once."""

    def __init__(self, vectorizer: TfidfVectorizer, by_ngram: sparse.csr_matrix) -> None:
        self.vectorizer = vectorizer
        self.by_ngram = by_ngram  # (ngrams x aliases): a query row times this is its scores

    @classmethod
    def build(cls, aliases: Sequence[str]) -> SparseIndex:
        vectorizer = TfidfVectorizer(
            analyzer="char_wb", ngram_range=(3, 3), lowercase=True, dtype=np.float32
        )
        matrix = vectorizer.fit_transform(aliases)
        return cls(vectorizer, matrix.T.tocsr())

    def save(self, directory: Path) -> None:
        joblib.dump(self.vectorizer, directory / VECTORIZER_FILE)
        sparse.save_npz(directory / MATRIX_FILE, self.by_ngram, compressed=False)

    @classmethod
    def load(cls, directory: Path) -> SparseIndex:
        return cls(joblib.load(directory / VECTORIZER_FILE),
                   sparse.load_npz(directory / MATRIX_FILE).tocsr())

    def scores(self, mentions: Sequence[str]) -> sparse.csr_matrix:
        """Cosine of every mention (rows) to every alias (columns), zeros left out."""
        return (self.vectorizer.transform(mentions) @ self.by_ngram).tocsr()


def best_per_concept(
    alias_ids: np.ndarray, scores: np.ndarray, alias_concepts: np.ndarray, k: int
) -> list[tuple[int, float, int]]:
    """The k concepts whose best alias scores highest: (concept, score, that alias), best first.
    Ties keep the lower alias id, so answers do not depend on the order of the input."""
    if not len(alias_ids):
        return []
    order = np.lexsort((alias_ids, -scores))
    concepts = alias_concepts[alias_ids[order]]
    _, first = np.unique(concepts, return_index=True)
    first.sort()
    best = order[first[:k]]
    return [(int(alias_concepts[a]), float(s), int(a))
            for a, s in zip(alias_ids[best], scores[best], strict=True)]
