"""An entry classifier fitted on a catalog's own labels, at load time.

Matching a title to its entry's single closest label ignores what the entry's other labels say:
"Kitchen Designer" is nearest to "Chefs and head cooks" label by label, but the labels of
"Interior designers" together point the right way. A multinomial logistic regression over the
label vectors (each label a sample of its entry) learns those directions; its probabilities
join the fusion as one more signal. It is fitted from the vectors the version already holds, so
nothing is stored and a reload or a restart fits it again (seconds for a few thousand labels).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression

REGULARIZATION = 10.0  # scikit-learn's C, chosen on the dev sets (bench/titles.py)
MAX_ITERATIONS = 100
TOLERANCE = 1e-3


@dataclass(frozen=True)
class EntryClassifier:
    weights: np.ndarray  # (dims, classes)
    bias: np.ndarray  # (classes,)
    classes: np.ndarray  # entry position of each class
    entries: int

    @classmethod
    def fit(cls, label_vectors: np.ndarray, pair_labels: np.ndarray,
            pair_entries: np.ndarray, entries: int) -> EntryClassifier | None:
        """Fitted on every (label, entry) pair; None when fewer than two entries have labels
        (nothing to tell apart)."""
        if len(np.unique(pair_entries)) < 2:
            return None
        model = LogisticRegression(C=REGULARIZATION, max_iter=MAX_ITERATIONS, tol=TOLERANCE)
        with warnings.catch_warnings():
            # Stopping early costs nothing measurable on the dev sets and bounds the load time.
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.fit(label_vectors[pair_labels], pair_entries)
        weights, bias = model.coef_.T, model.intercept_
        if len(model.classes_) == 2:  # one logit for the second class: softmax([0, z])
            weights = np.hstack([np.zeros_like(weights), weights])
            bias = np.concatenate([[0.0], bias])
        return cls(weights.astype(np.float32), bias.astype(np.float32),
                   model.classes_.astype(np.int64), entries)

    def probabilities(self, vectors: np.ndarray) -> np.ndarray:
        """(queries, dims) unit vectors -> (queries, entries): each entry's probability."""
        logits = vectors @ self.weights + self.bias
        logits -= logits.max(axis=1, keepdims=True)
        odds = np.exp(logits)
        found = np.zeros((len(vectors), self.entries), dtype=np.float32)
        found[:, self.classes] = odds / odds.sum(axis=1, keepdims=True)
        return found
