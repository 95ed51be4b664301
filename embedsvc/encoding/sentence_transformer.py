"""The sentence-transformers encoder: texts in, float32 vectors out, batched by tokens.

A model runs on one of two backends. OpenVINO (`openvino_backend`) serves the full-depth,
tempscale-1 profiles of models whose pipeline is transformer + mean pooling (+ normalize),
from an export cached on disk, without importing torch; it is the default wherever it applies
(about 3.3x torch fp32 at bf16 on 256-token texts on this machine kind). Torch
(`ElasticModel`) serves everything else: fewer layers and TempScale variants, other pipelines,
and ``backend="torch"``; it loads on the first request that needs it. Dimensions are
post-hoc, so every backend serves them.

All inference goes through one Batcher, which coalesces concurrent requests into
token-budgeted, length-sorted batches, serves interactive work (queries) ahead of bulk work
(documents) and drops work whose caller is gone.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import CancelledError
from dataclasses import replace
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from embedsvc import metrics
from embedsvc.encoding.batching import BULK, INTERACTIVE, Batcher
from embedsvc.encoding.models import fingerprint, model_name, resolve_model_path
from embedsvc.encoding.pipeline import FastTokenizer, Pipeline, read_pipeline
from embedsvc.encoding.profile import default_profile
from embedsvc.encoding.vectors import slice_dimensions
from embedsvc.errors import Cancelled, DeadlineExceeded, FailedPrecondition, InvalidArgument
from embedsvc.faults import fault_point
from embedsvc.types import EncoderProfile, ModelInfo

if TYPE_CHECKING:
    from embedsvc.encoding.elastic import ElasticModel
    from embedsvc.encoding.openvino_backend import OpenVinoModel

BACKENDS = ("auto", "openvino", "torch")
log = logging.getLogger(__name__)


def default_cache_dir() -> Path:
    """Where exports go unless configured: the user's cache, shared by every data dir."""
    configured = os.environ.get("EMBEDSVC_CACHE_DIR")
    if configured:
        return Path(configured).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "embedsvc"


