"""Character n-gram TF-IDF over catalog labels: finds titles whose words are spelled alike
(plurals, compounds, typos) where a sentence encoder may not, as scispaCy's linker does."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer

NGRAMS = (2, 4)


class CharNgramIndex:
    def __init__(self, labels: Sequence[str], ngrams: tuple[int, int] = NGRAMS) -> None:
        self.vectorizer = TfidfVectorizer(analyzer="char_wb", ngram_range=ngrams,
                                          sublinear_tf=True, dtype=np.float32)
        self.matrix = self.vectorizer.fit_transform(labels).T.tocsr()

    def scores(self, queries: Sequence[str]) -> np.ndarray:
        """Cosine of every query to every label: (queries, labels), float32."""
        return np.asarray((self.vectorizer.transform(queries) @ self.matrix).todense(),
                          dtype=np.float32)
