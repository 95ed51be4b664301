"""Training the cross-encoder re-ranker of a terminology (xMEN's recipe, on a CPU budget).

Each training mention's list is its gold concept plus hard negatives: the other top candidates
of the terminology's own generators (the fused ensemble), so the model learns exactly the
confusions it will be asked to resolve. The loss is listwise, a softmax cross-entropy over the
list, plus xMEN's rank regularization: lambda times the L2 distance between the list's logits and
the (scaled) generators' scores. The logits are scale * generator score + the cross-encoder's
output (see reranker.py), so the regularizer is the size of the correction, and the re-ranker
starts from the ensemble's order and leaves it only where the training mentions say so. No
cross-encoder ships in any package: the model starts from the bundled MiniLM weights with a
fresh one-logit head and the [START]/[END] markers as new tokens.
"""

from __future__ import annotations

import json
import logging
import math
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from embedsvc.encoding.models import resolve_model_path
from embedsvc.errors import InvalidArgument
from embedsvc.linking import reranker
from embedsvc.linking.concepts import Linked, Mention
from embedsvc.linking.versions import VersionedIndex

log = logging.getLogger(__name__)
# Mentions per link request while mining negatives.
MINING_BATCH = 64
# Start of the learned factor on the generators' scores: fused cosines differ by hundredths.
INITIAL_SCALE = 20.0
SCALE_LEARNING_RATE = 1e-2


@dataclass(frozen=True)
class TrainingMention:
    mention: Mention
    concept_id: str
    line: int


@dataclass(frozen=True)
class CandidateList:
    """One mention marked in its context, the candidates' texts (gold first) and the
    generators' scores for them."""

    mention: str
    candidates: list[str]
    generator_scores: list[float]


def read_mentions(path: Path, known: Callable[[str], bool]) -> list[TrainingMention]:
    """The mentions file, JSONL ``{"mention", "concept_id", "context"?}``; a bad line is an
    INVALID_ARGUMENT naming its number, and nothing is trained."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise InvalidArgument(f"cannot read mentions file {path}: {error}", "mentions") from None
    found = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        where, at = f"{path.name} line {number}", f"mentions:{number}"
        try:
            value = json.loads(line)
        except json.JSONDecodeError as error:
            raise InvalidArgument(f"{where}: not JSON ({error.msg})", at) from None
        if not isinstance(value, dict):
            raise InvalidArgument(f"{where}: expected a JSON object", at)
        mention, concept_id = value.get("mention"), value.get("concept_id")
        context = value.get("context", "")
        for key, good in (("mention", isinstance(mention, str) and mention.strip()),
                          ("concept_id", isinstance(concept_id, str) and concept_id)):
            if not good:
                raise InvalidArgument(f'{where}: "{key}" must be a non-empty string', at)
        if not isinstance(context, str):
            raise InvalidArgument(f'{where}: "context" must be a string', at)
        if not known(concept_id):
            raise InvalidArgument(
                f"{where}: concept_id {concept_id!r} is not in the terminology", at
            )
        found.append(TrainingMention(Mention(mention.strip(), context), concept_id, number))
    if not found:
        raise InvalidArgument(f"mentions file {path} has no mentions", "mentions")
    return found


def candidate_lists(
    index: VersionedIndex, mentions: Sequence[TrainingMention], linked: Sequence[Linked],
    negatives: int,
) -> list[CandidateList]:
    """Gold plus the generators' best ``negatives`` other concepts, for each mention whose
    gold the generators found (the re-ranker only re-orders what they find)."""
    position = {concept_id: p for p, concept_id in enumerate(index.ids)}
    lists = []
    for item, answer in zip(mentions, linked, strict=True):
        found = {c.concept_id: c.score for c in answer.candidates}
        others = [c for c in answer.candidates if c.concept_id != item.concept_id][:negatives]
        if not others or item.concept_id not in found:
            continue
        ids = [item.concept_id, *(c.concept_id for c in others)]
        lists.append(CandidateList(
            reranker.mention_text(item.mention.text, item.mention.context),
            [reranker.concept_text(index.concept_names(position[c])) for c in ids],
            [found[c] for c in ids],
        ))
    return lists


def listwise_loss(correction: torch.Tensor, generator_scores: torch.Tensor,
                  scale: torch.Tensor, rank_regularization: float) -> torch.Tensor:
    """Cross-entropy of the gold (position 0) over the list's logits, scale * scores +
    correction, plus lambda * ||logits - scale * scores||."""
    gold = torch.zeros(1, dtype=torch.long)
    logits = scale * generator_scores + correction
    loss = torch.nn.functional.cross_entropy(logits.unsqueeze(0), gold)
    if rank_regularization:
        loss = loss + rank_regularization * torch.linalg.vector_norm(correction)
    return loss


def new_cross_encoder(base_model: str):
    """A one-logit CrossEncoder on the base model's weights, with the mention markers."""
    from sentence_transformers import CrossEncoder

    model = CrossEncoder(str(resolve_model_path(base_model)), num_labels=1, device="cpu",
                         max_length=reranker.MAX_TOKENS)
    model.tokenizer.add_special_tokens(
        {"additional_special_tokens": [reranker.START, reranker.END]}
    )
    model.model.resize_token_embeddings(len(model.tokenizer))
    return model


