"""A collection's commit lock across processes, for servers that share one store.

With PostgreSQL and a Milvus server several embedsvc servers write the same collections. A
commit is a SQL transaction and then the vector write; if two servers' commits reached Milvus
in the other order than they reached SQL, Milvus would keep the older version. So each commit
(and each repair) holds a PostgreSQL advisory lock on its collection until its vector write is
done: writes to one collection take turns across all servers, reads never wait. The lock is
tied to a connection, so a server that dies lets go of it at once.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterator

from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError

from embedsvc.types import CollectionInfo


class SharedCollectionLock:
    """``with lock(info):`` holds ``info``'s advisory lock on its own connection."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        with engine.connect() as connection:
            self._schema = connection.exec_driver_sql("SELECT current_schema()").scalar()

    @contextlib.contextmanager
    def __call__(self, info: CollectionInfo) -> Iterator[None]:
        key = int.from_bytes(
            hashlib.sha256(f"embedsvc:{self._schema}:collection:{info.id}".encode()).digest()[:8],
            "big", signed=True,
        )
        with self.engine.connect() as connection:
            connection.exec_driver_sql(f"SELECT pg_advisory_lock({key})")
            connection.commit()
            try:
                yield
            finally:
                try:
                    connection.exec_driver_sql(f"SELECT pg_advisory_unlock({key})")
                    connection.commit()
                except DBAPIError:
                    connection.invalidate()  # closing the session is what lets the lock go


@contextlib.contextmanager
def unshared(info: CollectionInfo) -> Iterator[None]:
    """One process owns the store: its in-process locks are enough."""
    yield
