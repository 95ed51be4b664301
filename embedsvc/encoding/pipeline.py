"""What a sentence-transformers directory computes, read from its files without torch.

An exported runtime runs only the transformer; the rest of the pipeline (tokenize with
truncation at ``max_seq_length``, mean pooling, L2 normalization) is simple enough to do
ourselves, as long as the directory's ``modules.json`` says that is all there is. Anything else
(a Dense layer, CLS pooling, lower-casing outside the tokenizer) is ``None`` here and runs on
torch, which loads the pipeline as sentence-transformers defines it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from tokenizers import Tokenizer

_TRANSFORMER = "sentence_transformers.models.Transformer"
_POOLING = "sentence_transformers.models.Pooling"
_NORMALIZE = "sentence_transformers.models.Normalize"
_OTHER_POOLING = (
    "pooling_mode_cls_token", "pooling_mode_max_tokens", "pooling_mode_mean_sqrt_len_tokens",
    "pooling_mode_weightedmean_tokens", "pooling_mode_lasttoken",
)


@dataclass(frozen=True)
class Pipeline:
    """Transformer -> mean pooling [-> normalize], with the facts an encoder reports."""

    path: Path
    max_tokens: int
    dimensions: int
    layers: int
    normalize: bool
    prompts: dict[str, str] = field(default_factory=dict)


def read_pipeline(path: Path) -> Pipeline | None:
    """The pipeline of the model at ``path``, or ``None`` when it is more than we re-implement."""
    try:
        modules = json.loads((path / "modules.json").read_text())
        bert = _json(path / "sentence_bert_config.json")
        config = _json(path / "config.json")
        types = [module["type"] for module in modules]
        if types not in ([_TRANSFORMER, _POOLING], [_TRANSFORMER, _POOLING, _NORMALIZE]):
            return None
        if modules[0].get("path") or not (path / "tokenizer.json").is_file():
            return None
        pooling = _json(path / modules[1]["path"] / "config.json")
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if (
        not pooling.get("pooling_mode_mean_tokens")
        or any(pooling.get(mode) for mode in _OTHER_POOLING)
        or not pooling.get("include_prompt", True)
        or bert.get("do_lower_case")
        or not isinstance(bert.get("max_seq_length"), int)
        or not isinstance(config.get("num_hidden_layers"), int)
    ):
        return None
    settings = _json(path / "config_sentence_transformers.json")
    return Pipeline(
        path=path,
        max_tokens=bert["max_seq_length"],
        dimensions=int(pooling.get("word_embedding_dimension") or config["hidden_size"]),
        layers=config["num_hidden_layers"],
        normalize=len(types) == 3,
        prompts=dict(settings.get("prompts") or {}),
    )


def _json(path: Path) -> dict[str, Any]:
    """A JSON object file; a missing file is an empty object."""
    if not path.is_file():
        return {}
    value = json.loads(path.read_text())
    if not isinstance(value, dict):
        raise ValueError(f"{path} is not a JSON object")
    return value


class FastTokenizer:
    """The directory's ``tokenizer.json`` as the few methods the chunkers and encoders use.

    Loading transformers' tokenizer classes imports torch (seconds); the Rust tokenizer they wrap
    is all that counting and encoding need. It looks like a transformers fast tokenizer to
    ``chunking.tokens`` (``is_fast``, ``backend_tokenizer``, ``get_added_vocab``).
    """

    is_fast = True

    def __init__(self, path: Path, max_tokens: int) -> None:
        self.backend_tokenizer = Tokenizer.from_file(str(path / "tokenizer.json"))
        self.backend_tokenizer.no_truncation()
        self.backend_tokenizer.no_padding()
        # Encoding truncates and pads; that state lives on a copy only the encoder uses.
        self._encoding = Tokenizer.from_str(self.backend_tokenizer.to_str())
        self._encoding.enable_truncation(max_tokens)
        self._encoding.enable_padding(pad_id=self._pad_id(), pad_token=self._pad_token())

    def get_added_vocab(self) -> dict[str, int]:
        return {
            token.content: token_id
            for token_id, token in self.backend_tokenizer.get_added_tokens_decoder().items()
        }

    def counts(self, texts: list[str]) -> list[int]:
        """Tokens per text untruncated, special tokens included (no offsets: they cost time)."""
        encoded = self.backend_tokenizer.encode_batch_fast(texts, add_special_tokens=True)
        return [len(encoding.ids) for encoding in encoded]

    def batch(self, texts: list[str]) -> dict[str, np.ndarray]:
        """Model inputs for ``texts``: truncated at the window, padded to the longest."""
        encoded = self._encoding.encode_batch_fast(texts, add_special_tokens=True)
        return {
            "input_ids": np.array([e.ids for e in encoded], dtype=np.int64),
            "attention_mask": np.array([e.attention_mask for e in encoded], dtype=np.int64),
            "token_type_ids": np.array([e.type_ids for e in encoded], dtype=np.int64),
        }

    def _pad_token(self) -> str:
        padding = json.loads(self.backend_tokenizer.to_str()).get("padding") or {}
        if padding.get("pad_token"):
            return padding["pad_token"]
        vocab = self.get_added_vocab()
        return next((token for token in ("[PAD]", "<pad>", "<|pad|>") if token in vocab), "[PAD]")

    def _pad_id(self) -> int:
        token_id = self.backend_tokenizer.token_to_id(self._pad_token())
        return 0 if token_id is None else token_id
