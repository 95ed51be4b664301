"""One writer per data dir: an exclusive advisory lock held for the life of the process."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from embedsvc.errors import DataDirLocked

SERVER_HINT = "stop it, or send your requests to it with --server HOST:PORT"
MAINTENANCE_HINT = "stop it first: this command needs the store to itself"
BACKUP_HINT = "back it up through it: embedsvc backup DIR --server HOST:PORT"


class DataDirLock:
    """Held by whichever process (server or embedded indexer) writes the data dir. ``hint``
    tells a refused process what to do instead."""

    def __init__(self, data_dir: Path, hint: str = SERVER_HINT) -> None:
        self.path = data_dir / "LOCK"
        self.hint = hint
        self._handle = None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = self.path.open("a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            owner = handle.read().strip() or "unknown"
            handle.close()
            raise DataDirLocked(
                f"data dir {self.path.parent} is in use by another embedsvc process (pid {owner}); "
                f"{self.hint}"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        self._handle = handle

    def release(self) -> None:
        if self._handle is not None:
            fcntl.flock(self._handle, fcntl.LOCK_UN)
            self._handle.close()
            self._handle = None
