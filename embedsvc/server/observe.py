"""Per-call metrics (count by status code, latency) and tracing spans for every RPC."""

from __future__ import annotations

import time

import grpc

from embedsvc import metrics
from embedsvc.server.handlers import with_release


class RequestMetrics(grpc.ServerInterceptor):
    def intercept_service(self, continuation, handler_call_details):
        handler = continuation(handler_call_details)
        if handler is None:
            return None
        method = handler_call_details.method
        started = time.monotonic()

        def record(context: grpc.ServicerContext) -> None:
            code = context.code() or grpc.StatusCode.OK
            metrics.REQUESTS.labels(method, code.name).inc()
            metrics.REQUEST_SECONDS.labels(method).observe(time.monotonic() - started)

        return with_release(handler, record)
