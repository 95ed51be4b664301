"""One indexing run: walk, diff against the store by content hash, upsert, prune, summarize.

Every batch is one atomic upsert, so a run killed at any point leaves whole documents; the
next run sees them as unchanged and finishes the rest. Nothing is embedded twice.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from embedsvc.errors import AlreadyExists, EmbedsvcError, InvalidArgument, NotFound
from embedsvc.ports import EmbedsvcApi
from embedsvc.types import DocumentInput, PreparedDocument, UpsertResult
from indexer.walk import Skipped, SourceFile, Unreadable, root_prefixes, walk

log = logging.getLogger(__name__)
BATCH_DOCUMENTS = 8
BATCH_CHARS = 400_000


@dataclass
class Summary:
    seen: int = 0
    new: int = 0
    changed: int = 0
    unchanged: int = 0
    deleted: int = 0
    failed: int = 0
    skipped: int = 0
    embedded: int = 0
    reused: int = 0
    chunks_deleted: int = 0
    tokens: int = 0
    seconds: float = 0.0
    problems: list[dict[str, str]] = field(default_factory=list)
    pruned: list[str] = field(default_factory=list)  # ids deleted because their file is gone
    workers: dict[str, Any] = field(default_factory=dict)  # how a distributed prepare went

    def as_json(self) -> dict[str, Any]:
        extra = {"workers": self.workers} if self.workers else {}
        return {
            "files": {"seen": self.seen, "new": self.new, "changed": self.changed,
                      "unchanged": self.unchanged, "deleted": self.deleted,
                      "failed": self.failed, "skipped": self.skipped},
            "chunks": {"embedded": self.embedded, "reused": self.reused,
                       "deleted": self.chunks_deleted},
            "tokens": self.tokens,
            "seconds": round(self.seconds, 3),
            "problems": self.problems,
            "pruned": self.pruned,
            **extra,
        }


@dataclass(frozen=True)
class IndexOptions:
    include: Sequence[str] = ()
    exclude: Sequence[str] = ()
    max_bytes: int = 1_000_000
    prune: bool = True
    skip_dirs: Sequence[Path] = ()  # e.g. the data dir itself, when it lies under a root
    base: Path | None = None  # what ids are relative to (see walk.id_base)
    collection_options: dict[str, Any] = field(default_factory=dict)


Progress = Callable[[int, int, int], None]  # (documents done, documents to do, tokens so far)
Pending = tuple[DocumentInput, bool]  # a new or changed document, and whether it is new
# Writes the pending documents into the collection, recording each outcome in the summary.
Writer = Callable[[EmbedsvcApi, str, list[Pending], Summary, Progress | None], None]
Item = TypeVar("Item", DocumentInput, PreparedDocument)
T = TypeVar("T")


def run_index(
    backend: EmbedsvcApi, roots: Sequence[Path], collection: str, options: IndexOptions,
    progress: Progress | None = None, writer: Writer | None = None,
) -> Summary:
    """Index ``roots``: ``writer`` (by default `write_batches`, the server embeds) writes
    what is new or changed, in walk order; then files that are gone are pruned."""
    started = time.monotonic()
    summary = Summary()
    ensure_collection(backend, collection, options.collection_options)
    prefixes = root_prefixes(roots, options.base)
    stored: dict[str, str] = {}
    for prefix in sorted(set(prefixes)):
        stored.update(
            (doc.id, doc.content_hash) for doc in backend.document_summaries(collection, prefix)
        )

    pending: list[Pending] = []
    present: set[str] = set()
    files = walk(roots, options.include, options.exclude, options.max_bytes, options.skip_dirs,
                 options.base)
    for item in files:
        present.add(item.doc_id)
        if isinstance(item, Skipped):
            summary.skipped += 1
            summary.problems.append({"path": item.doc_id, "skipped": item.reason})
            continue
        summary.seen += 1
        if isinstance(item, Unreadable):
            fail(summary, item.doc_id, item.error)
            continue
        document = _document(item)
        known = stored.get(item.doc_id)
        if known == document.content_hash:
            summary.unchanged += 1
        else:
            pending.append((document, known is None))

    (writer or write_batches)(backend, collection, pending, summary, progress)

    if options.prune:
        gone = [doc_id for doc_id in stored if doc_id not in present]
        for start in range(0, len(gone), 1000):
            result = backend.delete_documents(collection, gone[start : start + 1000])
            summary.deleted += len(result.deleted)
            summary.pruned.extend(result.deleted)
            summary.chunks_deleted += result.chunks_deleted
    summary.seconds = time.monotonic() - started
    return summary


def ensure_collection(backend: EmbedsvcApi, name: str, options: dict[str, Any]) -> bool:
    """Create the collection unless it exists; True when it was created."""
    try:
        backend.get_collection(name)
        return False
    except NotFound:
        pass
    try:
        backend.create_collection(name, **options)
    except AlreadyExists:  # a retried create whose first answer was lost
        return False
    return True


def write_batches(
    backend: EmbedsvcApi, collection: str, pending: list[Pending], summary: Summary,
    progress: Progress | None,
) -> None:
    """Upsert the documents in batches: the backend chunks and embeds them."""
    done = 0
    if progress:
        progress(done, len(pending), 0)
    for batch in batches(pending, lambda item: len(item[0].text)):
        commit_batch(lambda documents: backend.upsert(collection, documents), batch, summary)
        done += len(batch)
        if progress:
            progress(done, len(pending), summary.tokens)


def _document(source: SourceFile) -> DocumentInput:
    return DocumentInput(source.doc_id, source.text, source.language, source.metadata)


def _plain(item: DocumentInput | PreparedDocument) -> DocumentInput:
    return item if isinstance(item, DocumentInput) else item.document


def batches(
    items: Iterable[T], chars_of: Callable[[T], int], documents: int = BATCH_DOCUMENTS,
    chars: int = BATCH_CHARS,
) -> Iterator[list[T]]:
    """Consecutive items in groups of at most ``documents`` items and ``chars`` characters
    (a larger item goes alone), in order."""
    current: list[T] = []
    size = 0
    for item in items:
        length = chars_of(item)
        if current and (len(current) >= documents or size + length > chars):
            yield current
            current, size = [], 0
        current.append(item)
        size += length
    if current:
        yield current


def commit_batch(
    send: Callable[[list[Item]], list[UpsertResult]], batch: list[tuple[Item, bool]],
    summary: Summary,
) -> None:
    """Send a batch; if it is refused as invalid, retry one by one so one bad file fails
    alone. Retryable refusals were retried by the backend; any other refusal fails the batch."""
    try:
        results = send([item for item, _ in batch])
    except InvalidArgument as error:
        if len(batch) == 1:
            fail(summary, _plain(batch[0][0]).id, str(error))
            return
        for item in batch:
            commit_batch(send, [item], summary)
        return
    except EmbedsvcError as error:
        for item, _ in batch:
            fail(summary, _plain(item).id, str(error))
        return
    for (_, is_new), result in zip(batch, results, strict=True):
        if is_new:
            summary.new += 1
        else:
            summary.changed += 1
        summary.embedded += result.embedded
        summary.reused += result.reused
        summary.chunks_deleted += result.deleted
        summary.tokens += result.tokens_embedded


def fail(summary: Summary, doc_id: str, message: str) -> None:
    summary.failed += 1
    summary.problems.append({"path": doc_id, "error": message})
    log.warning("%s: %s", doc_id, message)



