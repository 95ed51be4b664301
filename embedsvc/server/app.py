"""Server lifecycle: load, listen, report health, save indexes, drain on SIGTERM."""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
from collections.abc import Iterator
from concurrent import futures

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from opentelemetry.instrumentation.grpc import server_interceptor

from embedsvc import tracing
from embedsvc.config import Settings
from embedsvc.core import Core
from embedsvc.errors import FailedPrecondition, NotFound
from embedsvc.metrics import Exposition
from embedsvc.server.admission import Admission
from embedsvc.server.auth import ApiKeyInterceptor
from embedsvc.server.handlers import add_guarded
from embedsvc.server.observe import RequestMetrics
from embedsvc.server.openai_http import HttpServer, OpenAIEndpoint
from embedsvc.server.registry import SERVICES
from embedsvc.types import LEVELS

log = logging.getLogger(__name__)
SERVICE_NAMES = [service.name for service in SERVICES]
# Threads beyond the admitted calls: health checks and refusals always find one free.
RESERVED_THREADS = 4
RESPONSE_GRACE = 5.0  # seconds for finished calls to send their responses after the drain
SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


class Server:
    """A gRPC server around a loaded core; health turns SERVING only once both are ready, and
    NOT_SERVING while the database is unreachable or the server drains."""

    def __init__(self, settings: Settings, core: Core | None = None) -> None:
        self.settings = settings
        self.health = health.HealthServicer()
        self._set_health(NOT_SERVING)
        self.core = core or Core(settings)
        self.admission = Admission(settings.max_concurrent_rpcs)
        if settings.otlp_endpoint:
            tracing.configure(tracing.otlp_provider(settings.otlp_endpoint))
        interceptors: list[grpc.ServerInterceptor] = [RequestMetrics()]
        if tracing.provider() is not None:
            interceptors.append(server_interceptor(tracer_provider=tracing.provider()))
        if settings.api_key:
            interceptors.append(ApiKeyInterceptor(settings.api_key))
        interceptors.append(self.admission)
        self.grpc = grpc.server(
            futures.ThreadPoolExecutor(settings.max_concurrent_rpcs + RESERVED_THREADS),
            interceptors=interceptors,
            options=[
                ("grpc.max_receive_message_length", settings.max_request_bytes),
                ("grpc.max_send_message_length", settings.max_request_bytes),
                ("grpc.so_reuseport", 0),  # a second server on this port fails to bind
            ],
        )
        for service in SERVICES:
            add_guarded(service.add_to_server, service.make(self.core), self.grpc)
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self.grpc)
        reflection.enable_server_reflection(
            [*SERVICE_NAMES, health.SERVICE_NAME, reflection.SERVICE_NAME], self.grpc
        )
        # Bind before loading the model, so a taken port fails at once, not after the load.
        self.port = self._listen(f"{settings.host}:{settings.port}")
        self.core.info()  # load the default model now: SERVING means ready to embed
        self._stopped = threading.Event()
        self._database_up = True
        self.metrics: Exposition | None = None
        self.http: HttpServer | None = None

    def _listen(self, address: str) -> int:
        settings = self.settings
        try:
            if settings.tls_cert_file and settings.tls_key_file:
                credentials = grpc.ssl_server_credentials(
                    [(settings.tls_key_file.read_bytes(), settings.tls_cert_file.read_bytes())]
                )
                return self.grpc.add_secure_port(address, credentials)
            return self.grpc.add_insecure_port(address)
        except RuntimeError:
            self.core.close()
            raise FailedPrecondition(
                f"cannot listen on {address}: the port is in use (another embedsvc server?) or "
                "not available; pick another with --port"
            ) from None

    def _set_health(self, status: int) -> None:
        for name in ["", *SERVICE_NAMES]:
            self.health.set(name, status)

    def start(self) -> None:
        self.grpc.start()
        threading.Thread(target=self._flush_loop, name="index-flusher", daemon=True).start()
        threading.Thread(target=self._watch_database, name="db-watch", daemon=True).start()
        if self.settings.metrics_port:
            self.metrics = Exposition(self.settings.host, self.settings.metrics_port,
                                      self._index_sizes)
            log.info("metrics on http://%s:%d/metrics", self.settings.host, self.metrics.port)
        if self.settings.http_port:
            endpoint = OpenAIEndpoint(self.core, self.settings, self.admission)
            self.http = HttpServer(endpoint.app, self.settings.host, self.settings.http_port)
            self.http.start()
            log.info("OpenAI-compatible HTTP on http://%s:%d/v1", self.settings.host,
                     self.http.port)
        self._set_health(SERVING)
        log.info("embedsvc serving on %s:%d (data dir %s)", self.settings.host, self.port,
                 self.settings.data_dir)

    def _index_sizes(self) -> Iterator[tuple[str, str, int]]:
        vectors = self.core.storage.vectors
        for info in self.core.storage.repository.list_collections():
            for level in LEVELS:
                with contextlib.suppress(NotFound):  # created or dropped meanwhile
                    yield info.name, level, vectors.count(info, level)

    def _flush_loop(self) -> None:
        while not self._stopped.wait(self.settings.flush_interval):
            try:
                self.core.flush()
            except Exception:
                log.exception("saving the vector index failed; will retry")

    def _watch_database(self) -> None:
        """Health follows the database: NOT_SERVING while it is unreachable."""
        while not self._stopped.wait(self.settings.health_interval):
            up = self.core.storage.repository.ping()
            if up != self._database_up and not self._stopped.is_set():
                self._database_up = up
                log.warning("database %s", "reachable again" if up else "unreachable")
                self._set_health(SERVING if up else NOT_SERVING)

    def stop(self) -> None:
        """Drain: NOT_SERVING first (health keeps answering), refuse new calls, let the running
        ones finish (up to shutdown_grace), then save and release."""
        if self._stopped.is_set():
            return
        self._stopped.set()
        grace = self.settings.shutdown_grace
        log.info("shutting down: draining requests for up to %ss", grace)
        self._set_health(NOT_SERVING)
        if not self.admission.drain(grace):
            log.warning("calls still running after %ss; cancelling them", grace)
        # The handlers have returned, but their responses may still be on the way out, and
        # stop(0) would cancel them: the client sees UNAVAILABLE for a call that succeeded.
        self.grpc.stop(RESPONSE_GRACE).wait(RESPONSE_GRACE + 5)
        if self.metrics is not None:
            self.metrics.close()
        if self.http is not None:
            self.http.close()
        self.core.close()
        log.info("embedsvc stopped; indexes saved")

    def wait_for_signal(self) -> None:
        done = threading.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: done.set())
        while not done.wait(0.5):  # a timed wait keeps the main thread responsive to signals
            pass
        self.stop()
