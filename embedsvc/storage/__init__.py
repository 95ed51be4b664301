"""Where collections live: the SQL repository (source of truth) and a vector index beside it,
opened together under the data dir's one-writer lock, unless several servers share the store
(PostgreSQL + a vector backend with no state in the process): then each collection's commits
take turns through a lock in the database instead."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass

from sqlalchemy.engine import make_url

from embedsvc.config import Settings
from embedsvc.ports import Repository, VectorIndex
from embedsvc.storage.backends import open_vector_index, shared_by_processes
from embedsvc.storage.lock import SERVER_HINT, DataDirLock
from embedsvc.storage.shared_lock import SharedCollectionLock, unshared
from embedsvc.storage.sql.repository import SqlRepository
from embedsvc.types import CollectionInfo

CollectionLock = Callable[[CollectionInfo], AbstractContextManager[None]]


@dataclass
class Storage:
    repository: Repository
    vectors: VectorIndex
    lock: DataDirLock | None
    # Held by each commit with the in-process lock; across processes when the store is shared.
    collection_lock: CollectionLock = unshared

    def close(self) -> None:
        """Save the vector index, then let go of the database and the data dir."""
        try:
            self.vectors.close()
        finally:
            try:
                self.repository.close()
            finally:
                if self.lock is not None:
                    self.lock.release()


def is_shared(settings: Settings) -> bool:
    """PostgreSQL and a vector backend outside the process: several servers may write."""
    backend = make_url(settings.resolved_database_url()).get_backend_name()
    return backend == "postgresql" and shared_by_processes(settings)


def open_sql(
    settings: Settings, hint: str = SERVER_HINT, shared: bool = False
) -> tuple[SqlRepository, DataDirLock | None]:
    """The migrated SQL store, and the data dir's lock; both held for this process alone
    unless ``shared``."""
    lock = None if shared else DataDirLock(settings.data_dir, hint)
    if lock is not None:
        lock.acquire()
    try:
        repository = SqlRepository(settings.resolved_database_url())
    except BaseException:
        if lock is not None:
            lock.release()
        raise
    try:
        if not shared:
            repository.claim(hint=hint)
    except BaseException:
        repository.close()
        lock.release()
        raise
    return repository, lock


def open_storage(settings: Settings, hint: str = SERVER_HINT) -> Storage:
    """Lock the data dir and the database, migrate it, and bring every collection's vectors in
    line with SQL (a crash since the last save costs a repair here)."""
    shared = is_shared(settings)
    repository, lock = open_sql(settings, hint, shared)
    try:
        collection_lock = SharedCollectionLock(repository.engine) if shared else unshared
        vectors = open_vector_index(settings, repository)
        try:
            collections = repository.list_collections()
            vectors.retain(collections)
            for info in collections:
                with collection_lock(info):
                    vectors.sync(info)
        except BaseException:
            vectors.close()
            raise
    except BaseException:
        repository.close()
        if lock is not None:
            lock.release()
        raise
    return Storage(repository, vectors, lock, collection_lock)
