"""Server lifecycle: load, listen, report health, save indexes, drain on SIGTERM."""

from __future__ import annotations

import logging
import signal
import threading
from concurrent import futures

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from embedsvc.config import Settings
from embedsvc.core import Core
from embedsvc.server.auth import ApiKeyInterceptor
from embedsvc.server.registry import SERVICES

log = logging.getLogger(__name__)
SERVICE_NAMES = [service.name for service in SERVICES]
MAX_CONCURRENT_RPCS = 256


class Server:
    """A gRPC server around a loaded core; health turns SERVING only once both are ready."""

    def __init__(self, settings: Settings, core: Core | None = None) -> None:
        self.settings = settings
        self.health = health.HealthServicer()
        self._set_health(health_pb2.HealthCheckResponse.NOT_SERVING)
        self.core = core or Core(settings)
        self.core.info()  # load the default model now: SERVING means ready to embed
        options = [
            ("grpc.max_receive_message_length", settings.max_request_bytes),
            ("grpc.max_send_message_length", settings.max_request_bytes),
        ]
        interceptors = [ApiKeyInterceptor(settings.api_key)] if settings.api_key else []
        self.grpc = grpc.server(
            futures.ThreadPoolExecutor(max_workers=settings.workers),
            interceptors=interceptors,
            options=options,
            maximum_concurrent_rpcs=MAX_CONCURRENT_RPCS,
        )
        for service in SERVICES:
            service.add_to_server(service.make(self.core), self.grpc)
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self.grpc)
        reflection.enable_server_reflection(
            [*SERVICE_NAMES, health.SERVICE_NAME, reflection.SERVICE_NAME], self.grpc
        )
        address = f"{settings.host}:{settings.port}"
        if settings.tls_cert_file and settings.tls_key_file:
            credentials = grpc.ssl_server_credentials(
                [(settings.tls_key_file.read_bytes(), settings.tls_cert_file.read_bytes())]
            )
            self.port = self.grpc.add_secure_port(address, credentials)
        else:
            self.port = self.grpc.add_insecure_port(address)
        self._stopped = threading.Event()

    def _set_health(self, status: int) -> None:
        for name in ["", *SERVICE_NAMES]:
            self.health.set(name, status)

    def start(self) -> None:
        self.grpc.start()
        threading.Thread(target=self._flush_loop, name="index-flusher", daemon=True).start()
        self._set_health(health_pb2.HealthCheckResponse.SERVING)
        log.info("embedsvc serving on %s:%d (data dir %s)", self.settings.host, self.port,
                 self.settings.data_dir)

    def _flush_loop(self) -> None:
        while not self._stopped.wait(self.settings.flush_interval):
            try:
                self.core.flush()
            except Exception:
                log.exception("saving the vector index failed; will retry")

    def stop(self) -> None:
        """Drain: NOT_SERVING first, let in-flight requests finish, then save and release."""
        if self._stopped.is_set():
            return
        self._stopped.set()
        log.info("shutting down: draining requests for up to %ss", self.settings.shutdown_grace)
        self._set_health(health_pb2.HealthCheckResponse.NOT_SERVING)
        self.grpc.stop(self.settings.shutdown_grace).wait(self.settings.shutdown_grace + 5)
        self.core.close()
        log.info("embedsvc stopped; indexes saved")

    def wait_for_signal(self) -> None:
        done = threading.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: done.set())
        while not done.wait(0.5):  # a timed wait keeps the main thread responsive to signals
            pass
        self.stop()
