"""Engine creation and schema migrations for any SQLAlchemy URL (SQLite by default)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
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
from embedsvc.errors import DeadlineExceeded, InvalidArgument, Unavailable

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


def _cancelled(error: OperationalError) -> bool:
    """PostgreSQL's statement timeout (SQLSTATE 57014) or SQLite's progress-handler abort."""
    return getattr(error.orig, "sqlstate", None) == "57014" or "interrupted" in str(error.orig)


@contextmanager
def bounded_by_deadline(session: Session) -> Iterator[None]:
    """Stop this session's statements once the current request's deadline passes."""
    left = deadlines.remaining()
    if left is None:
        yield
        return
    if left <= 0:
        raise DeadlineExceeded("the deadline passed before the database was asked")
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql(f"SET LOCAL statement_timeout = {max(1, int(left * 1000))}")
        yield
        return
    raw = connection.connection.dbapi_connection
    ends = time.monotonic() + left
    raw.set_progress_handler(lambda: int(time.monotonic() > ends), 10_000)
    try:
        yield
    finally:
        raw.set_progress_handler(None, 0)


def _alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def migrate(engine: Engine) -> str:
    """Bring the schema to the newest revision; returns it. Safe to run on every start."""
    config = _alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
    return current_revision(engine) or ""


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> str:
    return ScriptDirectory.from_config(_alembic_config()).get_current_head() or ""
