"""Admission: at most N calls run at once, new calls are refused while draining, and health
checks always pass, so a busy or stopping server still answers its orchestrator at once."""

from __future__ import annotations

import threading

import grpc

from embedsvc.server.handlers import with_release

OPEN_PREFIXES = ("/grpc.health.v1.Health/", "/grpc.reflection.")


class Admission(grpc.ServerInterceptor):
    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.active = 0
        self.draining = False
        self._cond = threading.Condition()

    def intercept_service(self, continuation, handler_call_details):
        handler = continuation(handler_call_details)
        if handler is None or handler_call_details.method.startswith(OPEN_PREFIXES):
            return handler
        return with_release(handler, self._release, admit=self.enter)

    def enter(self) -> tuple[grpc.StatusCode, str] | None:
        """Admit one call (the caller must `leave` after it), or say why it is refused; the
        HTTP endpoint shares the same count."""
        with self._cond:
            if self.draining:
                return (grpc.StatusCode.UNAVAILABLE,
                        "the server is shutting down; retry against another one")
            if self.active >= self.limit:
                return (
                    grpc.StatusCode.RESOURCE_EXHAUSTED,
                    f"{self.limit} calls are running (EMBEDSVC_MAX_CONCURRENT_RPCS); retry with "
                    "backoff",
                )
            self.active += 1
        return None

    def leave(self) -> None:
        self._release(None)

    def _release(self, _context: grpc.ServicerContext | None) -> None:
        with self._cond:
            self.active -= 1
            self._cond.notify_all()

    def drain(self, timeout: float) -> bool:
        """Refuse new calls and wait for the running ones; False if some outlived ``timeout``."""
        with self._cond:
            self.draining = True
            return self._cond.wait_for(lambda: self.active == 0, timeout)
