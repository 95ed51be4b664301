"""Title normalization: load catalogs (atomic reloads), normalize raw titles against them.

A catalog version is an ordinary collection (chunking ``none``, one document per unique cleaned
label and one per entry profile) named ``titles.<catalog>.v<N>``, so its vectors are stored,
backed up and repaired like any other, and a reload reuses the vectors of unchanged labels by
content hash. The live version is a row in ``title_catalogs``: a reload builds version N+1
beside it, switches the row in one transaction, and drops version N once no request uses it.

Scoring, per entry (its best label): ``lexical_weight x char n-gram cosine + dense_weight x
embedding cosine + classifier_weight x`` the probability that the entry classifier (fitted on
the catalog's label vectors) gives it; skills and a description, when a query has them, add
``evidence_weight x`` their cosine to the entry's labels or its own skills and description, and
the sum is divided by the weights used, so scores stay in [0, 1]. An entry whose similarity
(the same fusion without the classifier) is below the threshold is not answered, and a query
with none above it gets "no match". The weights are the ones measured best on the dev sets
(bench/titles.py).
"""

from __future__ import annotations

import contextlib
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from embedsvc.config import Settings
from embedsvc.errors import FailedPrecondition, InvalidArgument, NotFound
from embedsvc.faults import fault_point
from embedsvc.services.collections import Collections
from embedsvc.services.documents import Documents, prepare
from embedsvc.storage import Storage
from embedsvc.storage.sql.titles import TitleCatalogStore
from embedsvc.titles.catalog import validate_entries
from embedsvc.titles.classifier import EntryClassifier
from embedsvc.titles.cleanup import STEPS, clean_title
from embedsvc.titles.index import (
    LABEL_PREFIX,
    LabelTable,
    LiveCatalog,
    profile_documents,
)
from embedsvc.titles.lexical import CharNgramIndex
from embedsvc.titles.types import (
    CatalogEntry,
    CatalogInfo,
    CatalogLoad,
    CleanTitle,
    Normalized,
    TitleCandidate,
    TitleQuery,
)
from embedsvc.types import CollectionInfo, DocumentInput, content_hash

CATALOG_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
MAX_TITLE_CHARS = 512
MAX_EVIDENCE_CHARS = 20_000
WRITE_BATCH = 256
READ_BATCH = 2_000
RETIRE_WAIT_S = 60.0


@dataclass(frozen=True)
class Weights:
    """How the signals are fused, and the score below which there is no match."""

    lexical: float = 0.3
    dense: float = 0.7
    classifier: float = 1.0
    evidence: float = 0.5
    threshold: float = 0.45  # on the similarity, the fusion without the classifier
    pool: int = 10  # a signal "found" an entry that is in its own top ``pool``


@dataclass(frozen=True)
class Signals:
    """Per-entry scores, (queries, entries) each, of one catalog version."""

    live: LiveCatalog
    cleaned: list[CleanTitle]
    lexical: np.ndarray
    dense: np.ndarray
    classifier: np.ndarray  # zeros when the version has no classifier
    evidence: np.ndarray
    has_evidence: np.ndarray  # per query
    labels: np.ndarray  # (queries, labels): lexical and dense fused, to name the best label

    def fused(self, w: Weights) -> np.ndarray:
        """The weighted mean of the signals a query has: scores stay in [0, 1]."""
        evidence = w.evidence * self.has_evidence
        classifier = w.classifier if self.live.classifier is not None else 0.0
        total = (w.lexical * self.lexical + w.dense * self.dense
                 + classifier * self.classifier + evidence[:, None] * self.evidence)
        return total / (w.lexical + w.dense + classifier + evidence)[:, None]


