"""The cross-encoder re-ranker (xMEN's CrossEncoderReranker): it reads a mention in its context,
"left [START] mention [END] right", against a candidate, "name [SEP] alias [SEP] alias", and
gives one logit per pair. A softmax over one mention's candidate list makes the scores a
distribution over that list, so a threshold on the best one is a NIL rule.

The logit is a correction on top of the generators: scale * fused score + cross-encoder output.
An untrained cross-encoder therefore keeps the ensemble's order, and xMEN's rank regularization
(the distance between the logits and the generator scores) is the size of the correction.

A re-ranker is a model directory written by `embedsvc train linker`: a sentence-transformers
CrossEncoder (num_labels=1) plus ``linker.json``, which says how it was trained.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from embedsvc.errors import InvalidArgument

START, END = "[START]", "[END]"
SEP = " [SEP] "
# Characters of context kept on each side of the mention (xMEN's context_length).
CONTEXT_CHARS = 128
# Aliases shown after the canonical name in a candidate's text.
CANDIDATE_ALIASES = 4
# Tokens per pair; mention + context + candidate fit in this.
MAX_TOKENS = 128
MARKER = "linker.json"


def mention_text(text: str, context: str = "", start: int = 0, end: int = 0) -> str:
    """The mention marked in its context. Without a span the mention's first occurrence in the
    context marks it; a context that does not contain it follows the marked mention."""
    if context and not start < end:
        found = context.lower().find(text.lower())
        if found >= 0:
            start, end = found, found + len(text)
    if context and start < end:
        left = context[max(0, start - CONTEXT_CHARS):start].strip()
        right = context[end:end + CONTEXT_CHARS].strip()
        return f"{left} {START} {text} {END} {right}".strip()
    right = context[:CONTEXT_CHARS].strip()
    return f"{START} {text} {END} {right}".strip()


def concept_text(names: Sequence[str]) -> str:
    """A candidate: its canonical name first, then a few aliases."""
    return SEP.join(names[:1 + CANDIDATE_ALIASES])


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max())
    return shifted / shifted.sum()


def check_dir(path: str) -> str:
    """The absolute path of a re-ranker directory, or INVALID_ARGUMENT saying what it lacks."""
    folder = Path(path).expanduser()
    if not (folder / MARKER).is_file():
        raise InvalidArgument(
            f"re-ranker {path!r} is not a directory written by `embedsvc train linker` "
            f"(no {MARKER}); train one with `embedsvc train linker --kb NAME --mentions FILE "
            "--out DIR`", "reranker",
        )
    return str(folder.resolve())


class Reranker:
    """A loaded cross-encoder; ``logits`` is safe to call from several threads."""

    def __init__(self, path: str) -> None:
        from sentence_transformers import CrossEncoder
        from torch import nn

        self.path = path
        self.trained = json.loads((Path(path) / MARKER).read_text())
        # Raw logits: the softmax over the list, not a sigmoid per pair, makes the score.
        self.model = CrossEncoder(path, device="cpu", max_length=MAX_TOKENS,
                                  activation_fn=nn.Identity())
        self._lock = threading.Lock()

    def logits(self, mention: str, candidates: Sequence[str],
               generator_scores: Sequence[float]) -> np.ndarray:
        """One logit per candidate text for the marked mention."""
        with self._lock:
            scores = self.model.predict(
                [(mention, candidate) for candidate in candidates], batch_size=64,
                show_progress_bar=False, convert_to_numpy=True,
            )
        correction = np.asarray(scores, dtype=np.float64).reshape(-1)
        return self.trained["generator_scale"] * np.asarray(generator_scores) + correction


class Rerankers:
    """Loaded re-rankers by directory, each loaded once."""

    def __init__(self) -> None:
        self._loaded: dict[str, Reranker] = {}
        self._lock = threading.Lock()

    def get(self, path: str) -> Reranker:
        with self._lock:
            if path not in self._loaded:
                self._loaded[path] = Reranker(check_dir(path))
            return self._loaded[path]
