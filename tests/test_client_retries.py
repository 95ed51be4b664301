"""The client's retry policy, against a real gRPC server that refuses on purpose: UNAVAILABLE
and RESOURCE_EXHAUSTED are retried with backoff, other refusals and ``attempts=1`` are not."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent import futures

import grpc
import pytest

from embedsvc.client import Client
from embedsvc.errors import InvalidArgument, Unavailable
from embedsvc.v1 import embedding_pb2


class Refusing:
    """Answers Info with ``code`` for the first ``refusals`` calls, then with a real reply."""

    def __init__(self) -> None:
        self.code = grpc.StatusCode.UNAVAILABLE
        self.refusals = 0
        self.calls = 0
        self._lock = threading.Lock()

    def info(self, request: embedding_pb2.InfoRequest, context: grpc.ServicerContext):
        with self._lock:
            self.calls += 1
            refuse = self.calls <= self.refusals
        if refuse:
            context.abort(self.code, "refused on purpose")
        return embedding_pb2.InfoResponse(version="test")


@pytest.fixture
def refusing() -> Iterator[tuple[Refusing, str]]:
    servicer = Refusing()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    server.add_generic_rpc_handlers([grpc.method_handlers_generic_handler(
        "embedsvc.v1.EmbeddingService", {"Info": grpc.unary_unary_rpc_method_handler(
            servicer.info,
            request_deserializer=embedding_pb2.InfoRequest.FromString,
            response_serializer=embedding_pb2.InfoResponse.SerializeToString)})])
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    yield servicer, f"127.0.0.1:{port}"
    server.stop(None)


@pytest.mark.parametrize("code", [grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.RESOURCE_EXHAUSTED])
def test_transient_refusals_are_retried_until_an_answer(refusing, code):
    servicer, target = refusing
    servicer.code, servicer.refusals = code, 2
    with Client(target, timeout=30) as client:
        assert client.info().version == "test"
    assert servicer.calls == 3


def test_retries_stop_after_the_attempts_allowed(refusing):
    servicer, target = refusing
    servicer.refusals = 100
    with Client(target, timeout=30, attempts=3) as client, pytest.raises(Unavailable):
        client.info()
    assert servicer.calls == 3
    servicer.calls = 0
    with Client(target, timeout=30, attempts=1) as client, pytest.raises(Unavailable):
        client.info()
    assert servicer.calls == 1


def test_a_client_mistake_is_not_retried(refusing):
    servicer, target = refusing
    servicer.code, servicer.refusals = grpc.StatusCode.INVALID_ARGUMENT, 100
    with Client(target, timeout=30) as client, pytest.raises(InvalidArgument):
        client.info()
    assert servicer.calls == 1
