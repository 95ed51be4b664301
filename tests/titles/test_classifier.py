"""The entry classifier, fitted on label vectors: every entry's probability for a query."""

from __future__ import annotations

import numpy as np

from embedsvc.titles.classifier import EntryClassifier


def unit(rows: np.ndarray) -> np.ndarray:
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


def test_labels_point_to_their_entries_and_an_entry_without_labels_gets_nothing():
    labels = unit(np.eye(4) + 0.05)
    fitted = EntryClassifier.fit(labels, np.arange(4), np.array([0, 1, 3, 3]), entries=4)
    assert fitted is not None
    probabilities = fitted.probabilities(labels)
    assert probabilities.shape == (4, 4) and np.allclose(probabilities.sum(axis=1), 1)
    assert list(probabilities.argmax(axis=1)) == [0, 1, 3, 3]
    assert not probabilities[:, 2].any()  # entry 2 has no labels


def test_two_entries_and_nothing_to_tell_apart():
    labels = unit(np.array([[1.0, 0.1], [0.9, 0.2], [0.1, 1.0]]))
    fitted = EntryClassifier.fit(labels, np.arange(3), np.array([0, 0, 1]), entries=2)
    assert fitted is not None  # scikit-learn fits one logit for two classes
    assert list(fitted.probabilities(unit(np.array([[1.0, 0.0], [0.0, 1.0]]))).argmax(1)) == [0, 1]
    assert EntryClassifier.fit(labels, np.arange(3), np.zeros(3, dtype=np.int64), 1) is None
