"""Server-side batching: many small concurrent requests become few well-packed forward passes.

One worker thread owns inference. Requests wait in a bounded queue (full -> RESOURCE_EXHAUSTED,
so callers back off instead of piling up memory). The worker takes everything queued for the
oldest request's group (e.g. an encoder profile), sorts those texts by length and cuts them into
batches whose *padded* cost, longest text x batch size, fits a token budget: the forward pass
costs what the padding makes it cost, not what the texts hold. Texts of callers that hung up or
ran out of time are dropped before they reach the model.

Interactive requests (a query someone waits on) are served before bulk ones (documents being
indexed): between two passes of bulk work the worker serves the interactive requests queued
meanwhile (one window of them), so a search waits for at most one pass of an upsert, never for
all of it, and a stream of searches cannot starve an upsert either.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Hashable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field

import numpy as np

from embedsvc import metrics
from embedsvc.errors import FailedPrecondition, InvalidArgument, ResourceExhausted

log = logging.getLogger(__name__)

EncodeFn = Callable[[list[str], Hashable], np.ndarray]
BULK, INTERACTIVE = 0, 1


@dataclass(eq=False)
class _Request:
    texts: Sequence[str]
    token_counts: Sequence[int]
    group: Hashable
    is_active: Callable[[], bool] | None
    deadline: float | None
    priority: int = BULK
    submitted: float = field(default_factory=time.monotonic)
    started: bool = False
    future: Future = field(default_factory=Future)
    rows: np.ndarray | None = None
    filled: int = 0
    finished: bool = False

    def wanted(self) -> bool:
        """Still worth computing: not finished, not cancelled, caller there, deadline ahead."""
        if self.future.done():
            return False
        if self.deadline is not None and time.monotonic() >= self.deadline:
            return False
        try:
            return self.is_active is None or bool(self.is_active())
        except Exception:
            log.exception("is_active() failed; treating the caller as gone")
            return False


@dataclass(frozen=True)
class _Item:
    """One text of one request."""

    request: _Request
    index: int

    @property
    def tokens(self) -> int:
        return self.request.token_counts[self.index]


class Batcher:
    """Coalesces concurrent ``submit`` calls into token-budgeted batches for ``encode_fn``.

    ``encode_fn(texts, group)`` returns one float32 row per text; it only ever sees texts of
    one ``group`` at a time (any hashable: an encoder profile, or (profile, normalize)).
    """

    def __init__(
        self, encode_fn: EncodeFn, max_batch_tokens: int = 16384, max_queue_texts: int = 4096,
        max_pass_texts: int = 32,
    ) -> None:
        if min(max_batch_tokens, max_queue_texts, max_pass_texts) < 1:
            raise ValueError("max_batch_tokens, max_queue_texts and max_pass_texts must be > 0")
        self.encode_fn = encode_fn
        self.max_batch_tokens = max_batch_tokens
        # On a CPU, passes beyond a few dozen texts gain nothing and pad short texts to the
        # longest of many: measured 2.4x padded tokens for 128 queued queries.
        self.max_pass_texts = max_pass_texts
        self.max_queue_texts = max_queue_texts
        self._queue: deque[_Request] = deque()
        self._pending_texts = 0  # texts accepted and not yet finished, queued or in the worker
        self._served_interactive = False  # what the last window was, to alternate with bulk
        self._closed = False
        self._cond = threading.Condition()
        self._worker = threading.Thread(target=self._run, name="embed-batcher", daemon=True)
        self._worker.start()

    def submit(
        self,
        texts: Sequence[str],
        token_counts: Sequence[int],
        group: Hashable,
        is_active: Callable[[], bool] | None = None,
        deadline: float | None = None,
        priority: int = BULK,
    ) -> Future[np.ndarray]:
        """Queue ``texts``; the future gets their vectors in order.

        ``token_counts`` are the tokens the model will see (capped at its window): they price the
        padding. ``is_active`` (e.g. a gRPC context's) and ``deadline`` (a ``time.monotonic()``
        value) let the worker skip work nobody waits for; such a future ends up cancelled.
        """
        if not texts:
            raise InvalidArgument("nothing to encode: texts is empty")
        if len(token_counts) != len(texts):
            raise InvalidArgument(
                f"{len(texts)} texts but {len(token_counts)} token counts; give one per text"
            )
        if len(texts) > self.max_queue_texts:
            raise InvalidArgument(
                f"{len(texts)} texts in one request, more than the queue holds "
                f"({self.max_queue_texts}); send them in smaller requests"
            )
        request = _Request(texts, token_counts, group, is_active, deadline, priority)
        with self._cond:
            if self._closed:
                raise FailedPrecondition("the encoder is shutting down")
            if self._pending_texts + len(texts) > self.max_queue_texts:
                raise ResourceExhausted(
                    f"the encoder queue is full ({self._pending_texts} texts waiting, at most "
                    f"{self.max_queue_texts}); retry with backoff"
                )
            self._pending_texts += len(texts)
            metrics.QUEUE_TEXTS.set(self._pending_texts)
            self._queue.append(request)
            self._cond.notify()
        return request.future

    def close(self, timeout: float | None = None) -> None:
        """Refuse new work, finish what is queued, and stop the worker."""
        with self._cond:
            self._closed = True
            self._cond.notify()
        self._worker.join(timeout)

    def _run(self) -> None:
        while (window := self._take_window()) is not None:
            try:
                self._process(window)
            except Exception as error:  # a bug here must not leave callers waiting forever
                log.exception("batch worker failed; failing %d requests", len(window))
                for request in window:
                    self._fail(request, error)

    def _take_window(self) -> list[_Request] | None:
        """Everything queued at the top priority for its oldest request's group; ``None`` once
        closed and drained."""
        with self._cond:
            while not self._queue:
                if self._closed:
                    return None
                self._cond.wait()
            priorities = {request.priority for request in self._queue}
            # Bulk work waiting behind a stream of queries goes next.
            alternate = len(priorities) > 1 and self._served_interactive
            priority = BULK if alternate else max(priorities)
            self._served_interactive = priority == INTERACTIVE
            return self._pop_window(priority)

    def _take_interactive(self) -> list[_Request] | None:
        with self._cond:
            if any(request.priority == INTERACTIVE for request in self._queue):
                return self._pop_window(INTERACTIVE)
            return None

    def _pop_window(self, priority: int) -> list[_Request]:
        """Take the queued requests of ``priority`` that share the oldest one's group."""
        group = next(r.group for r in self._queue if r.priority == priority)
        window = [r for r in self._queue if r.group == group and r.priority == priority]
        self._queue = deque(r for r in self._queue if r.group != group or r.priority != priority)
        return window

    def _process(self, window: list[_Request]) -> None:
        """Encode the window's texts longest first, batch by batch, dropping unwanted ones."""
        items = [_Item(request, i) for request in window for i in range(len(request.texts))]
        items.sort(key=lambda item: item.tokens, reverse=True)
        bulk = window[0].priority < INTERACTIVE
        while items:
            live = {request for request in {item.request for item in items} if self._keep(request)}
            items = [item for item in items if item.request in live]
            batch = self._cut_batch(items)
            items = items[len(batch):]
            if batch:
                self._encode_batch(batch)
            # Between two bulk passes, interactive work queued meanwhile goes first (one
            # window of it), so neither waits long: a query for one pass, an upsert for every
            # other one.
            if bulk and items and (urgent := self._take_interactive()) is not None:
                self._process(urgent)

    def _cut_batch(self, items: list[_Item]) -> list[_Item]:
        """Leading items (longest first) whose padded cost fits the budget; at least one."""
        if not items:
            return []
        longest = max(items[0].tokens, 1)
        return items[: max(1, min(self.max_pass_texts, self.max_batch_tokens // longest))]

    def _keep(self, request: _Request) -> bool:
        if request.wanted():
            return True
        request.future.cancel()
        self._finish(request)
        return False

    def _encode_batch(self, batch: list[_Item]) -> None:
        group = batch[0].request.group
        started = time.monotonic()
        for request in {item.request for item in batch}:
            if not request.started:
                request.started = True
                metrics.QUEUE_SECONDS.observe(started - request.submitted)
        try:
            texts = [item.request.texts[item.index] for item in batch]
            vectors = np.asarray(self.encode_fn(texts, group))
            metrics.INFERENCE_SECONDS.observe(time.monotonic() - started)
            metrics.BATCH_TEXTS.observe(len(batch))
            metrics.BATCH_TOKENS.observe(max(item.tokens for item in batch) * len(batch))
            if len(vectors) != len(batch):
                raise RuntimeError(f"encode_fn returned {len(vectors)} rows for {len(batch)} texts")
        except Exception as error:
            log.exception("encoding a batch of %d texts failed", len(batch))
            for request in {item.request for item in batch}:
                self._fail(request, error)
            return
        for item, vector in zip(batch, vectors, strict=True):
            self._fill(item, vector)

    def _fill(self, item: _Item, vector: np.ndarray) -> None:
        request = item.request
        if request.rows is None:
            request.rows = np.empty((len(request.texts), len(vector)), dtype=np.float32)
        request.rows[item.index] = vector
        request.filled += 1
        if request.filled == len(request.texts):
            if request.future.set_running_or_notify_cancel():
                request.future.set_result(request.rows)
            self._finish(request)

    def _fail(self, request: _Request, error: Exception) -> None:
        if not request.finished and request.future.set_running_or_notify_cancel():
            request.future.set_exception(error)
        self._finish(request)

    def _finish(self, request: _Request) -> None:
        """Give the request's texts back to the queue budget, exactly once."""
        if request.finished:
            return
        request.finished = True
        with self._cond:
            self._pending_texts -= len(request.texts)
            metrics.QUEUE_TEXTS.set(self._pending_texts)
