"""Engine creation and schema migrations for any SQLAlchemy URL (SQLite by default)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import (
    DataError,
    DBAPIError,
    DisconnectionError,
    InterfaceError,
    OperationalError,
)
from sqlalchemy.orm import Session

from embedsvc import deadlines
from embedsvc.errors import Cancelled, DeadlineExceeded, InvalidArgument, Unavailable

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"  # shipped in the package


def create_db_engine(url: str) -> Engine:
    """An engine tuned for concurrent readers and one writer: WAL and a busy timeout on SQLite."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True)


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


@contextmanager
def translated_errors() -> Iterator[None]:
    """Database failures as statuses a caller can act on: a query the deadline stopped is
    DEADLINE_EXCEEDED, an unreachable or busy database UNAVAILABLE (retry with backoff)."""
    try:
        yield
    except DataError as error:  # e.g. NUL in a text value on PostgreSQL, in a lookup too
        raise InvalidArgument(
            f"a value in the request cannot be stored or compared by the database "
            f"({_reason(error)}); remove NUL characters and keep values within their limits"
        ) from None
    except OperationalError as error:
        if _cancelled(error) and _caller_gone():
            raise Cancelled("the caller went away; the database stopped answering") from None
        if _cancelled(error):
            raise DeadlineExceeded(
                "the deadline passed while the database was answering; give the call more time"
            ) from None
        raise Unavailable(
            f"the database is unavailable ({_reason(error)}); retry with backoff"
        ) from None
    except (InterfaceError, DisconnectionError) as error:
        raise Unavailable(f"the database connection failed ({error}); retry with backoff") from None


def _reason(error: DBAPIError) -> str:
    return str(error.orig).strip().splitlines()[0] if error.orig else "unknown"


def _caller_gone() -> bool:
    cancellation = deadlines.cancellation()
    return cancellation is not None and cancellation.cancelled


def _cancelled(error: OperationalError) -> bool:
    """PostgreSQL's statement timeout (SQLSTATE 57014) or SQLite's progress-handler abort."""
    return getattr(error.orig, "sqlstate", None) == "57014" or "interrupted" in str(error.orig)


@contextmanager
def bounded_by_deadline(session: Session) -> Iterator[None]:
    """Stop this session's statements once the current request's deadline passes or its caller
    goes away (PostgreSQL: a statement timeout and a cancel request; SQLite: a progress
    handler), so a query nobody waits for does not hold the database."""
    left = deadlines.remaining()
    cancellation = deadlines.cancellation()
    if left is None and cancellation is None:
        yield
        return
    if left is not None and left <= 0:
        raise DeadlineExceeded("the deadline passed before the database was asked")
    if cancellation is not None and cancellation.cancelled:
        raise Cancelled("the caller went away before the database was asked")
    connection = session.connection()
    raw = connection.connection.dbapi_connection
    if connection.dialect.name == "postgresql":
        if left is not None:
            connection.exec_driver_sql(f"SET LOCAL statement_timeout = {max(1, int(left * 1000))}")
        with _stopped_by(cancellation, raw.cancel_safe):
            yield
        return
    ends = None if left is None else time.monotonic() + left

    def interrupt() -> int:
        passed = ends is not None and time.monotonic() > ends
        return int(passed or (cancellation is not None and cancellation.cancelled))

    raw.set_progress_handler(interrupt, 10_000)
    try:
        yield
    finally:
        raw.set_progress_handler(None, 0)


def _stopped_by(cancellation: deadlines.Cancellation | None, stop) -> AbstractContextManager:
    return nullcontext() if cancellation is None else cancellation.stopping_with(stop)


def _alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


# Held while migrating (per database; migrations are quick and rare).
MIGRATION_LOCK_KEY = 0x656D6265647376  # "embedsv"


def migrate(engine: Engine) -> str:
    """Bring the schema to the newest revision; returns it. Safe to run on every start, also
    by several servers starting at once on one PostgreSQL schema (they take turns)."""
    config = _alembic_config()
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK_KEY})")
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
    return current_revision(engine) or ""


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> str:
    return ScriptDirectory.from_config(_alembic_config()).get_current_head() or ""
