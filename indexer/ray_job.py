"""`indexer index --ray`: `prepare` (chunk, hash, embed) on Ray encoder actors, commit here.

The walk, the diff against the store by content hash and the reads stay in the driver, which
sends only new and changed documents. Ray Data maps them in batches over a pool of encoder
actors (each loads the collection's model once); the prepared chunks and vectors come back in
walk order and are committed in batches through `upsert_prepared`, which checks the model
fingerprint. A chunk its document already stores is not embedded: it travels without a vector
and the commit keeps the stored one. Every batch is one atomic commit, so a run killed at any
point resumes like a plain one.
"""

from __future__ import annotations

import logging
import os
import time
from collections import defaultdict
from collections.abc import Iterator, Set
from dataclasses import dataclass
from typing import Any

import numpy as np

from embedsvc import convert
from embedsvc.errors import EmbedsvcError, FailedPrecondition
from embedsvc.ports import EmbedsvcApi
from embedsvc.types import CollectionInfo, DocumentInput, PreparedDocument
from embedsvc.v1 import index_pb2, types_pb2
from indexer.job import Pending, Progress, Summary, batches, commit_batch, fail
from indexer.ray_cluster import ray_session

# What one actor call prepares: at most BATCH_DOCUMENTS documents and this many characters
# (about 4,000 tokens, some 30 chunks): small enough that every actor gets some of a small run,
# large enough to fill forward passes.
UNIT_CHARS = 16_000


class EncoderActor:
    """One encoder on a Ray worker: the collection's model, loaded once, preparing batches.

    A problem that stops every batch (the model is not there, or it is another model than
    the collection's) is returned as a fatal row rather than raised, so the driver can say it
    in one line."""

    def __init__(self, info: CollectionInfo) -> None:
        from embedsvc.config import Settings
        from embedsvc.encoding.registry import ModelRegistry

        self.info = info
        self.settings = Settings()
        self.worker = f"{os.uname().nodename}:{os.getpid()}"
        self.problem = ""
        self.models = ModelRegistry.from_settings(self.settings)
        try:
            self.encoder = self.models.get(info.model)
        except EmbedsvcError as error:
            self.problem = f"{self.worker}: {error}"
            return
        if self.encoder.fingerprint != info.model_fingerprint:
            self.problem = (
                f"{self.worker} has model {info.model!r} with fingerprint "
                f"{self.encoder.fingerprint}, but collection {info.name!r} was built with "
                f"fingerprint {info.model_fingerprint}; install the same model on every worker"
            )

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """One work unit (a row of lists: indexes, documents, stored hashes) in, one row per
        document out: the prepared document on the wire, or why it failed."""
        from embedsvc.services.documents import validate_documents

        started = time.perf_counter()
        indexes = [int(i) for unit in batch["index"] for i in unit]
        messages = [bytes(m) for unit in batch["document"] for m in unit]
        known = [set(hashes) for unit in batch["stored"] for hashes in unit]
        count = len(indexes)
        prepared, errors, embedded = [b""] * count, [""] * count, [0] * count
        if self.problem:
            return self._rows(indexes, prepared, [self.problem] * count, embedded, True, started)
        documents, stored, positions = [], [], []
        for position, message in enumerate(messages):
            document = convert.document_in(types_pb2.Document.FromString(message))
            try:  # the same checks as the server's, so one bad file fails alone
                validate_documents([document], 1, self.settings.max_text_chars)
            except EmbedsvcError as error:
                errors[position] = str(error)
                continue
            documents.append(document)
            stored.append(known[position])
            positions.append(position)
        for position, result in zip(positions, self._prepare(documents, stored), strict=True):
            if isinstance(result, str):
                errors[position] = result
                continue
            prepared[position] = convert.prepared_out(result).SerializeToString()
            embedded[position] = sum(1 for item in result.chunks if item.vector.size)
        return self._rows(indexes, prepared, errors, embedded, False, started)

    def _prepare(
        self, documents: list[DocumentInput], stored: list[Set[str]]
    ) -> list[PreparedDocument | str]:
        """All documents in one call; if that fails, one by one, so a failure is one file's."""
        from embedsvc.services.documents import prepare_for_commit

        if not documents:
            return []
        try:
            return list(prepare_for_commit(self.info, self.encoder, documents, stored))
        except EmbedsvcError as error:
            if len(documents) == 1:
                return [str(error)]
        return [self._prepare([document], [hashes])[0]
                for document, hashes in zip(documents, stored, strict=True)]

    def _rows(
        self, indexes: list[int], prepared: list[bytes], errors: list[str],
        embedded: list[int], fatal: bool, started: float,
    ) -> dict[str, np.ndarray]:
        count = len(indexes)
        share = (time.perf_counter() - started) / max(count, 1)
        return {
            "index": np.array(indexes, dtype=np.int64),
            "prepared": np.array(prepared, dtype=object),
            "error": np.array(errors, dtype=object),
            "fatal": np.full(count, fatal),
            "embedded": np.array(embedded, dtype=np.int64),
            "worker": np.array([self.worker] * count, dtype=object),
            "seconds": np.full(count, share),
        }


