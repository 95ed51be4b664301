"""VacancySBERT-style training: a Siamese bi-encoder on title co-occurrence pairs.

Pairs are (title, text that co-occurs with it): the ad's skills, its description, another label
of the same catalog entry. sentence-transformers' MultipleNegativesRankingLoss pulls each pair
together against the other pairs of its batch; with ``matryoshka`` the 2D Matryoshka loss wraps
it so the model also serves fewer layers and dims. The output is a model dir that a server
serves (``--models NAME=DIR``) and a catalog names (``titles load --model NAME``).
"""

from __future__ import annotations

import logging
import random
from collections.abc import Iterator, Sequence
from pathlib import Path

import torch

from embedsvc.encoding.models import resolve_model_path
from embedsvc.encoding.training import read_pairs
from embedsvc.errors import InvalidArgument
from embedsvc.titles.types import CatalogEntry

log = logging.getLogger(__name__)


def catalog_pairs(entries: Sequence[CatalogEntry]) -> list[tuple[str, str]]:
    """Every alt label with its entry's title, and the title with its skills and description."""
    pairs = [(label, entry.title) for entry in entries for label in entry.alt_labels]
    pairs += [(entry.title, entry.profile) for entry in entries if entry.profile]
    return pairs


def train_titles(
    pairs_path: Path | None, out_dir: Path, base_model: str = "",
    catalog: Sequence[CatalogEntry] = (), epochs: int = 1, batch_size: int = 16,
    max_steps: int | None = None, learning_rate: float = 2e-5, matryoshka: bool = False,
    max_tokens: int = 64, seed: int = 0, show_progress_bar: bool = True,
) -> Path:
    """Fine-tune ``base_model`` ('' = bundled) on the pairs file and the catalog's own pairs.

    Texts are cut at ``max_tokens`` while training (titles and skill lists are short; the
    start of a description carries most of its signal), which keeps a CPU step cheap; the
    saved model keeps the base model's window.
    """
    from sentence_transformers import InputExample, SentenceTransformer
    from sentence_transformers.sentence_transformer.losses import (
        Matryoshka2dLoss,
        MultipleNegativesRankingLoss,
    )
    from torch.utils.data import DataLoader

    pairs = read_pairs(pairs_path) if pairs_path else []
    pairs += catalog_pairs(catalog)
    if len(pairs) < 2:
        raise InvalidArgument("training needs at least 2 pairs (a pairs file or a catalog)")
    if epochs < 1 or batch_size < 2 or (max_steps is not None and max_steps < 1):
        raise InvalidArgument("epochs and max_steps must be at least 1, batch_size at least 2")
    random.seed(seed)
    torch.manual_seed(seed)
    model = SentenceTransformer(str(resolve_model_path(base_model)), device="cpu")
    window = model.max_seq_length
    model.max_seq_length = min(max_tokens, window)
    examples = [InputExample(texts=[anchor, positive]) for anchor, positive in pairs]
    loader = DataLoader(examples,  # type: ignore[arg-type]
                        batch_sampler=DistinctBatches(pairs, min(batch_size, len(pairs)), seed))
    loss = MultipleNegativesRankingLoss(model)
    if matryoshka:
        width = int(model.get_embedding_dimension())
        dims = sorted({width, *(d for d in (256, 128, 64) if d < width)}, reverse=True)
        loss = Matryoshka2dLoss(model, loss, dims)
    steps = min(max_steps or len(loader) * epochs, len(loader) * epochs)
    log.info("training on %d pairs, %d steps -> %s", len(pairs), steps, out_dir)
    model.old_fit(
        train_objectives=[(loader, loss)], epochs=1 if max_steps else epochs,
        steps_per_epoch=max_steps or len(loader), warmup_steps=steps // 10,
        optimizer_params={"lr": learning_rate}, output_path=str(out_dir),
        show_progress_bar=show_progress_bar,
    )
    model.max_seq_length = window
    model.save(str(out_dir))
    return out_dir


class DistinctBatches:
    """Batches of pair indices in which no text appears twice, reshuffled on every pass.

    Many alt labels share their entry's title; a batch that held one title twice would make it
    the negative of its own positive. Each pair goes to the first batch being filled that lacks
    its texts (a new one if none), so every pair is used once per pass and a pass always ends.
    """

    def __init__(self, pairs: Sequence[tuple[str, str]], batch_size: int, seed: int) -> None:
        self.texts = [{text.strip().lower() for text in pair} for pair in pairs]
        self.batch_size = batch_size
        self.rng = random.Random(seed)

    def __len__(self) -> int:
        return max(len(self.texts) // self.batch_size, 1)

    def __iter__(self) -> Iterator[list[int]]:
        order = list(range(len(self.texts)))
        self.rng.shuffle(order)
        filling: list[tuple[list[int], set[str]]] = []
        for position in order:
            own = self.texts[position]
            target = next((batch for batch in filling if not own & batch[1]), None)
            if target is None:
                target = ([], set())
                filling.append(target)
            target[0].append(position)
            target[1].update(own)
            if len(target[0]) == self.batch_size:
                filling.remove(target)
                yield target[0]
        yield from (batch for batch, _ in filling if len(batch) > 1)
