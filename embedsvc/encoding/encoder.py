"""The encoder: texts in, float32 vectors out, with token accounting and over-length policy."""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from embedsvc.encoding.models import fingerprint, model_name, resolve_model_path
from embedsvc.errors import InvalidArgument

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ModelInfo:
    name: str
    path: Path
    fingerprint: str
    max_tokens: int
    dimensions: int
    layers: int


def slice_dimensions(vectors: np.ndarray, dimensions: int | None, normalize: bool) -> np.ndarray:
    """Keep the leading dims (Matryoshka) and re-normalize so cosine scores stay comparable."""
    if dimensions:
        vectors = vectors[:, :dimensions]
    if normalize:
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        vectors = vectors / np.maximum(norms, 1e-12)
    return np.ascontiguousarray(vectors, dtype=np.float32)


class Encoder:
    """A sentence-transformers model from disk, loaded on first use; one forward pass at a time.

    Loading is lazy so that work which needs no inference (an indexing run where nothing
    changed) never pays for it. Inference is serialized by a lock: on a small CPU box two
    concurrent forward passes only fight over the same cores.
    """

    def __init__(self, model_spec: str = "", batch_size: int = 32) -> None:
        self.path = resolve_model_path(model_spec)
        self.name = model_name(self.path)
        self.batch_size = batch_size
        self._lock = threading.Lock()
        self._load_lock = threading.Lock()
        self._model = None

    @cached_property
    def fingerprint(self) -> str:
        """Identity of weights + tokenizer, computed from the files without loading the model."""
        return fingerprint(self.path)

    @property
    def model(self):
        with self._load_lock:
            if self._model is None:
                from sentence_transformers import SentenceTransformer

                self._model = SentenceTransformer(str(self.path), device="cpu")
                self._model.eval()
                log.info("loaded model %s from %s", self.name, self.path)
            return self._model

    @property
    def tokenizer(self):
        return self.model.tokenizer

    @cached_property
    def info(self) -> ModelInfo:
        model = self.model
        return ModelInfo(
            name=self.name,
            path=self.path,
            fingerprint=self.fingerprint,
            max_tokens=int(model.max_seq_length),
            dimensions=int(model.get_embedding_dimension()),
            layers=int(model.transformers_model.config.num_hidden_layers),
        )

    def token_counts(self, texts: Sequence[str]) -> list[int]:
        """Tokens per text as the model would see them untruncated, special tokens included."""
        if not texts:
            return []
        encoded = self.tokenizer(list(texts), add_special_tokens=True, truncation=False)
        return [len(ids) for ids in encoded["input_ids"]]

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
        self, texts: Sequence[str], normalize: bool = True, dimensions: int | None = None
    ) -> np.ndarray:
        """Vectors for ``texts`` in order; inputs longer than the window are truncated."""
        if dimensions is not None and not 0 < dimensions <= self.info.dimensions:
            raise InvalidArgument(
                f"dimensions must be between 1 and {self.info.dimensions}, got {dimensions}"
            )
        if not texts:
            return np.zeros((0, dimensions or self.info.dimensions), dtype=np.float32)
        model = self.model
        with self._lock:
            vectors = model.encode(
                list(texts),
                batch_size=self.batch_size,
                convert_to_numpy=True,
                normalize_embeddings=False,
                show_progress_bar=False,
            )
        return slice_dimensions(vectors, dimensions, normalize)
