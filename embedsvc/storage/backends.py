"""The vector backends, by the name `EMBEDSVC_VECTOR_BACKEND` selects.

Adding one is a module with a class that satisfies `embedsvc.ports.VectorIndex`, built from
the settings and the repository, plus one line here. Modules load only when selected.
"""

from __future__ import annotations

import importlib

from embedsvc.config import Settings
from embedsvc.errors import InvalidArgument
from embedsvc.ports import Repository, VectorIndex

VECTOR_BACKENDS = {
    "faiss": "embedsvc.storage.faiss_index:FaissVectorIndex",
    "milvus": "embedsvc.storage.milvus_index:MilvusVectorIndex",
}


def open_vector_index(settings: Settings, repository: Repository) -> VectorIndex:
    return _backend(settings)(settings, repository)


def shared_by_processes(settings: Settings) -> bool:
    """Whether the selected backend keeps no state in this process, so that several servers
    may share it (a backend says so with a ``shared_by_processes(settings)`` staticmethod)."""
    return bool(getattr(_backend(settings), "shared_by_processes", lambda _: False)(settings))


def _backend(settings: Settings) -> type:
    target = VECTOR_BACKENDS.get(settings.vector_backend)
    if target is None:
        raise InvalidArgument(
            f"vector backend {settings.vector_backend!r} is unknown; use one of "
            f"{', '.join(VECTOR_BACKENDS)}"
        )
    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name)
