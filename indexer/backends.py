"""The indexer works on a data dir directly (`Core`) or through a running server (`Client`):
both offer the same methods with the same types, so choosing one is all there is to do."""

from __future__ import annotations

from pathlib import Path

from embedsvc.ports import EmbedsvcApi
from embedsvc.retry import Retrying


def open_backend(
    data_dir: Path, server: str | None, api_key: str = "", retry_for: float = 0.0
) -> EmbedsvcApi:
    """A client of ``server`` (checked to answer), else the core on ``data_dir``, whose model
    loads only if something must be embedded. Calls refused as UNAVAILABLE or
    RESOURCE_EXHAUSTED (a server restarting, a busy one) are retried for ``retry_for`` s."""
    if server:
        from embedsvc.client import Client

        client = Client(server, api_key=api_key, timeout=600)
        try:
            client.health()  # fail fast, with gRPC's UNAVAILABLE, if nobody listens
        except BaseException:
            client.close()
            raise
        backend: EmbedsvcApi = client
    else:
        from embedsvc.config import Settings
        from embedsvc.core import Core

        backend = Core(Settings(data_dir=data_dir))
    return Retrying(backend, retry_for) if retry_for > 0 else backend
