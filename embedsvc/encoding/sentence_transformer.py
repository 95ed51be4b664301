"""The sentence-transformers encoder: texts in, float32 vectors out, batched by tokens.

One ElasticModel holds the weights; every profile (fewer layers, fewer dims, a TempScale
temperature, bf16 or fp32) runs as a variant that shares them. All inference goes through one
Batcher, which coalesces concurrent requests into token-budgeted, length-sorted batches, serves
interactive work (queries) ahead of bulk work (documents) and drops work whose caller is gone.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import CancelledError
from dataclasses import replace
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from embedsvc import metrics
from embedsvc.encoding.batching import BULK, INTERACTIVE, Batcher
from embedsvc.encoding.elastic import ElasticModel
from embedsvc.encoding.models import fingerprint, model_name, resolve_model_path
from embedsvc.encoding.profile import default_profile
from embedsvc.errors import Cancelled, DeadlineExceeded, FailedPrecondition, InvalidArgument
from embedsvc.faults import fault_point
from embedsvc.types import EncoderProfile, ModelInfo


class SentenceTransformerEncoder:
    """A sentence-transformers model directory, loaded on first use.

    Loading is lazy so that work which needs no inference (an indexing run where nothing
    changed) never pays for it.
    """

    def __init__(
        self, path: Path, name: str = "", max_batch_tokens: int = 16384,
        max_queue_texts: int = 4096, max_pass_texts: int = 32,
    ) -> None:
        self.path = path
        self.name = name or model_name(path)
        self.max_batch_tokens = max_batch_tokens
        self.max_queue_texts = max_queue_texts
        self.max_pass_texts = max_pass_texts
        self._load_lock = threading.Lock()
        self._elastic: ElasticModel | None = None
        self._batcher: Batcher | None = None

    @classmethod
    def from_spec(
        cls, spec: str = "", name: str = "", **batching: int
    ) -> SentenceTransformerEncoder:
        """The model a setting names: '' = the bundled model, else a local dir or a package."""
        return cls(resolve_model_path(spec), name, **batching)

    @cached_property
    def fingerprint(self) -> str:
        """Identity of weights + tokenizer, computed from the files without loading the model."""
        return fingerprint(self.path)

    @property
    def loaded(self) -> bool:
        return self._elastic is not None

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
                logging.getLogger(__name__).info("loaded model %s from %s", self.name, self.path)
            return self._elastic

    @property
    def tokenizer(self) -> Any:
        """The model's tokenizer (chunkers count with a private copy of its backend)."""
        return self.elastic.model.tokenizer

    @cached_property
    def info(self) -> ModelInfo:
        elastic = self.elastic
        prompts = dict(getattr(elastic.model, "prompts", None) or {})
        return ModelInfo(
            name=self.name,
            fingerprint=self.fingerprint,
            max_tokens=int(elastic.model.max_seq_length),
            dimensions=elastic.dimensions,
            layers=elastic.layers,
            default_profile=default_profile().resolved(elastic.layers, elastic.dimensions),
            query_prompt=prompts.get("query") or "",
            document_prompt=prompts.get("document") or prompts.get("passage") or "",
            path=str(self.path),
        )

    def profile(self, base: EncoderProfile | None = None, **overrides: Any) -> EncoderProfile:
        """``base`` (default: the model's default profile) with ``overrides``, validated."""
        info = self.info
        merged = replace(base or info.default_profile, **overrides)
        return merged.resolved(info.layers, info.dimensions)

    def token_counts(self, texts: Sequence[str]) -> list[int]:
        """Tokens per text as the model would see them untruncated, special tokens included."""
        with metrics.TOKENIZATION_SECONDS.time():
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
        prompt: str = "", interactive: bool = False,
    ) -> np.ndarray:
        """Vectors for ``texts`` in order; inputs longer than the window are truncated.

        ``dimensions`` overrides the profile's width; ``prompt`` goes before every text
        (``token_counts``, when given, must count it). ``is_active`` and ``deadline`` (a
        ``time.monotonic()`` value) let queued work be dropped when nobody waits for it;
        ``interactive`` work (a query someone waits on) is served before bulk work.
        """
        overrides = {} if dimensions is None else {"dimensions": dimensions}
        profile = self.profile(profile, **overrides)
        if not texts:
            return np.zeros((0, profile.dimensions), dtype=np.float32)
        counts = token_counts if token_counts is not None else self.token_counts(
            [prompt + text for text in texts] if prompt else texts
        )
        window = self.info.max_tokens
        future = self._batcher.submit(
            list(texts), [min(count, window) for count in counts], (profile, normalize, prompt),
            is_active, deadline, INTERACTIVE if interactive else BULK,
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

    def _encode_batch(
        self, texts: list[str], group: tuple[EncoderProfile, bool, str]
    ) -> np.ndarray:
        profile, normalize, prompt = group
        if self._elastic is None:
            raise FailedPrecondition("the model is not loaded")
        vectors = self._elastic.encode(
            texts, profile, batch_size=len(texts), normalize=normalize, prompt=prompt
        )
        fault_point("encode.pass")
        return vectors
