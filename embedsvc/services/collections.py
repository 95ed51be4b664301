"""Collections: create with fixed settings, look up with the model that serves them, delete."""

from __future__ import annotations

import contextlib
import re
import threading
from collections import defaultdict
from collections.abc import Iterator, Mapping
from typing import Any

from embedsvc.config import Settings
from embedsvc.errors import FailedPrecondition, InvalidArgument
from embedsvc.faults import fault_point
from embedsvc.paging import after_id, page_of, page_size
from embedsvc.ports import Encoder, Models
from embedsvc.services.index_options import index_options
from embedsvc.storage import CollectionLock, Storage
from embedsvc.storage.shared_lock import unshared
from embedsvc.types import (
    CHUNKING_POLICIES,
    METRICS,
    CollectionInfo,
    Page,
    ProfileOverrides,
    choice,
)

COLLECTION_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")
# Job-title catalogs and knowledge bases keep each version in a collection of their own under
# these prefixes: their own services list and manage them, so the collection API does not.
DOMAIN_PREFIXES = ("titles.", "kb.")


def refuse_domain_name(name: str) -> None:
    """Catalog and knowledge-base versions change only through their own services, which swap
    versions atomically and keep their entries beside the chunks; creating, deleting or
    writing into one by hand would break that."""
    if name.startswith(DOMAIN_PREFIXES):
        raise InvalidArgument(
            f"collection name {name!r} is reserved: names starting with "
            f"{' or '.join(repr(prefix) for prefix in DOMAIN_PREFIXES)} hold job-title catalogs "
            "and knowledge bases; choose another name, or use LoadCatalog / LoadKnowledgeBase",
            "name",
        )
# Below this a chunk cannot hold special tokens, a context line and some text.
MIN_CHUNK_TOKENS = 16


class CollectionLocks:
    """One lock per collection: a commit (SQL write, then the vector index) runs alone; in a
    store shared by several servers, alone across all of them (``shared``)."""

    def __init__(self, shared: CollectionLock = unshared) -> None:
        self._locks: dict[int, threading.Lock] = defaultdict(threading.Lock)
        self._guard = threading.Lock()
        self._shared = shared

    @contextlib.contextmanager
    def __call__(self, info: CollectionInfo) -> Iterator[None]:
        with self._guard:
            lock = self._locks[info.id]
        with lock, self._shared(info):
            yield


def prompt_tokens(encoder: Encoder, prompt: str) -> int:
    """Tokens a prompt adds in front of a text (special tokens are counted once, elsewhere)."""
    if not prompt:
        return 0
    with_prompt, bare = encoder.token_counts([prompt, ""])
    return with_prompt - bare


class Collections:
    def __init__(
        self, settings: Settings, models: Models, storage: Storage, locks: CollectionLocks
    ) -> None:
        self.settings = settings
        self.models = models
        self.storage = storage
        self.locks = locks

    def create(
        self, name: str, model: str = "", dimensions: int = 0, metric: str = "cosine",
        max_chunk_tokens: int = 0, profile: ProfileOverrides | None = None,
        chunking: str = "auto", query_prompt: str | None = None,
        document_prompt: str | None = None, index: str = "",
        index_params: Mapping[str, int] | None = None,
    ) -> CollectionInfo:
        """A collection whose chunks are embedded by ``model`` ('' = the default) with its
        default profile plus ``profile`` overrides (``dimensions`` sets the width). Prompts
        default to the model's own (sentence-transformers config), "" means none. ``index``
        ('' = the settings' default) and ``index_params`` choose how its vectors are searched."""
        if not COLLECTION_NAME.fullmatch(name):
            raise InvalidArgument(
                f"collection name {name!r} is invalid: use 1-128 letters, digits, '_', '-', '.', "
                "starting with a letter or digit", "name",
            )
        choice("metric", metric, METRICS)
        choice("chunking", chunking, CHUNKING_POLICIES)
        index, resolved_params = index_options(self.settings, index, index_params)
        encoder = self.models.get(model)
        info = encoder.info
        if not 0 <= dimensions <= info.dimensions:
            raise InvalidArgument(
                f"dimensions must be between 1 and {info.dimensions} (0 = all), got {dimensions}",
                "dimensions",
            )
        if not 0 <= max_chunk_tokens <= info.max_tokens or 0 < max_chunk_tokens < MIN_CHUNK_TOKENS:
            raise InvalidArgument(
                f"max_chunk_tokens must be between {MIN_CHUNK_TOKENS} and the model's "
                f"{info.max_tokens} (0 = {info.max_tokens}), got {max_chunk_tokens}",
                "max_chunk_tokens",
            )
        query_prompt = info.query_prompt if query_prompt is None else query_prompt
        document_prompt = info.document_prompt if document_prompt is None else document_prompt
        budget = max_chunk_tokens or info.max_tokens
        if budget - prompt_tokens(encoder, document_prompt) < MIN_CHUNK_TOKENS:
            raise InvalidArgument(
                f"document_prompt {document_prompt!r} leaves fewer than {MIN_CHUNK_TOKENS} of the "
                f"{budget} chunk tokens for text; shorten it or raise max_chunk_tokens",
                "document_prompt",
            )
        overrides: dict[str, Any] = dict(profile or {})
        if dimensions:
            overrides["dimensions"] = dimensions
        chosen = encoder.profile(**overrides)
        created = self.storage.repository.create_collection(CollectionInfo(
            name=name, model=encoder.name, model_fingerprint=encoder.fingerprint,
            dimensions=chosen.dimensions, metric=metric,
            max_chunk_tokens=budget, profile=chosen, chunking=chunking,
            query_prompt=query_prompt, document_prompt=document_prompt,
            index=index, index_params=resolved_params,
        ))
        with self.locks(created):
            self.storage.vectors.sync(created)
        return created

    def get(self, name: str) -> CollectionInfo:
        return self.storage.repository.get_collection(name, with_counts=True)

    def list(self, size: int = 0, page_token: str = "") -> Page[CollectionInfo]:
        size = page_size(size)
        found = self.storage.repository.list_collections(
            after_id(page_token), size + 1, with_counts=True, hidden_prefixes=DOMAIN_PREFIXES
        )
        return page_of([(info.id, info) for info in found], size)

    def delete(self, name: str) -> None:
        info = self.storage.repository.get_collection(name)
        with self.locks(info):
            self.storage.repository.delete_collection(info)
            fault_point("collection.deleted")
            self.storage.vectors.drop(info)

    def reindex(self, name: str) -> int:
        """Rebuild a collection's vector index from SQL; returns the chunk vectors indexed."""
        info = self.storage.repository.get_collection(name)
        with self.locks(info):
            return self.storage.vectors.rebuild(info)

    def open(self, name: str) -> tuple[CollectionInfo, Encoder]:
        """The collection and the model it was built with (else its vectors would not match)."""
        info = self.storage.repository.get_collection(name)
        try:
            encoder = self.models.get(info.model)
        except InvalidArgument:
            raise FailedPrecondition(
                f"collection {name!r} was built with model {info.model!r}, which this server "
                "does not serve; serve that model (EMBEDSVC_MODELS) or reindex into a new "
                "collection"
            ) from None
        if encoder.fingerprint != info.model_fingerprint:
            raise FailedPrecondition(
                f"collection {name!r} was built with model {info.model} (fingerprint "
                f"{info.model_fingerprint}), but the server runs a different model "
                f"(fingerprint {encoder.fingerprint}); serve that model or reindex into a new "
                "collection"
            )
        return info, encoder
