"""The deadline and cancellation of the request being served, for work far below the service
call (SQL).

The gRPC layer sets both around each call; the repository reads them to stop a query when the
caller can no longer use its answer: its deadline passed, or it went away (a closed channel,
a cancelled call) without one. One value per thread of execution (a context variable).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar


class Cancellation:
    """Set once when the caller has gone; work in progress registers how to stop itself."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cancelled = False
        self._stops: list[Callable[[], None]] = []

    @property
    def cancelled(self) -> bool:
        return self._cancelled

    def cancel(self) -> None:
        """Stop every registered piece of work now (thread-safe; later calls do nothing)."""
        with self._lock:
            if self._cancelled:
                return
            self._cancelled = True
            stops = list(self._stops)
        for stop in stops:
            stop()

    @contextmanager
    def stopping_with(self, stop: Callable[[], None]) -> Iterator[None]:
        """Within the block, cancelling calls ``stop`` (at once if already cancelled)."""
        with self._lock:
            already = self._cancelled
            self._stops.append(stop)
        try:
            if already:
                stop()
            yield
        finally:
            with self._lock:
                self._stops.remove(stop)


_deadline: ContextVar[float | None] = ContextVar("embedsvc_deadline", default=None)
_cancellation: ContextVar[Cancellation | None] = ContextVar("embedsvc_cancellation", default=None)


@contextmanager
def scoped(deadline: float | None, cancellation: Cancellation | None = None) -> Iterator[None]:
    """Run the block under ``deadline`` (a ``time.monotonic()`` value; None = none) and, when
    given, ``cancellation`` (set by the transport when the caller goes away)."""
    deadline_token = _deadline.set(deadline)
    cancellation_token = _cancellation.set(cancellation)
    try:
        yield
    finally:
        _cancellation.reset(cancellation_token)
        _deadline.reset(deadline_token)


def remaining() -> float | None:
    """Seconds left for the current request, or None without a deadline."""
    deadline = _deadline.get()
    return None if deadline is None else deadline - time.monotonic()


def cancellation() -> Cancellation | None:
    """The current request's cancellation, or None outside a request."""
    return _cancellation.get()
