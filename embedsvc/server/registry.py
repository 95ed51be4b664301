"""The gRPC services this server runs. Adding one: a servicer file that defines ``SERVICE``,
plus one line here; health, reflection and the server pick it up from this list."""

from __future__ import annotations

from embedsvc.server.rpc import ServiceSpec
from embedsvc.server.servicers import (
    admin,
    chunking,
    embedding,
    index,
    linking,
    search,
    titles,
)

SERVICES: list[ServiceSpec] = [
    embedding.SERVICE,
    index.SERVICE,
    search.SERVICE,
    chunking.SERVICE,
    admin.SERVICE,
    titles.SERVICE,
    linking.SERVICE,
]