class SentenceTransformerEncoder:
    """A sentence-transformers model directory, loaded on first use.

    Loading is lazy so that work which needs no inference (an indexing run where nothing
    changed) never pays for it.
    """

    def __init__(
        self, path: Path, name: str = "", max_batch_tokens: int = 16384,
        max_queue_texts: int = 4096, max_pass_texts: int = 32, backend: str = "auto",
        cache_dir: Path | None = None,
    ) -> None:
        if backend not in BACKENDS:
            raise InvalidArgument(f"backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
        self.path = path
        self.name = name or model_name(path)
        self.max_batch_tokens = max_batch_tokens
        self.max_queue_texts = max_queue_texts
        self.max_pass_texts = max_pass_texts
        self.backend = backend
        self.cache_dir = cache_dir or default_cache_dir()
        self._load_lock = threading.RLock()
        self._pipeline: Pipeline | None = None
        self._elastic: ElasticModel | None = None
        self._openvino: OpenVinoModel | None = None
        self._tokenizer: Any = None
        self._batcher: Batcher | None = None

    @classmethod
    def from_spec(
        cls, spec: str = "", name: str = "", backend: str = "auto",
        cache_dir: Path | None = None, **batching: int,
    ) -> SentenceTransformerEncoder:
        """The model a setting names: '' = the bundled model, else a local dir or a package."""
        return cls(resolve_model_path(spec), name, backend=backend, cache_dir=cache_dir, **batching)

    @cached_property
    def fingerprint(self) -> str:
        """Identity of weights + tokenizer, computed from the files without loading the model."""
        return fingerprint(self.path)

    @property
    def loaded(self) -> bool:
        return self._batcher is not None

    @property
    def runtime(self) -> str:
        """The backend serving full-depth profiles: "openvino" or "torch" (loads the model)."""
        self._load()
        return "openvino" if self._openvino is not None else "torch"

    @property
    def elastic(self) -> ElasticModel:
        """The torch model (loaded on first use): variants, training, and other pipelines."""
        with self._load_lock:
            if self._elastic is None:
                from sentence_transformers import SentenceTransformer

                from embedsvc.encoding.elastic import ElasticModel

                model = SentenceTransformer(str(self.path), device="cpu")
                model.eval()
                self._elastic = ElasticModel(model)
                log.info("loaded model %s from %s on torch", self.name, self.path)
            return self._elastic

    @property
    def tokenizer(self) -> Any:
        """The model's tokenizer (chunkers count with a private copy of its backend)."""
        self._load()
        return self._tokenizer

    @cached_property
    def info(self) -> ModelInfo:
        self._load()
        pipeline = self._pipeline
        if pipeline is not None:
            max_tokens, dims, layers, prompts = (
                pipeline.max_tokens, pipeline.dimensions, pipeline.layers, pipeline.prompts
            )
        else:
            elastic = self.elastic
            max_tokens, dims, layers = (
                int(elastic.model.max_seq_length), elastic.dimensions, elastic.layers
            )
            prompts = dict(getattr(elastic.model, "prompts", None) or {})
        default = default_profile()
        if self._openvino is not None:
            default = replace(default, precision=self._openvino.default_precision())
        return ModelInfo(
            name=self.name,
            fingerprint=self.fingerprint,
            max_tokens=max_tokens,
            dimensions=dims,
            layers=layers,
            default_profile=default.resolved(layers, dims),
            query_prompt=prompts.get("query") or "",
            document_prompt=prompts.get("document") or prompts.get("passage") or "",
            path=str(self.path),
            backend=self.runtime,
        )

    def profile(self, base: EncoderProfile | None = None, **overrides: Any) -> EncoderProfile:
        """``base`` (default: the model's default profile) with ``overrides``, validated."""
        info = self.info
        merged = replace(base or info.default_profile, **overrides).resolved(
            info.layers, info.dimensions
        )
        if merged.precision == "int8":
            if not self._on_openvino(merged):
                raise InvalidArgument(
                    "precision int8 runs on the OpenVINO backend only, at the model's full "
                    f"depth ({info.layers} layers) and tempscale 1 (this model is served on "
                    f"{self.runtime}); use fp32 or bf16",
                    "precision",
                )
            self._openvino.prepare("int8")
        return merged

    def token_counts(self, texts: Sequence[str]) -> list[int]:
        """Tokens per text as the model would see them untruncated, special tokens included."""
        self._load()
        with metrics.TOKENIZATION_SECONDS.time():
            if not texts:
                return []
            if isinstance(self._tokenizer, FastTokenizer):
                return self._tokenizer.counts(list(texts))
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

    def _load(self) -> None:
        """Pick the backend and start the batcher, once: OpenVINO where it applies."""
        with self._load_lock:
            if self._batcher is not None:
                return
            pipeline = None if self.backend == "torch" else read_pipeline(self.path)
            if pipeline is None and self.backend == "openvino":
                raise FailedPrecondition(
                    f"model {self.name!r} is not transformer + mean pooling, which is all the "
                    "OpenVINO backend runs; serve it with backend torch or auto"
                )
            if pipeline is not None:
                self._start_openvino(pipeline)
            if self._openvino is None:
                self._tokenizer = self.elastic.model.tokenizer
            # OpenVINO splits a pass into one sub-batch per stream: each gets the pass size.
            streams = 1 if self._openvino is None else self._openvino.streams
            self._batcher = Batcher(
                self._encode_batch, self.max_batch_tokens * streams, self.max_queue_texts,
                self.max_pass_texts * streams,
            )

    def _start_openvino(self, pipeline: Pipeline) -> None:
        """Load (exporting once if needed) the OpenVINO model; on failure, auto uses torch."""
        from embedsvc.encoding.openvino_backend import OpenVinoModel

        tokenizer = FastTokenizer(self.path, pipeline.max_tokens)
        try:
            self._openvino = OpenVinoModel(pipeline, tokenizer, self.fingerprint, self.cache_dir)
        except (FailedPrecondition, OSError, RuntimeError) as error:
            if self.backend == "openvino":
                message = f"cannot run {self.name!r} on OpenVINO: {error}"
                raise FailedPrecondition(message) from error
            log.warning("serving %s on torch: OpenVINO failed: %s", self.name, error)
            return
        self._pipeline, self._tokenizer = pipeline, tokenizer
        log.info("loaded model %s from %s on OpenVINO", self.name, self.path)

    def _on_openvino(self, profile: EncoderProfile) -> bool:
        """Whether OpenVINO serves ``profile``: full depth and tempscale 1 (width is post-hoc)."""
        pipeline = self._pipeline
        return (
            self._openvino is not None and pipeline is not None
            and profile.layers in (None, pipeline.layers) and profile.tempscale == 1.0
        )

    def _encode_batch(
        self, texts: list[str], group: tuple[EncoderProfile, bool, str]
    ) -> np.ndarray:
        profile, normalize, prompt = group
        if self._batcher is None:
            raise FailedPrecondition("the model is not loaded")
        if self._on_openvino(profile):
            inputs = [prompt + text for text in texts] if prompt else texts
            vectors = self._openvino.encode(inputs, profile.precision)
            if self._pipeline.normalize:  # the model's own Normalize, before any slicing
                vectors = slice_dimensions(vectors, None, normalize=True)
            vectors = slice_dimensions(vectors, profile.dimensions, normalize)
        else:
            vectors = self.elastic.encode(
                texts, profile, batch_size=len(texts), normalize=normalize, prompt=prompt
            )
        fault_point("encode.pass")
        return vectors
