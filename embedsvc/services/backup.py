"""Backups: a consistent snapshot of a store (SQL + vector index at the same generation), and
a restore that serves with nothing to repair.

While a snapshot is taken every collection's commit lock is held, so writes wait and reads go
on. A SQLite database is copied with its online backup API; a PostgreSQL one stays where it is
(back it up with pg_dump alongside: the index files record the generations they reflect, and a
server repairs any difference on start). The manifest is written last: a backup without one is
incomplete and is never restored.
"""

from __future__ import annotations

import json
import os
import shutil
from contextlib import ExitStack
from dataclasses import asdict
from pathlib import Path

from embedsvc.errors import FailedPrecondition, InvalidArgument
from embedsvc.faults import fault_point
from embedsvc.services.collections import CollectionLocks
from embedsvc.storage import Storage
from embedsvc.types import Backup, CollectionSnapshot

MANIFEST = "manifest.json"
DATABASE_FILE = "embedsvc.db"
POSTGRESQL_NOTE = (
    "the SQL data lives in PostgreSQL and is not in this backup: dump it with pg_dump at the "
    "same time, restore it with psql, then `embedsvc restore` this folder into the data dir"
)


def take_backup(storage: Storage, locks: CollectionLocks, directory: Path) -> Backup:
    """Snapshot the store into ``directory`` (absolute; new or empty)."""
    if not directory.is_absolute():
        raise InvalidArgument(f"backup directory {directory} must be an absolute path", "directory")
    if directory.exists() and (not directory.is_dir() or any(directory.iterdir())):
        raise FailedPrecondition(f"backup directory {directory} exists and is not empty")
    directory.mkdir(parents=True, exist_ok=True)
    repository, vectors = storage.repository, storage.vectors
    with ExitStack() as held:
        for info in repository.list_collections():
            held.enter_context(locks(info))
        snapshots = [
            CollectionSnapshot(info.name, vectors.export(info, directory), info.document_count,
                               info.chunk_count)
            for info in repository.list_collections(with_counts=True)
        ]
        fault_point("backup")
        copied = repository.copy_to(directory / DATABASE_FILE)
    notes = [note for note in (vectors.backup_note, "" if copied else POSTGRESQL_NOTE) if note]
    backup = Backup(str(directory), snapshots, repository.dialect, "; ".join(notes))
    _write_manifest(directory, backup)
    return backup


def restore(backup_dir: Path, data_dir: Path) -> Backup:
    """Copy a complete backup into ``data_dir`` (new or empty); returns what it holds."""
    try:
        manifest = json.loads((backup_dir / MANIFEST).read_text())
    except (OSError, ValueError):
        raise FailedPrecondition(
            f"{backup_dir} holds no complete backup (no readable {MANIFEST}); a backup that "
            "was interrupted cannot be restored"
        ) from None
    if data_dir.exists() and any(data_dir.iterdir()):
        raise FailedPrecondition(f"data dir {data_dir} is not empty; restore into a new one")
    data_dir.mkdir(parents=True, exist_ok=True)
    if (backup_dir / DATABASE_FILE).exists():
        shutil.copy2(backup_dir / DATABASE_FILE, data_dir / DATABASE_FILE)
    if (backup_dir / "indexes").exists():
        shutil.copytree(backup_dir / "indexes", data_dir / "indexes")
    collections = [CollectionSnapshot(**item) for item in manifest["collections"]]
    return Backup(str(data_dir), collections, manifest["database"], manifest.get("note", ""))


def _write_manifest(directory: Path, backup: Backup) -> None:
    tmp = directory / (MANIFEST + ".tmp")
    tmp.write_text(json.dumps(asdict(backup), indent=2))
    with tmp.open("rb") as handle:
        os.fsync(handle.fileno())
    os.replace(tmp, directory / MANIFEST)
