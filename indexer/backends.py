"""The indexer works on a data dir directly (`Core`) or through a running server (`Client`):
both offer the same methods with the same types, so choosing one is all there is to do."""

from __future__ import annotations

from pathlib import Path

from embedsvc.ports import EmbedsvcApi


def open_backend(data_dir: Path, server: str | None, api_key: str = "") -> EmbedsvcApi:
    """A client of ``server`` (checked to answer), else the core on ``data_dir``, whose model
    loads only if something must be embedded."""
    if server:
        from embedsvc.client import Client

        client = Client(server, api_key=api_key, timeout=600)
        try:
            client.health()  # fail fast, with gRPC's UNAVAILABLE, if nobody listens
        except BaseException:
            client.close()
            raise
        return client
    from embedsvc.config import Settings
    from embedsvc.core import Core

    return Core(Settings(data_dir=data_dir))
