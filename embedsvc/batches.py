"""Splitting a large embed or upsert into requests the server accepts (its `Info` limits).

Both clients use it, the blocking one with threads and the async one with tasks, to send the
requests concurrently: transport and conversion overlap inference, and the server's batcher
coalesces the requests that are queued at once.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from embedsvc.errors import InvalidArgument
from embedsvc.types import DocumentInput, Limits

# Leave room for the request's other fields and protobuf framing.
REQUEST_BYTES_SHARE = 0.8
PER_ITEM_OVERHEAD = 16
DEFAULT_CONCURRENCY = 4
# Texts per embed request at most, below the server's limit too: with a few requests in flight
# the server still batches hundreds of texts at once, and each request's wait stays short
# enough for its deadline on a busy server.
MAX_TEXTS_PER_REQUEST = 128


def embed_groups(texts: Sequence[str], limits: Limits) -> list[list[int]]:
    """Positions of ``texts`` in requests of at most ``max_batch_texts`` (and
    MAX_TEXTS_PER_REQUEST) texts and a share of ``max_request_bytes``. Texts are grouped by
    length, so one request's texts pad alike (as one sorted in-process ``encode`` call would);
    `gather` puts the vectors back in order."""
    order = sorted(range(len(texts)), key=lambda position: len(texts[position]))
    sizes = [len(texts[position].encode()) + PER_ITEM_OVERHEAD for position in order]
    per_request = min(limits.max_batch_texts, MAX_TEXTS_PER_REQUEST)
    return [[order[i] for i in group]
            for group in _bounded(sizes, per_request, limits.max_request_bytes)]


def upsert_groups(documents: Sequence[DocumentInput], limits: Limits) -> list[list[int]]:
    """Positions of ``documents`` in requests within ``max_documents_per_upsert`` and a share of
    ``max_request_bytes``, in order. Requests run concurrently, so an id may appear only once."""
    seen: set[str] = set()
    for position, document in enumerate(documents):
        if document.id in seen:
            raise InvalidArgument(
                f"documents[{position}].id {document.id!r} appears twice; send each id once",
                f"documents[{position}].id",
            )
        seen.add(document.id)
    sizes = [len(d.text.encode()) + len(repr(d.metadata)) + PER_ITEM_OVERHEAD for d in documents]
    return _bounded(sizes, limits.max_documents_per_upsert, limits.max_request_bytes)


def _bounded(sizes: Sequence[int], max_items: int, max_bytes: int) -> list[list[int]]:
    """Consecutive groups of indexes into ``sizes`` within both bounds; an item too large on
    its own still gets a group (the server then says what is wrong with it)."""
    budget = int(max_bytes * REQUEST_BYTES_SHARE)
    groups: list[list[int]] = []
    current: list[int] = []
    used = 0
    for index, size in enumerate(sizes):
        if current and (len(current) >= max_items or used + size > budget):
            groups.append(current)
            current, used = [], 0
        current.append(index)
        used += size
    if current:
        groups.append(current)
    return groups


def gather(groups: Sequence[Sequence[int]], parts: Sequence[np.ndarray]) -> np.ndarray:
    """The rows of each group's result back at their positions."""
    total = sum(len(group) for group in groups)
    width = parts[0].shape[1] if parts else 0
    out = np.empty((total, width), dtype=np.float32)
    for group, part in zip(groups, parts, strict=True):
        out[list(group)] = part
    return out
