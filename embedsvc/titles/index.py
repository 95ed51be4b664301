"""A catalog version in memory: its labels as cleaned text, which entries each label names,
their vectors (read from SQL, where the collection keeps them), the n-gram index and the entry
classifier fitted on those vectors."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np

from embedsvc.ports import Encoder
from embedsvc.titles.classifier import EntryClassifier
from embedsvc.titles.cleanup import clean_title
from embedsvc.titles.lexical import CharNgramIndex
from embedsvc.titles.types import CatalogEntry, CatalogInfo
from embedsvc.types import CollectionInfo, DocumentInput, content_hash

LABEL_PREFIX = "label:"
PROFILE_PREFIX = "profile:"


@dataclass(frozen=True)
class LabelTable:
    """Unique cleaned labels, the label as first written, and (label, entry) pairs sorted by
    entry so per-entry maxima are one ``np.maximum.reduceat``."""

    texts: list[str]
    shown: list[str]
    pair_labels: np.ndarray
    pair_entries: np.ndarray
    starts: np.ndarray  # where each entry's pairs begin

    @classmethod
    def of(cls, entries: Sequence[CatalogEntry]) -> LabelTable:
        index: dict[str, int] = {}
        shown: list[str] = []
        pairs: list[tuple[int, int]] = []
        for position, entry in enumerate(entries):
            own: set[int] = set()
            for label in entry.labels:
                text = clean_title(label).text
                if text not in index:
                    index[text] = len(shown)
                    shown.append(label)
                if index[text] not in own:
                    own.add(index[text])
                    pairs.append((index[text], position))
        labels = np.array([label for label, _ in pairs], dtype=np.int64)
        owners = np.array([owner for _, owner in pairs], dtype=np.int64)
        starts = np.searchsorted(owners, np.arange(len(entries)))
        return cls(list(index), shown, labels, owners, starts)

    def per_entry(self, label_scores: np.ndarray) -> np.ndarray:
        """(queries, labels) scores -> (queries, entries): each entry's best label."""
        return np.maximum.reduceat(label_scores[:, self.pair_labels], self.starts, axis=1)

    def documents(self) -> list[DocumentInput]:
        return [DocumentInput(LABEL_PREFIX + text, text) for text in self.texts]


def profile_documents(entries: Sequence[CatalogEntry]) -> list[DocumentInput]:
    """The skills and description of entries that have them, as evidence to match; named by
    content, so a reload finds the vectors of unchanged profiles whatever entry has them."""
    texts = dict.fromkeys(entry.profile for entry in entries if entry.profile)
    return [DocumentInput(PROFILE_PREFIX + content_hash(text), text) for text in texts]


@dataclass
class LiveCatalog:
    catalog: CatalogInfo
    collection: CollectionInfo
    encoder: Encoder
    entries: list[CatalogEntry]
    labels: LabelTable
    label_vectors: np.ndarray
    profile_entries: np.ndarray  # entry positions with a profile, in profile_vectors' order
    profile_vectors: np.ndarray
    lexical: CharNgramIndex
    classifier: EntryClassifier | None
    _readers: int = 0
    _idle: threading.Condition = field(default_factory=threading.Condition)

    @contextmanager
    def reading(self) -> Iterator[LiveCatalog]:
        """Held while a request uses this version, so it is not dropped under the request."""
        with self._idle:
            self._readers += 1
        try:
            yield self
        finally:
            with self._idle:
                self._readers -= 1
                self._idle.notify_all()

    def wait_idle(self, timeout: float) -> bool:
        with self._idle:
            return self._idle.wait_for(lambda: self._readers == 0, timeout)
