"""The encoder: texts in, float32 vectors out, under an encoder profile, batched by tokens.

One ElasticModel holds the weights; every profile (fewer layers, fewer dims, a TempScale
temperature, bf16 or fp32) runs as a variant that shares them. All inference goes through one
Batcher, which coalesces concurrent requests into token-budgeted, length-sorted batches and
drops work whose caller is gone.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import CancelledError
from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from embedsvc.encoding.batching import Batcher
from embedsvc.encoding.elastic import ElasticModel
from embedsvc.encoding.models import fingerprint, model_name, resolve_model_path
from embedsvc.encoding.profile import EncoderProfile
from embedsvc.errors import Cancelled, DeadlineExceeded, FailedPrecondition, InvalidArgument

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ModelInfo:
    name: str
    path: Path
    fingerprint: str
    max_tokens: int
    dimensions: int
    layers: int
    default_profile: EncoderProfile


class Encoder:
    """A sentence-transformers model from disk, loaded on first use.

    Loading is lazy so that work which needs no inference (an indexing run where nothing
    changed) never pays for it.
    """

    def __init__(
        self, model_spec: str = "", max_batch_tokens: int = 16384, max_queue_texts: int = 4096,
        max_pass_texts: int = 32,
    ) -> None:
        self.path = resolve_model_path(model_spec)
        self.name = model_name(self.path)
        self.max_batch_tokens = max_batch_tokens
        self.max_queue_texts = max_queue_texts
        self.max_pass_texts = max_pass_texts
        self._load_lock = threading.Lock()
        self._elastic: ElasticModel | None = None
        self._batcher: Batcher | None = None

    @cached_property
    def fingerprint(self) -> str:
        """Identity of weights + tokenizer, computed from the files without loading the model."""
        return fingerprint(self.path)

    @property
    def elastic(self) -> ElasticModel:
        with self._load_lock:
            if self._elastic is None:
                from sentence_transformers import SentenceTransformer

                model = SentenceTransformer(str(self.path), device="cpu")
                model.eval()
                self._elastic = ElasticModel(model)
                self._batcher = Batcher(
                    self._encode_batch, self.max_batch_tokens, self.max_queue_texts,
                    self.max_pass_texts,
                )
                log.info("loaded model %s from %s", self.name, self.path)
            return self._elastic

    @property
    def tokenizer(self) -> Any:
        """The model's tokenizer (chunkers count with a private copy of its backend)."""
        return self.elastic.model.tokenizer

    @cached_property
    def info(self) -> ModelInfo:
        elastic = self.elastic
        return ModelInfo(
            name=self.name,
            path=self.path,
            fingerprint=self.fingerprint,
            max_tokens=int(elastic.model.max_seq_length),
            dimensions=elastic.dimensions,
            layers=elastic.layers,
            default_profile=EncoderProfile.default().resolved(elastic.layers, elastic.dimensions),
        )

    def profile(self, base: EncoderProfile | None = None, **overrides: Any) -> EncoderProfile:
        """``base`` (default: the model's default profile) with ``overrides``, validated."""
        info = self.info
        merged = replace(base or info.default_profile, **overrides)
        return merged.resolved(info.layers, info.dimensions)

    def token_counts(self, texts: Sequence[str]) -> list[int]:
        """Tokens per text as the model would see them untruncated, special tokens included."""
        return self.elastic.token_counts(texts)

    def check_overflow(self, counts: Sequence[int], allow_truncation: bool) -> list[bool]:
        """Which inputs exceed the model window; refuse them when truncation is not allowed."""
        too_long = [count > self.info.max_tokens for count in counts]
        if not allow_truncation and any(too_long):
            first = too_long.index(True)
            raise InvalidArgument(
                f"texts[{first}] has {counts[first]} tokens, more than the model's "
                f"{self.info.max_tokens}; shorten it or allow truncation"
            )
        return too_long

    def encode(
        self, texts: Sequence[str], profile: EncoderProfile | None = None, normalize: bool = True,
        dimensions: int | None = None, token_counts: Sequence[int] | None = None,
        is_active: Callable[[], bool] | None = None, deadline: float | None = None,
    ) -> np.ndarray:
        """Vectors for ``texts`` in order; inputs longer than the window are truncated.

        ``dimensions`` overrides the profile's width. ``is_active`` and ``deadline`` (a
        ``time.monotonic()`` value) let queued work be dropped when nobody waits for it.
        """
        overrides = {} if dimensions is None else {"dimensions": dimensions}
        profile = self.profile(profile, **overrides)
        if not texts:
            return np.zeros((0, profile.dimensions), dtype=np.float32)
        counts = token_counts if token_counts is not None else self.token_counts(texts)
        window = self.info.max_tokens
        future = self._batcher.submit(
            list(texts), [min(count, window) for count in counts], (profile, normalize),
            is_active, deadline,
        )
        try:
            return future.result()
        except CancelledError:
            if deadline is not None:
                raise DeadlineExceeded("the deadline passed before encoding started") from None
            raise Cancelled("the caller went away before the texts were encoded") from None

    def close(self) -> None:
        if self._batcher is not None:
            self._batcher.close()

    def _encode_batch(self, texts: list[str], group: tuple[EncoderProfile, bool]) -> np.ndarray:
        profile, normalize = group
        if self._elastic is None:
            raise FailedPrecondition("the model is not loaded")
        return self._elastic.encode(texts, profile, batch_size=len(texts), normalize=normalize)
