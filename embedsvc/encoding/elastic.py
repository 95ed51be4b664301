"""Run one loaded model under many profiles (depth, width, TempScale, precision) at once.

Concurrent requests share one SentenceTransformer, so a profile never changes it. Instead each
(layers, tempscale) pair gets a *variant*: a shallow copy of the module path from the
SentenceTransformer down to the transformer's layer list. The variant's layer list is a slice
(fewer layers really stop the forward pass there), and for tempscale != 1 its self-attention
modules are shallow copies with ``scaling / tau``. The weights (the Linear, LayerNorm and
embedding modules) are the same objects in every variant, so a variant costs a few hundred bytes.

Why ``scaling / tau`` is TempScale: transformers 5 BERT-family attention computes
``softmax(Q K^T * scaling + mask)`` in whichever attention function is configured (eager, SDPA,
flash) and reads ``module.scaling`` on every call. Masked positions are -inf or the dtype minimum,
so ``softmax((Q K^T * scaling + mask) / tau) == softmax(Q K^T * (scaling / tau) + mask)``, and
tau = 1 leaves ``scaling`` untouched: bit-identical to the plain model.
"""

from __future__ import annotations

import contextlib
import copy
import functools
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import nn

from embedsvc.encoding.vectors import slice_dimensions
from embedsvc.errors import InvalidArgument
from embedsvc.types import EncoderProfile

__all__ = ["ElasticModel", "slice_dimensions"]

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

# Distinct (layers, tempscale) pairs kept built; queries may pick their own tempscale.
MAX_VARIANTS = 64
_NO_LIMIT = int(1e30)  # transformers' own "no maximum length" value


class ElasticModel:
    """A SentenceTransformer plus its per-profile variants; safe to use from many threads."""

    def __init__(self, model: SentenceTransformer) -> None:
        self.model = model
        transformer = model.transformers_model
        if transformer is None:
            raise InvalidArgument("the model has no transformers model to run elastically")
        # Child names from the SentenceTransformer down to the transformer's layer list.
        self.layer_path = [*_module_path(model, transformer), *_layer_list_path(transformer)]
        self.layers = len(_get_path(model, self.layer_path))
        self.dimensions = int(model.get_embedding_dimension())
        self.variant = functools.lru_cache(maxsize=MAX_VARIANTS)(self._build_variant)
        # A fast tokenizer keeps truncation/padding as state that each call with other settings
        # rewrites: counting (untruncated) on the encoding tokenizer from another thread would
        # make a concurrent encode get ragged, unpadded batches. Counting gets its own copy, set
        # up once here so that concurrent counts never rewrite it (and never warn about length).
        self._counter = copy.deepcopy(model.tokenizer)
        self._counter.model_max_length = _NO_LIMIT
        self.token_counts(["warm up"])

    def encode(
        self,
        texts: Sequence[str],
        profile: EncoderProfile,
        batch_size: int = 32,
        normalize: bool = True,
        prompt: str = "",
    ) -> np.ndarray:
        """Float32 vectors for ``texts`` in order, computed the way ``profile`` says.

        ``prompt`` is put before every text (e5-style "query: "); "" also keeps the model's own
        default prompt out, since a collection stores the prompts it was built with.
        """
        profile = profile.resolved(self.layers, self.dimensions)
        if profile.precision == "int8":
            raise InvalidArgument(
                "precision int8 runs on the OpenVINO backend only, not on torch; "
                "use fp32 or bf16", "precision",
            )
        if not texts:
            return np.zeros((0, profile.dimensions), dtype=np.float32)
        model = self.variant(profile.layers, profile.tempscale)
        with _precision(profile.precision):
            vectors = model.encode(
                list(texts),
                batch_size=batch_size,
                convert_to_tensor=True,
                normalize_embeddings=False,
                show_progress_bar=False,
                prompt=prompt,
            )
        return slice_dimensions(vectors.float().numpy(), profile.dimensions, normalize)

    def token_counts(self, texts: Sequence[str]) -> list[int]:
        """Tokens per text as the model would see them untruncated, special tokens included."""
        if not texts:
            return []
        encoded = self._counter(list(texts), add_special_tokens=True, truncation=False)
        return [len(ids) for ids in encoded["input_ids"]]

    def _build_variant(self, layers: int, tempscale: float) -> SentenceTransformer:
        """The shared model when nothing changes, else a copy that shares all weights."""
        if layers == self.layers and tempscale == 1.0:
            return self.model
        layer_list = _get_path(self.model, self.layer_path)
        kept = [_with_tempscale(layer, tempscale) for layer in layer_list[:layers]]
        return _replace_path(self.model, self.layer_path, nn.ModuleList(kept))


def _module_path(root: nn.Module, target: nn.Module) -> list[str]:
    return next(name.split(".") for name, module in root.named_modules() if module is target)


def _layer_list_path(transformer: nn.Module) -> list[str]:
    """Where the transformer keeps its layers (``encoder.layer`` for BERT), found by shape."""
    depth = transformer.config.num_hidden_layers
    for name, module in transformer.named_modules():
        if isinstance(module, nn.ModuleList) and len(module) == depth:
            return name.split(".")
    raise InvalidArgument(
        f"cannot find the {depth} transformer layers of {type(transformer).__name__}; "
        "this architecture does not support layer truncation"
    )


def _get_path(module: nn.Module, path: Sequence[str]) -> nn.Module:
    for name in path:
        module = module._modules[name]
    return module


def _shallow_copy(module: nn.Module, children: dict[str, nn.Module]) -> nn.Module:
    """A new module object sharing parameters and buffers, with some children replaced.

    ``copy.copy`` alone would share the ``_modules`` dict itself, so replacing a child on the copy
    would change the original: the dict is copied too.
    """
    clone = copy.copy(module)
    clone._modules = {**module._modules, **children}
    return clone


def _replace_path(root: nn.Module, path: Sequence[str], leaf: nn.Module) -> nn.Module:
    """Copy of ``root`` where the module at ``path`` is ``leaf``; only that path is copied."""
    if not path:
        return leaf
    child = root._modules[path[0]]
    return _shallow_copy(root, {path[0]: _replace_path(child, path[1:], leaf)})


def _with_tempscale(layer: nn.Module, tempscale: float) -> nn.Module:
    """``layer`` with its attention logits divided by ``tempscale``; the layer itself if 1."""
    if tempscale == 1.0:
        return layer
    scaled = _scale_attention(layer, tempscale)
    if scaled is layer:
        raise InvalidArgument(
            f"tempscale is not supported by {type(layer).__name__}: its attention has no "
            "`scaling` attribute to adjust; use tempscale 1"
        )
    return scaled


def _scale_attention(module: nn.Module, tempscale: float) -> nn.Module:
    """Copy the modules on the path to each attention module (the ones with ``scaling``)."""
    scaling = module.__dict__.get("scaling")
    if isinstance(scaling, float):
        clone = _shallow_copy(module, {})
        clone.scaling = scaling / tempscale
        return clone
    changed = {}
    for name, child in module.named_children():
        scaled = _scale_attention(child, tempscale)
        if scaled is not child:
            changed[name] = scaled
    return _shallow_copy(module, changed) if changed else module


@contextlib.contextmanager
def _precision(precision: str) -> Iterator[None]:
    """bf16 autocast for the forward pass; autocast state is per thread, so fp32 peers are safe."""
    if precision == "bf16":
        with torch.autocast("cpu", dtype=torch.bfloat16):
            yield
    else:
        yield