def freeze_below(model, train_layers: int) -> None:
    """Train only the top ``train_layers`` transformer layers and the head (xMEN's
    train_layers): the backward pass stops there, so a CPU step costs less."""
    layers = model.model.base_model.encoder.layer
    if not train_layers or train_layers >= len(layers):
        return
    model.model.base_model.embeddings.requires_grad_(False)
    for layer in layers[:len(layers) - train_layers]:
        layer.requires_grad_(False)


def fit(
    lists: Sequence[CandidateList], out_dir: Path, base_model: str = "", steps: int = 0,
    mentions_per_step: int = 4, learning_rate: float = 3e-5, rank_regularization: float = 0.1,
    train_layers: int = 0, seed: int = 0, about: dict | None = None,
) -> Path:
    """Train on the candidate lists for ``steps`` optimizer steps (0 = one pass), save the
    model and ``linker.json`` into ``out_dir``. ``train_layers`` > 0 trains only the top
    layers."""
    from transformers import get_linear_schedule_with_warmup

    if not lists:
        raise InvalidArgument(
            "no training mention has its concept and another among the generators' "
            "candidates; the terminology needs at least 2 concepts", "mentions",
        )
    if (steps < 0 or mentions_per_step < 1 or learning_rate <= 0 or rank_regularization < 0
            or train_layers < 0):
        raise InvalidArgument("steps and train_layers must be >= 0, mentions_per_step >= 1, "
                              "learning_rate > 0 and rank_regularization >= 0")
    random.seed(seed)
    torch.manual_seed(seed)
    model = new_cross_encoder(base_model)
    freeze_below(model, train_layers)
    steps = steps or math.ceil(len(lists) / mentions_per_step)
    log_scale = torch.nn.Parameter(torch.tensor(math.log(INITIAL_SCALE)))
    optimizer = torch.optim.AdamW([
        {"params": [p for p in model.parameters() if p.requires_grad], "lr": learning_rate},
        {"params": [log_scale], "lr": SCALE_LEARNING_RATE, "weight_decay": 0.0},
    ])
    schedule = get_linear_schedule_with_warmup(optimizer, max(1, steps // 10), steps)
    order = random.Random(seed)
    queue: list[CandidateList] = []
    started, recent = time.perf_counter(), []
    model.train()
    for step in range(1, steps + 1):
        batch = []
        while len(batch) < min(mentions_per_step, len(lists)):
            if not queue:
                queue = list(lists)
                order.shuffle(queue)
            batch.append(queue.pop())
        pairs = [(item.mention, text) for item in batch for text in item.candidates]
        logits = model(model.preprocess(pairs))["scores"].view(-1).float()
        loss, offset = torch.zeros(()), 0
        for item in batch:
            size = len(item.candidates)
            loss = loss + listwise_loss(
                logits[offset:offset + size], torch.tensor(item.generator_scores),
                log_scale.exp(), rank_regularization,
            )
            offset += size
        loss = loss / len(batch)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        optimizer.zero_grad()
        recent = [*recent[-49:], loss.item()]
        if step % 25 == 0 or step == steps:
            log.info("step %d/%d: loss %.3f (mean of the last %d)", step, steps,
                     sum(recent) / len(recent), len(recent))
    model.eval()
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save(str(out_dir))
    (out_dir / reranker.MARKER).write_text(json.dumps({
        **(about or {}), "base_model": base_model or "bundled", "lists": len(lists),
        "steps": steps, "mentions_per_step": mentions_per_step,
        "learning_rate": learning_rate, "rank_regularization": rank_regularization,
        "train_layers": train_layers, "seed": seed,
        "generator_scale": round(log_scale.exp().item(), 4),
        "seconds": round(time.perf_counter() - started, 1),
        "final_loss": round(sum(recent) / len(recent), 4),
    }, indent=1) + "\n")
    return out_dir


def train_linker(
    linking, kb: str, mentions_path: Path, out_dir: Path, negatives: int = 15,
    **fit_options,
) -> Path:
    """Mine each mention's hard negatives from ``kb``'s generators, then ``fit``.
    ``linking`` is the product's Linking service, holding the loaded terminology."""
    if not 1 <= negatives <= 255:
        raise InvalidArgument(f"negatives must be between 1 and 255, got {negatives}",
                              "negatives")
    index = linking.serving(kb)
    ids = set(index.ids)
    mentions = read_mentions(mentions_path, ids.__contains__)
    linked: list[Linked] = []
    for start in range(0, len(mentions), MINING_BATCH):
        batch = mentions[start:start + MINING_BATCH]
        linked += linking.link(kb, [m.mention for m in batch], k=negatives + 1)
    lists = candidate_lists(index, mentions, linked, negatives)
    hits = sum(a.candidates[:1] != [] and a.candidates[0].concept_id == m.concept_id
               for m, a in zip(mentions, linked, strict=True))
    log.info("%d mentions of %s v%d; the generators rank %d first; %d lists of up to %d "
             "candidates", len(mentions), kb, index.info.version, hits, len(lists),
             negatives + 1)
    about = {"kb": kb, "kb_version": index.info.version, "mentions": len(mentions),
             "negatives": negatives, "generator_accuracy_at_1": round(hits / len(mentions), 4)}
    return fit(lists, out_dir, about=about, **fit_options)
