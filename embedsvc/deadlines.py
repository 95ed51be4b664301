"""The deadline of the request being served, for work far below the service call (SQL).

The gRPC layer sets it around each call; the repository reads it to stop a query when the
caller can no longer use its answer. One value per thread of execution (a context variable).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_deadline: ContextVar[float | None] = ContextVar("embedsvc_deadline", default=None)


@contextmanager
def scoped(deadline: float | None) -> Iterator[None]:
    """Run the block under ``deadline`` (a ``time.monotonic()`` value; None = none)."""
    token = _deadline.set(deadline)
    try:
        yield
    finally:
        _deadline.reset(token)


def remaining() -> float | None:
    """Seconds left for the current request, or None without a deadline."""
    deadline = _deadline.get()
    return None if deadline is None else deadline - time.monotonic()
