"""A caller that goes away without a deadline stops its SQL work: the query is cancelled on the
database (PostgreSQL) or interrupted (SQLite) instead of running on for nobody."""

from __future__ import annotations

import threading
import time
from concurrent import futures
from pathlib import Path

import grpc
import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from embedsvc.errors import Cancelled
from embedsvc.server.rpc import rpc
from embedsvc.storage.sql.database import bounded_by_deadline, create_db_engine, translated_errors

SLOW = {
    # Both run far longer than any test; only a cancellation ends them early.
    "sqlite": "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c "
              "WHERE x < 10000000000) SELECT count(*) FROM c",
    "postgresql": "SELECT pg_sleep(120)",
}
GIVE_UP_S = 60.0  # a bound on failure only; a working cancellation ends in milliseconds


class SlowQuery:
    """A servicer whose one method runs a query that only a cancellation ends."""

    def __init__(self, url: str) -> None:
        self.engine = create_db_engine(url)
        self.started = threading.Event()
        self.outcome: list[BaseException | str] = []
        self.finished = threading.Event()

    @rpc
    def Run(self, request: bytes, context: grpc.ServicerContext) -> bytes:  # noqa: N802 (gRPC)
        try:
            with translated_errors(), Session(self.engine) as session, \
                    bounded_by_deadline(session):
                self.started.set()
                session.execute(text(SLOW[self.engine.dialect.name]))
            self.outcome.append("finished")
        except Exception as error:
            self.outcome.append(error)
            raise
        finally:
            self.finished.set()
        return b""


def _until(condition, what: str) -> None:
    ends = time.monotonic() + GIVE_UP_S
    while not condition():
        if time.monotonic() > ends:
            pytest.fail(f"gave up waiting for {what}")
        time.sleep(0.02)


def _pg_sleep_running(url: str) -> bool:
    engine = create_db_engine(url)
    try:
        with engine.connect() as connection:
            return bool(connection.execute(text(
                "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' "
                "AND query LIKE 'SELECT pg_sleep(120)%'")).scalar())
    finally:
        engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'slow.db'}"
    return request.getfixturevalue("postgres_url")


def test_a_query_stops_when_its_caller_goes_away(database_url: str):
    servicer = SlowQuery(database_url)
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    server.add_generic_rpc_handlers([grpc.method_handlers_generic_handler(
        "test.Slow", {"Run": grpc.unary_unary_rpc_method_handler(servicer.Run)})])
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            call = channel.unary_unary("/test.Slow/Run").future(b"")  # no deadline
            assert servicer.started.wait(GIVE_UP_S), servicer.outcome
            if database_url.startswith("postgresql"):
                _until(lambda: _pg_sleep_running(database_url), "the query to run")
            call.cancel()
            _until(servicer.finished.is_set, "the query to stop")
        assert isinstance(servicer.outcome[0], Cancelled), servicer.outcome
        if database_url.startswith("postgresql"):
            assert not _pg_sleep_running(database_url)
    finally:
        server.stop(None)
        servicer.engine.dispose()
