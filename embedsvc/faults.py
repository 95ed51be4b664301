"""Test-only fault hooks: pause the process at a named point so a test can act there.

With ``EMBEDSVC_FAULT_PAUSE=point`` (or ``point@N`` for its N-th visit) the process creates the
file named by ``EMBEDSVC_FAULT_FILE`` when it reaches that point, then waits for as long as the
file exists. A crash test SIGKILLs it there; a drain test deletes the file to let it go on.
Tests thereby act at a point they control, never at a time they guess. Unset, a point costs
one dictionary lookup.

Points: ``upsert.prepared`` (vectors computed, nothing written), ``upsert.writing`` (inside the
write transaction: rows and lexical index written, not committed), ``upsert.committed`` (after
the SQL commit, before the vector index mirrors it), ``delete.committed`` (documents deleted in
SQL, not yet in the index), ``collection.deleted`` (the collection gone from SQL, its index
files not yet), ``index.save`` (between the files of an index save), ``encode.pass`` (after a
forward pass of the encoder, before the next), ``backup`` (the index files copied, the SQL not
yet).
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

PAUSE_ENV = "EMBEDSVC_FAULT_PAUSE"
FILE_ENV = "EMBEDSVC_FAULT_FILE"
_POLL_S = 0.02

_visits: dict[str, int] = {}
_lock = threading.Lock()


def fault_point(name: str) -> None:
    spec = os.environ.get(PAUSE_ENV)
    if not spec:
        return
    point, _, nth = spec.partition("@")
    if point != name:
        return
    with _lock:
        _visits[name] = _visits.get(name, 0) + 1
        if _visits[name] != int(nth or 1):
            return
    marker = Path(os.environ.get(FILE_ENV) or f"embedsvc-fault-{os.getpid()}")
    marker.write_text(f"{name} pid {os.getpid()}\n")
    while marker.exists():
        time.sleep(_POLL_S)


def reset() -> None:
    """Forget the visits counted so far (for tests that set a pause in their own process)."""
    with _lock:
        _visits.clear()
