"""Where collections live: the SQL repository (source of truth) and a vector index beside it,
opened together under the data dir's one-writer lock."""

from __future__ import annotations

from dataclasses import dataclass

from embedsvc.config import Settings
from embedsvc.ports import Repository, VectorIndex
from embedsvc.storage.backends import open_vector_index
from embedsvc.storage.lock import DataDirLock
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


def open_storage(settings: Settings) -> Storage:
    """Lock the data dir, migrate the database, and bring every collection's vectors in line
    with SQL (a crash since the last save costs a repair here)."""
    lock = DataDirLock(settings.data_dir)
    lock.acquire()
    repository: Repository | None = None
    try:
        repository = SqlRepository(settings.resolved_database_url())
        vectors = open_vector_index(settings, repository)
        for info in repository.list_collections():
            vectors.sync(info)
    except BaseException:
        if repository is not None:
            repository.close()
        lock.release()
        raise
    return Storage(repository, vectors, lock)