class TitleNormalizer:
    def __init__(
        self, settings: Settings, storage: Storage, collections: Collections,
        documents: Documents, weights: Weights | None = None,
    ) -> None:
        self.settings = settings
        self.storage = storage
        self.collections = collections
        self.documents = documents
        self.weights = weights or Weights()
        self.store = TitleCatalogStore(storage.repository)  # type: ignore[arg-type]
        self._live: dict[str, LiveCatalog] = {}
        self._guard = threading.Lock()
        self._loading: dict[str, threading.Lock] = {}

    # -- catalogs ------------------------------------------------------------------------

    def catalogs(self) -> list[CatalogInfo]:
        return self.store.all()

    def catalog(self, name: str) -> CatalogInfo:
        found = self.store.get(name)
        if found is None:
            raise NotFound(self._unknown(name))
        return found

    def load(self, name: str, entries: Sequence[CatalogEntry], model: str = "") -> CatalogLoad:
        """Make ``entries`` the catalog's live version (model '' = the previous version's, or
        the server's default). Nothing changes for readers until it is complete."""
        if not CATALOG_NAME.fullmatch(name):
            raise InvalidArgument(
                f"catalog name {name!r} is invalid: use 1-64 letters, digits, '_' or '-', "
                "starting with a letter or digit", "catalog",
            )
        validate_entries(entries)
        with self._loader(name):
            current = self.store.get(name)
            self._drop_leftovers(name, current)
            version = (current.version if current else 0) + 1
            collection = f"titles.{name}.v{version}"
            info = self.collections.create(
                collection, model=model or (current.model if current else ""), chunking="none"
            )
            try:
                labels = LabelTable.of(entries)
                documents = labels.documents() + profile_documents(entries)
                embedded, reused = self._write(info, current, documents)
                catalog = CatalogInfo(name, info.model, version, len(entries),
                                      len(labels.texts), collection)
                live = self._open(catalog, entries)
                fault_point("titles.prepared")
                self.store.publish(catalog, entries)
            except BaseException:
                self.collections.delete(collection)
                raise
            with self._guard:
                old = self._live.get(name)
                self._live[name] = live
            if current is not None:
                self._retire(old, current.collection)
        return CatalogLoad(catalog, embedded, reused)

    # -- normalization -------------------------------------------------------------------

    def normalize(
        self, catalog: str, queries: Sequence[TitleQuery], k: int = 10, cleanup: bool = True,
        threshold: float | None = None,
    ) -> list[Normalized]:
        """The top-k entries for each query, best first, among those whose similarity (the
        fusion without the classifier) reaches the threshold; [] where none does (None = the
        default, 0 = always answer). The classifier ranks but does not vouch: its
        probabilities sum to 1 whatever the query, so they cannot say that nothing is close."""
        self._validate(queries, k, threshold)
        threshold = self.weights.threshold if threshold is None else threshold
        signals = self.signals(catalog, queries, cleanup)
        live, w = signals.live, self.weights
        total = signals.fused(w)
        close = signals.fused(replace(w, classifier=0.0)) >= threshold
        answers = []
        for row, (query, clean) in enumerate(zip(queries, signals.cleaned, strict=True)):
            tops = {name: set(_top(scores[row], w.pool)) for name, scores in
                    (("lexical", signals.lexical), ("dense", signals.dense),
                     ("classifier", signals.classifier), ("evidence", signals.evidence))}
            with_evidence = bool(signals.has_evidence[row])
            candidates = []
            for position in _top(np.where(close[row], total[row], -np.inf), k):
                if not close[row, position]:
                    break
                score = float(total[row, position])
                found = [name for name in ("lexical", "dense") if position in tops[name]]
                if live.classifier is not None and position in tops["classifier"]:
                    found.append("classifier")
                if with_evidence and position in tops["evidence"]:
                    found.append("skills" if query.skills else "description")
                entry = live.entries[position]
                candidates.append(TitleCandidate(
                    entry.id, entry.title, self._best_label(live, signals.labels[row], position),
                    score, tuple(found), float(signals.lexical[row, position]),
                    float(signals.dense[row, position]),
                    float(signals.evidence[row, position]) if with_evidence else 0.0,
                ))
            answers.append(Normalized(query.title, clean, candidates))
        return answers

    def signals(
        self, catalog: str, queries: Sequence[TitleQuery], cleanup: bool = True
    ) -> Signals:
        """Every signal's score of every entry for each query, before fusion (what
        `normalize` ranks by, and what the dev-set benchmark tunes the weights on)."""
        steps = STEPS if cleanup else ()
        cleaned = [clean_title(query.title, steps) for query in queries]
        with self._acquire(catalog).reading() as live:
            lexical, dense, classifier, evidence, labels = self._signals(
                live, queries, [c.text for c in cleaned]
            )
        has_evidence = np.array([_evidence_text(q) != "" for q in queries])
        return Signals(live, cleaned, lexical, dense, classifier, evidence, has_evidence, labels)

    def _signals(
        self, live: LiveCatalog, queries: Sequence[TitleQuery], texts: list[str]
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Per-entry lexical, dense, classifier and evidence scores, (queries, entries) each,
        and the fused score of every label, (queries, labels)."""
        info, encoder = live.collection, live.encoder
        encode = lambda batch: encoder.encode(  # noqa: E731
            batch, info.profile, normalize=True, prompt=info.query_prompt, interactive=True
        )
        lexical_labels = live.lexical.scores(texts)
        vectors = encode(texts)
        dense_labels = vectors @ live.label_vectors.T
        w = self.weights
        labels = w.lexical * lexical_labels + w.dense * dense_labels
        lexical = live.labels.per_entry(lexical_labels)
        dense = live.labels.per_entry(dense_labels)
        classifier = (live.classifier.probabilities(vectors) if live.classifier is not None
                      else np.zeros_like(dense))
        evidence = np.zeros_like(dense)
        rows = [row for row, query in enumerate(queries) if _evidence_text(query)]
        if rows:
            vectors = encode([_evidence_text(queries[row]) for row in rows])
            scores = live.labels.per_entry(vectors @ live.label_vectors.T)
            if len(live.profile_entries):
                own = vectors @ live.profile_vectors.T
                scores[:, live.profile_entries] = np.maximum(
                    scores[:, live.profile_entries], own
                )
            evidence[rows] = scores
        return lexical, dense, classifier, evidence, labels

    @staticmethod
    def _best_label(live: LiveCatalog, label_scores: np.ndarray, position: int) -> str:
        """The entry's label that scored best for the query (the first one on a tie)."""
        table = live.labels
        start = table.starts[position]
        end = table.starts[position + 1] if position + 1 < len(table.starts) else None
        own = table.pair_labels[start:end]
        return table.shown[int(own[int(np.argmax(label_scores[own]))])]

    # -- versions ------------------------------------------------------------------------

    def _acquire(self, name: str) -> LiveCatalog:
        with self._guard:
            live = self._live.get(name)
        if live is not None:
            return live
        with self._loader(name):
            with self._guard:
                if name in self._live:
                    return self._live[name]
            catalog = self.catalog(name)
            live = self._open(catalog, self.store.entries(catalog))
            with self._guard:
                self._live[name] = live
            return live

    def _open(self, catalog: CatalogInfo, entries: list[CatalogEntry]) -> LiveCatalog:
        """A version in memory, its vectors read back from SQL (what every reader sees)."""
        info, encoder = self.collections.open(catalog.collection)
        labels = LabelTable.of(entries)
        profiled = [position for position, entry in enumerate(entries) if entry.profile]
        stored = self._stored(info, [LABEL_PREFIX + text for text in labels.texts]
                              + [d.id for d in profile_documents(entries)])
        try:
            label_vectors = _rows([stored[content_hash(t)] for t in labels.texts], info)
            profile_vectors = _rows(
                [stored[content_hash(entries[p].profile)] for p in profiled], info
            )
        except KeyError:
            raise FailedPrecondition(
                f"catalog {catalog.name!r}: collection {catalog.collection!r} lacks vectors of "
                "some labels; load the catalog again"
            ) from None
        profile_entries = np.array(profiled, dtype=np.int64)
        classifier = EntryClassifier.fit(label_vectors, labels.pair_labels, labels.pair_entries,
                                         len(entries))
        return LiveCatalog(catalog, info, encoder, entries, labels, label_vectors,
                           profile_entries, profile_vectors, CharNgramIndex(labels.texts),
                           classifier)

    def _write(
        self, info: CollectionInfo, current: CatalogInfo | None,
        documents: list[DocumentInput],
    ) -> tuple[int, int]:
        """Embed and store the new version's documents; vectors of the previous version's
        unchanged texts are reused when both were embedded alike."""
        encoder = self.collections.models.get(info.model)
        known = self._reusable(info, current, [document.id for document in documents])
        embedded = reused = 0
        for start in range(0, len(documents), WRITE_BATCH):
            batch = documents[start:start + WRITE_BATCH]
            results = self.documents.commit(info, prepare(info, encoder, batch, known))
            embedded += sum(result.embedded for result in results)
            reused += sum(result.reused for result in results)
        return embedded, reused

    def _reusable(
        self, info: CollectionInfo, current: CatalogInfo | None, ids: list[str]
    ) -> dict[str, np.ndarray]:
        if current is None:
            return {}
        try:
            previous = self.storage.repository.get_collection(current.collection)
        except NotFound:
            return {}
        same = (previous.model_fingerprint == info.model_fingerprint
                and previous.profile == info.profile and previous.metric == info.metric
                and previous.document_prompt == info.document_prompt)
        return self._stored(previous, ids) if same else {}

    def _stored(self, info: CollectionInfo, ids: list[str]) -> dict[str, np.ndarray]:
        stored: dict[str, np.ndarray] = {}
        for start in range(0, len(ids), READ_BATCH):
            part = ids[start:start + READ_BATCH]
            stored.update(self.storage.repository.stored_vectors(info, part))
        return stored

    def _retire(self, old: LiveCatalog | None, collection: str) -> None:
        """Drop the previous version once the requests that use it are done."""
        if old is not None:
            old.wait_idle(RETIRE_WAIT_S)
        with contextlib.suppress(NotFound):
            self.collections.delete(collection)

    def _drop_leftovers(self, name: str, current: CatalogInfo | None) -> None:
        """Collections of versions that never went live (a load that crashed half way)."""
        live = current.collection if current else None
        for info in self.storage.repository.list_collections():
            if info.name.startswith(f"titles.{name}.v") and info.name != live:
                self.collections.delete(info.name)

    def _loader(self, name: str) -> threading.Lock:
        with self._guard:
            return self._loading.setdefault(name, threading.Lock())

    def _unknown(self, name: str) -> str:
        known = ", ".join(repr(info.name) for info in self.store.all()) or "none yet"
        return f"catalog {name!r} is not loaded (catalogs: {known}); load it with `titles load`"

    def _validate(
        self, queries: Sequence[TitleQuery], k: int, threshold: float | None
    ) -> None:
        if not queries:
            raise InvalidArgument("queries is empty; send at least one title", "queries")
        limit = self.settings.max_batch_texts
        if len(queries) > limit:
            raise InvalidArgument(
                f"{len(queries)} titles in one request, more than {limit}; split it", "queries"
            )
        if not 1 <= k <= self.settings.max_k:
            raise InvalidArgument(f"k must be between 1 and {self.settings.max_k}, got {k}", "k")
        if threshold is not None and not -1.0 <= threshold <= 1.0:
            raise InvalidArgument(f"threshold must be in [-1, 1], got {threshold}", "threshold")
        for position, query in enumerate(queries):
            where = f"queries[{position}]"
            if not query.title.strip():
                raise InvalidArgument(f"{where}: title is empty", f"{where}.title")
            if len(query.title) > MAX_TITLE_CHARS or "\x00" in query.title:
                raise InvalidArgument(
                    f"{where}: title must be at most {MAX_TITLE_CHARS} characters without NUL",
                    f"{where}.title",
                )
            if len(_evidence_text(query)) > MAX_EVIDENCE_CHARS or "\x00" in _evidence_text(query):
                raise InvalidArgument(
                    f"{where}: skills and description must be at most {MAX_EVIDENCE_CHARS} "
                    "characters together, without NUL", f"{where}.skills",
                )


def _evidence_text(query: TitleQuery) -> str:
    parts = [", ".join(skill.strip() for skill in query.skills if skill.strip()),
             query.description.strip()]
    return ". ".join(part for part in parts if part)


def _top(scores: np.ndarray, k: int) -> list[int]:
    k = min(k, len(scores))
    best = np.argpartition(-scores, k - 1)[:k]
    return [int(i) for i in best[np.argsort(-scores[best], kind="stable")]]


def _rows(vectors: list[np.ndarray], info: CollectionInfo) -> np.ndarray:
    if not vectors:
        return np.zeros((0, info.dimensions), dtype=np.float32)
    matrix = np.stack(vectors).astype(np.float32)
    return matrix / np.maximum(np.linalg.norm(matrix, axis=1, keepdims=True), 1e-12)
