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
}


def open_vector_index(settings: Settings, repository: Repository) -> VectorIndex:
    target = VECTOR_BACKENDS.get(settings.vector_backend)
    if target is None:
        raise InvalidArgument(
            f"vector backend {settings.vector_backend!r} is unknown; use one of "
            f"{', '.join(VECTOR_BACKENDS)}"
        )
    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name)(settings, repository)
