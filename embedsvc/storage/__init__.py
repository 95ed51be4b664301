"""Where collections live: the SQL repository (source of truth) and a vector index beside it,
opened together under the data dir's one-writer lock."""

from __future__ import annotations

from dataclasses import dataclass

from embedsvc.config import Settings
from embedsvc.ports import Repository, VectorIndex
from embedsvc.storage.backends import open_vector_index
from embedsvc.storage.lock import SERVER_HINT, DataDirLock
from embedsvc.storage.sql.repository import SqlRepository


@dataclass
class Storage:
    repository: Repository
    vectors: VectorIndex
    lock: DataDirLock

    def close(self) -> None:
        """Save the vector index, then let go of the database and the data dir."""
        try:
            self.vectors.close()
        finally:
            try:
                self.repository.close()
            finally:
                self.lock.release()


def open_sql(settings: Settings, hint: str = SERVER_HINT) -> tuple[SqlRepository, DataDirLock]:
    """The migrated SQL store and the data dir's lock, both held for this process."""
    lock = DataDirLock(settings.data_dir, hint)
    lock.acquire()
    try:
        repository = SqlRepository(settings.resolved_database_url())
    except BaseException:
        lock.release()
        raise
    try:
        repository.claim(hint=hint)
    except BaseException:
        repository.close()
        lock.release()
        raise
    return repository, lock


def open_storage(settings: Settings, hint: str = SERVER_HINT) -> Storage:
    """Lock the data dir and the database, migrate it, and bring every collection's vectors in
    line with SQL (a crash since the last save costs a repair here)."""
    repository, lock = open_sql(settings, hint)
    try:
        vectors = open_vector_index(settings, repository)
        collections = repository.list_collections()
        vectors.retain(collections)
        for info in collections:
            vectors.sync(info)
    except BaseException:
        repository.close()
        lock.release()
        raise
    return Storage(repository, vectors, lock)
