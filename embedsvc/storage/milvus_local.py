"""Milvus Lite under the data dir: one in-process server per path, bound to 127.0.0.1.

pymilvus starts Milvus Lite for a ``.db`` path but never stops it, and Milvus Lite locks its
directory for the life of its process, so a store closed here could not be opened by a server
started next. Here each path's server is counted by its users and stopped with the last one.
"""

from __future__ import annotations

import threading
from pathlib import Path

from milvus_lite.server_manager import server_manager_instance

_users: dict[str, int] = {}
_lock = threading.Lock()


def acquire(path: Path) -> str:
    """The URI of Milvus Lite serving ``path`` (started if needed)."""
    key = str(path.resolve())
    with _lock:
        uri = server_manager_instance.start_and_get_uri(key)
        if uri is None:
            raise RuntimeError(f"Milvus Lite could not start on {key} (see the log above)")
        _users[key] = _users.get(key, 0) + 1
        return uri


def release(path: Path) -> None:
    key = str(path.resolve())
    with _lock:
        _users[key] = _users.get(key, 1) - 1
        if _users[key] <= 0:
            del _users[key]
            server_manager_instance.release_server(key)
