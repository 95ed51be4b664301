"""What the framework adapters share: clients made on first use, and how a collection's
settings become the options of an embed call, so framework-side vectors match stored ones."""

from __future__ import annotations

import asyncio
import contextlib
import os
from typing import Any

from embedsvc.client import AsyncClient, Client
from embedsvc.errors import AlreadyExists, NotFound
from embedsvc.metadata import canonical
from embedsvc.types import CollectionInfo

DEFAULT_TARGET = "127.0.0.1:50051"


class Connection:
    """A blocking client and an async one per event loop (grpc.aio channels belong to the
    loop that made them), both made lazily so constructing an adapter never connects.
    ``target`` and ``api_key`` default to EMBEDSVC_TARGET and EMBEDSVC_API_KEY."""

    def __init__(self, target: str | None, api_key: str | None, timeout: float) -> None:
        self.target = target or os.environ.get("EMBEDSVC_TARGET", DEFAULT_TARGET)
        self.api_key = api_key if api_key is not None else os.environ.get("EMBEDSVC_API_KEY", "")
        self.timeout = timeout
        self._client: Client | None = None
        self._async: tuple[asyncio.AbstractEventLoop, AsyncClient] | None = None

    def client(self) -> Client:
        if self._client is None:
            self._client = Client(self.target, api_key=self.api_key, timeout=self.timeout)
        return self._client

    def aclient(self) -> AsyncClient:
        loop = asyncio.get_running_loop()
        if self._async is None or self._async[0] is not loop:
            self._async = (loop, AsyncClient(self.target, api_key=self.api_key,
                                             timeout=self.timeout))
        return self._async[1]

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None


def embed_options(info: CollectionInfo | None, kind: str) -> dict[str, Any]:
    """`embed` options that reproduce how ``info``'s collection embeds a ``kind`` ("query" or
    "document"): its model, width, profile and prompt; none without a collection."""
    if info is None:
        return {}
    profile = info.profile
    return {
        "model": info.model, "dimensions": info.dimensions,
        "profile": {key: value for key, value in (
            ("layers", profile.layers), ("tempscale", profile.tempscale),
            ("precision", profile.precision),
        ) if value is not None},
        "prompt": info.query_prompt if kind == "query" else info.document_prompt,
    }


def ensure_collection(client: Client, name: str, **options: Any) -> None:
    """Create the collection unless it exists (another writer may create it meanwhile)."""
    try:
        client.get_collection(name)
    except NotFound:
        with contextlib.suppress(AlreadyExists):
            client.create_collection(name, **options)


async def aensure_collection(client: AsyncClient, name: str, **options: Any) -> None:
    try:
        await client.get_collection(name)
    except NotFound:
        with contextlib.suppress(AlreadyExists):
            await client.create_collection(name, **options)


def plain_metadata(metadata: dict[str, Any]) -> dict[str, Any]:
    """Metadata as it was written: gRPC carries numbers as doubles, so integral ones become
    ints again."""
    return canonical(metadata)
