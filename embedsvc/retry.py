"""Retrying what a busy or restarting server refuses: UNAVAILABLE and RESOURCE_EXHAUSTED,
with exponential backoff and full jitter, for as long as the caller allows."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from typing import Any, TypeVar

from embedsvc.errors import ResourceExhausted, Unavailable

log = logging.getLogger(__name__)
T = TypeVar("T")
RETRYABLE = (Unavailable, ResourceExhausted)


def retrying(call: Callable[[], T], retry_for: float, first_wait: float = 0.2,
             max_wait: float = 5.0) -> T:
    """``call()``, again after each retryable refusal until ``retry_for`` seconds have passed."""
    deadline = time.monotonic() + retry_for
    wait = first_wait
    while True:
        try:
            return call()
        except RETRYABLE as error:
            left = deadline - time.monotonic()
            if left <= 0:
                raise
            pause = min(random.uniform(0, wait), left)  # full jitter
            log.warning("%s; retrying in %.1fs", error, pause)
            time.sleep(pause)
            wait = min(wait * 2, max_wait)


class Retrying:
    """Any object whose methods are retried with `retrying` (for idempotent APIs: every
    embedsvc call is, upserts included, as they are keyed by document id and content hash)."""

    def __init__(self, target: Any, retry_for: float) -> None:
        self._target = target
        self._retry_for = retry_for

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._target, name)
        if not callable(attribute) or name == "close":
            return attribute

        def retried(*args: Any, **kwargs: Any) -> Any:
            return retrying(lambda: attribute(*args, **kwargs), self._retry_for)

        return retried