@dataclass
class _Workload:
    """What the actors did, per worker, and how long the driver spent committing."""

    documents: dict[str, int]
    chunks: dict[str, int]
    seconds: dict[str, float]
    commit_seconds: float = 0.0
    start_seconds: float = 0.0
    first_result_seconds: float = 0.0  # from the pipeline's start: actors started, models loaded
    shutdown_seconds: float = 0.0

    def as_json(self, address: str, actors: int) -> dict[str, Any]:
        per_actor = [
            {"worker": worker, "documents": self.documents[worker],
             "chunks_embedded": self.chunks[worker],
             "busy_seconds": round(self.seconds[worker], 3),
             "chunks_per_second": round(self.chunks[worker] / max(self.seconds[worker], 1e-9), 2)}
            for worker in sorted(self.documents)
        ]
        return {"ray": address, "actors": actors, "per_actor": per_actor,
                "start_seconds": round(self.start_seconds, 3),
                "first_result_seconds": round(self.first_result_seconds, 3),
                "commit_seconds": round(self.commit_seconds, 3),
                "shutdown_seconds": round(self.shutdown_seconds, 3)}


class RayWriter:
    """A `job.Writer` that prepares on Ray ``address`` (``local``: a new instance bound to
    127.0.0.1) with ``actors`` encoder actors of ``actor_cpus`` logical CPUs each."""

    def __init__(self, address: str, actors: int = 2, actor_cpus: float = 1.0) -> None:
        if actors < 1:
            raise ValueError("actors must be at least 1")
        self.address = address
        self.actors = actors
        self.actor_cpus = actor_cpus

    def __call__(
        self, backend: EmbedsvcApi, collection: str, pending: list[Pending], summary: Summary,
        progress: Progress | None,
    ) -> None:
        if progress:
            progress(0, len(pending), 0)
        if not pending:  # nothing to embed: Ray is not even started
            return
        info = backend.get_collection(collection)
        stored = [set() if is_new else _stored_hashes(backend, collection, document.id)
                  for document, is_new in pending]
        work = _Workload(defaultdict(int), defaultdict(int), defaultdict(float))
        began = time.perf_counter()
        cpus = max(os.cpu_count() or 1, int(np.ceil(self.actors * self.actor_cpus)))
        with ray_session(self.address, cpus) as ray:
            work.start_seconds = time.perf_counter() - began
            rows = self._prepared_rows(ray, info, pending, stored, work)
            done = 0

            def send(documents: list[PreparedDocument]) -> list:
                started = time.perf_counter()
                try:
                    return backend.upsert_prepared(collection, documents, info.model_fingerprint)
                finally:
                    work.commit_seconds += time.perf_counter() - started

            ready = self._ready(rows, pending, summary)
            for batch in batches(ready, lambda item: len(item[0].document.text)):
                commit_batch(send, batch, summary)
                done += len(batch)
                if progress:
                    progress(done, len(pending), summary.tokens)
            closing = time.perf_counter()
        work.shutdown_seconds = time.perf_counter() - closing
        summary.workers = work.as_json(self.address, self.actors)

    def _prepared_rows(
        self, ray: Any, info: CollectionInfo, pending: list[Pending], stored: list[set[str]],
        work: _Workload,
    ) -> Iterator[dict[str, Any]]:
        """The actors' output rows, in walk order (Ray keeps it; a buffer makes sure)."""
        context = ray.data.DataContext.get_current()
        context.execution_options.preserve_order = True
        context.enable_progress_bars = False
        logging.getLogger("ray.data").setLevel(logging.WARNING)
        units = [
            {"index": [index for index, _ in unit],
             "document": [convert.document_out(document).SerializeToString()
                          for _, (document, _) in unit],
             "stored": [sorted(stored[index]) for index, _ in unit]}
            for unit in batches(enumerate(pending), lambda item: len(item[1][0].text),
                                chars=UNIT_CHARS)
        ]
        dataset = ray.data.from_items(units, override_num_blocks=len(units)).map_batches(
            EncoderActor, fn_constructor_kwargs={"info": info}, batch_size=1,
            batch_format="numpy", num_cpus=self.actor_cpus,
            compute=ray.data.ActorPoolStrategy(size=min(self.actors, len(units))),
        )
        waiting: dict[int, dict[str, Any]] = {}
        expected = 0
        started = time.perf_counter()
        for row in dataset.iter_rows():
            if not work.first_result_seconds:
                work.first_result_seconds = time.perf_counter() - started
            if row["fatal"]:
                raise FailedPrecondition(str(row["error"]))
            worker = str(row["worker"])
            work.documents[worker] += 1
            work.chunks[worker] += int(row["embedded"])
            work.seconds[worker] += float(row["seconds"])
            waiting[int(row["index"])] = row
            while expected in waiting:
                yield waiting.pop(expected)
                expected += 1

    def _ready(
        self, rows: Iterator[dict[str, Any]], pending: list[Pending], summary: Summary
    ) -> Iterator[tuple[PreparedDocument, bool]]:
        """Prepared documents with whether each is new; failures are recorded as the plain
        run records them."""
        for row in rows:
            document, is_new = pending[int(row["index"])]
            if row["error"]:
                fail(summary, document.id, str(row["error"]))
                continue
            message = index_pb2.PreparedDocument.FromString(row["prepared"])
            yield convert.prepared_in(message), is_new


def _stored_hashes(backend: EmbedsvcApi, collection: str, document_id: str) -> set[str]:
    """Content hashes of the chunks the store holds for a changed document."""
    return {chunk.content_hash for chunk in backend.get_document(collection, document_id).chunks}
