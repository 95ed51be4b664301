"""Trace a sentence-transformers model into OpenVINO IR: the one step of that backend on torch.

The transformer plus mean pooling is traced with ``openvino.convert_model`` (the pinned
transformers cannot install optimum), saved with fp32 weights so the f32 runtime reproduces
torch, and checked against torch fp32 before it is kept. Imported only when an export is
missing, so a start with a cached export never imports torch.
"""

from __future__ import annotations

import inspect
import warnings
from pathlib import Path
from typing import Any

import openvino as ov
import torch
from sentence_transformers import SentenceTransformer

from embedsvc.encoding.calibration import local_texts
from embedsvc.encoding.openvino_cache import cosines, run_model, save_ir
from embedsvc.encoding.pipeline import FastTokenizer, Pipeline
from embedsvc.errors import FailedPrecondition

# The exported f32 graph must reproduce torch fp32 to this cosine, or it is not used.
EXACT_COSINE = 0.99999
_CHECK_TEXTS = 16


class MeanPooled(torch.nn.Module):
    """The transformer and sentence-transformers' mean pooling, as one traceable graph."""

    def __init__(self, transformer: torch.nn.Module) -> None:
        super().__init__()
        self.transformer = transformer
        parameters = inspect.signature(transformer.forward).parameters
        self.takes_token_types = "token_type_ids" in parameters

    def forward(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
        token_type_ids: torch.Tensor | None = None,
    ) -> torch.Tensor:
        extra = {"token_type_ids": token_type_ids} if self.takes_token_types else {}
        hidden = self.transformer(
            input_ids=input_ids, attention_mask=attention_mask, **extra
        ).last_hidden_state
        mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
        return (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)


def export_fp32(pipeline: Pipeline, tokenizer: FastTokenizer, target: Path) -> dict[str, Any]:
    """Trace the model to ``target`` (``.xml`` + ``.bin``); returns its cosine to torch fp32."""
    model = SentenceTransformer(str(pipeline.path), device="cpu")
    model.eval()
    transformer = model.transformers_model
    if transformer is None:
        raise FailedPrecondition("the model has no transformers model to export")
    wrapper = MeanPooled(transformer).eval()
    example = {k: torch.from_numpy(v) for k, v in tokenizer.batch(["an example", "two"]).items()}
    if not wrapper.takes_token_types:
        example.pop("token_type_ids")
    texts = list(local_texts()[:_CHECK_TEXTS])
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer chatter about constants that are constant here
        converted = ov.convert_model(wrapper, example_input=example)
        reference = model.encode(texts, batch_size=len(texts), convert_to_numpy=True)
    save_ir(converted, target)
    cosine = cosines(reference, run_model(target, "f32", tokenizer, texts))
    if cosine["min"] < EXACT_COSINE:
        target.unlink()
        raise FailedPrecondition(
            f"the OpenVINO export reproduces torch fp32 only to cosine {cosine['min']:.6f} "
            f"(at least {EXACT_COSINE} is needed)"
        )
    return cosine
