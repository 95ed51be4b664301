"""Fine-tune a model for elastic serving (2DMSE): good vectors at every depth and leading width.

Truncating a model that was not trained for it loses more quality than one trained with
sentence-transformers' ``Matryoshka2dLoss``: per step it adds the loss at one sampled earlier
layer plus a KL term towards the last layer, at every Matryoshka width, around an in-batch
negatives ranking loss over (anchor, positive) pairs.

This uses ``SentenceTransformer.old_fit``, the pre-v3 training loop that sentence-transformers 6.2
still ships: unlike ``SentenceTransformerTrainer`` and ``fit`` it needs neither ``datasets`` nor
``accelerate``, which the service does not depend on.
"""

from __future__ import annotations

import json
import logging
import random
from collections.abc import Sequence
from pathlib import Path

import torch

from embedsvc.encoding.models import resolve_model_path
from embedsvc.errors import InvalidArgument

log = logging.getLogger(__name__)

# Widths trained by default (those below the model's own width, which is always trained).
DEFAULT_DIMS = (384, 256, 128, 64, 32)


def train_2dmse(
    pairs_path: str | Path,
    base_model: str | Path,
    out_dir: str | Path,
    epochs: int = 1,
    batch_size: int = 32,
    max_steps: int | None = None,
    learning_rate: float = 2e-5,
    matryoshka_dims: Sequence[int] | None = None,
    n_layers_per_step: int = 1,
    warmup_ratio: float = 0.1,
    seed: int = 0,
    show_progress_bar: bool = True,
) -> Path:
    """Train ``base_model`` ('' = the bundled model, else a path or package) on the JSONL pairs
    at ``pairs_path`` and save it to ``out_dir``, loadable with ``SentenceTransformer(out_dir)``.

    ``max_steps`` caps the number of optimizer steps (handy for a quick CPU run); ``epochs`` is
    ignored when it is set. The progress bar (tqdm) goes to stderr.
    """
    from sentence_transformers import InputExample, SentenceTransformer
    from sentence_transformers.sentence_transformer.losses import (
        Matryoshka2dLoss,
        MultipleNegativesRankingLoss,
    )
    from torch.utils.data import DataLoader

    pairs = read_pairs(Path(pairs_path))
    _check_settings(epochs, batch_size, max_steps, learning_rate, n_layers_per_step)
    random.seed(seed)
    torch.manual_seed(seed)
    model = SentenceTransformer(str(resolve_model_path(str(base_model))), device="cpu")
    dims = _training_dims(matryoshka_dims, int(model.get_embedding_dimension()))
    examples = [InputExample(texts=[anchor, positive]) for anchor, positive in pairs]
    loader = DataLoader(examples, batch_size=min(batch_size, len(examples)), shuffle=True,
                        drop_last=True)
    steps_per_epoch = max_steps or len(loader)
    epochs = 1 if max_steps else epochs
    loss = Matryoshka2dLoss(model, MultipleNegativesRankingLoss(model), dims,
                            n_layers_per_step=n_layers_per_step)
    out = Path(out_dir)
    log.info("training %d pairs, %d steps, dims %s -> %s", len(pairs),
             steps_per_epoch * epochs, dims, out)
    model.old_fit(
        train_objectives=[(loader, loss)],
        epochs=epochs,
        steps_per_epoch=steps_per_epoch,
        warmup_steps=int(warmup_ratio * steps_per_epoch * epochs),
        optimizer_params={"lr": learning_rate},
        output_path=str(out),
        show_progress_bar=show_progress_bar,
    )
    return out


def read_pairs(path: Path) -> list[tuple[str, str]]:
    """(anchor, positive) pairs from JSONL, one ``{"anchor": ..., "positive": ...}`` a line."""
    pairs = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as error:
        raise InvalidArgument(f"cannot read training pairs {path}: {error}") from None
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            pair = (record["anchor"], record["positive"])
        except (json.JSONDecodeError, TypeError, KeyError):
            raise InvalidArgument(
                f'{path}:{number}: expected {{"anchor": "...", "positive": "..."}}'
            ) from None
        if not all(isinstance(text, str) and text.strip() for text in pair):
            raise InvalidArgument(f"{path}:{number}: anchor and positive must be non-empty text")
        pairs.append(pair)
    if len(pairs) < 2:
        raise InvalidArgument(
            f"{path} has {len(pairs)} pairs; in-batch negatives need at least 2"
        )
    return pairs


def _check_settings(
    epochs: int, batch_size: int, max_steps: int | None, learning_rate: float,
    n_layers_per_step: int,
) -> None:
    if epochs < 1 or batch_size < 2 or (max_steps is not None and max_steps < 1):
        raise InvalidArgument("epochs and max_steps must be at least 1, batch_size at least 2")
    if not learning_rate > 0:
        raise InvalidArgument(f"learning_rate must be positive, got {learning_rate}")
    if n_layers_per_step == 0 or n_layers_per_step < -1:
        raise InvalidArgument("n_layers_per_step must be -1 (all layers) or at least 1")


def _training_dims(dims: Sequence[int] | None, model_dims: int) -> list[int]:
    """The requested widths, widest first, always including the model's full width."""
    if dims is None:
        dims = [dim for dim in DEFAULT_DIMS if dim < model_dims]
    bad = [dim for dim in dims if not 1 <= dim <= model_dims]
    if bad:
        raise InvalidArgument(f"matryoshka dims must be between 1 and {model_dims}, got {bad}")
    return sorted({*dims, model_dims}, reverse=True)
