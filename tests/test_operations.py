"""Operating the server: health under load and while draining, one server per port and per
database, and a database outage seen as UNAVAILABLE and NOT_SERVING while it lasts."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import grpc
import pytest
from sqlalchemy.engine import make_url

from embedsvc.errors import Unavailable
from embedsvc.v1 import index_pb2, types_pb2
from tests.conftest import ServerProcess, postgres_schema
from tests.proxy import TcpProxy

EMBEDSVC = str(Path(sys.executable).parent / "embedsvc")
WAIT = 120  # seconds: only reached when the behaviour under test is broken


def wait_for(condition, server: ServerProcess, what: str) -> None:
    deadline = time.monotonic() + WAIT
    while not condition():
        assert server.process.poll() is None, server.log.read_text()[-3000:]
        assert time.monotonic() < deadline, f"never: {what}"
        time.sleep(0.05)


def held_upsert(client):
    """An upsert that pauses at its fault point: it holds one admitted call until released."""
    return client.index.UpsertDocuments.future(
        index_pb2.UpsertDocumentsRequest(
            collection="kb", documents=[types_pb2.Document(id="held", text="Held back.")]
        ),
        timeout=WAIT,
    )


@pytest.mark.slow
def test_health_answers_under_load_and_while_draining(server_factory, tmp_path: Path):
    marker = tmp_path / "paused"
    server = server_factory(
        EMBEDSVC_MAX_CONCURRENT_RPCS="1", EMBEDSVC_FAULT_PAUSE="upsert.prepared",
        EMBEDSVC_FAULT_FILE=str(marker), EMBEDSVC_SHUTDOWN_GRACE="600",  # never reached
    ).start()
    with server.client(timeout=WAIT, attempts=1) as client:  # see each refusal, no retries
        client.create_collection("kb")
        in_flight = held_upsert(client)
        wait_for(marker.exists, server, "the upsert pauses")
        # The one admitted call is busy: health still answers, other calls are refused at once.
        assert client.health() == "SERVING"
        with pytest.raises(grpc.RpcError) as busy:
            client.info()
        assert busy.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert "EMBEDSVC_MAX_CONCURRENT_RPCS" in busy.value.details()

        server.process.send_signal(signal.SIGTERM)
        wait_for(lambda: "shutting down" in server.log.read_text(), server, "the drain starts")
        assert client.health() == "NOT_SERVING"  # answered, not refused
        with pytest.raises(grpc.RpcError) as draining:
            client.get_collection("kb")
        assert draining.value.code() == grpc.StatusCode.UNAVAILABLE
        marker.unlink()
        assert in_flight.result().results[0].created
    assert server.process.wait(WAIT) == 0


def test_calls_that_grpc_drops_before_their_handler_hold_no_slot(server_factory):
    """A message over the size limit is refused by gRPC before any handler runs; with one
    slot, a leaked admission would refuse every later call, and the drain would never end."""
    server = server_factory(
        EMBEDSVC_MAX_CONCURRENT_RPCS="1", EMBEDSVC_MAX_REQUEST_BYTES="4096",
        EMBEDSVC_SHUTDOWN_GRACE="600",  # a leaked slot would hold the drain this long
    ).start()
    with server.client(timeout=WAIT, attempts=1) as client:
        for _ in range(3):
            with pytest.raises(grpc.RpcError) as too_big:
                client.embed(["x" * 8000])
            assert too_big.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert client.info().limits.max_request_bytes == 4096
    assert server.stop(timeout=WAIT) == 0
    assert "still running" not in server.log.read_text()


@pytest.mark.slow
def test_a_second_server_on_the_same_port_or_database_is_refused(
    server_factory, tmp_path: Path, postgres_url: str
):
    with postgres_schema(postgres_url) as url:
        first = server_factory(tmp_path / "one", url).start()
        same_port = subprocess.run(
            [EMBEDSVC, "serve", "--data-dir", str(tmp_path / "two"), "--port", str(first.port)],
            capture_output=True, text=True, timeout=WAIT,
        )
        assert same_port.returncode == 2 and "port is in use" in same_port.stderr
        same_database = subprocess.run(
            [EMBEDSVC, "serve", "--data-dir", str(tmp_path / "three"), "--port", "0",
             "--database-url", url],
            capture_output=True, text=True, timeout=WAIT,
        )
        assert same_database.returncode == 2, same_database.stderr
        assert "in use by another embedsvc server" in same_database.stderr
        with first.client() as client:
            assert client.health() == "SERVING"
        assert first.stop() == 0


@pytest.mark.slow
def test_a_database_outage_is_unavailable_and_not_serving_until_it_ends(
    server_factory, tmp_path: Path, postgres_url: str
):
    with postgres_schema(postgres_url) as url:
        database = make_url(url)
        proxy = TcpProxy(database.port or 5432, database.host or "127.0.0.1").start()
        through_proxy = database.set(port=proxy.port).render_as_string(hide_password=False)
        server = server_factory(tmp_path / "data", through_proxy,
                                EMBEDSVC_HEALTH_INTERVAL="0.2").start()
        with server.client(timeout=30) as client:
            client.create_collection("kb")
            client.upsert("kb", [{"id": "a", "text": "Cats sleep most of the day."}])
            proxy.cut()
            wait_for(lambda: client.health() == "NOT_SERVING", server, "health follows the db")
            with pytest.raises(Unavailable, match="database is unavailable"):
                client.search("kb", "cats", k=1)
            proxy.start()
            wait_for(lambda: client.health() == "SERVING", server, "health recovers")
            assert client.search("kb", "cats", k=1)[0].document_id == "a"
        assert server.stop() == 0
        proxy.cut()
