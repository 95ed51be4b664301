"""Token accounting against the real tokenizer, special tokens included.

Chunkers plan with estimates: the document is tokenized once with offsets and the cost of any
span is the number of tokens starting inside it (two bisections). Estimates can be off by a
few tokens (a word cut in two, a tokenizer that is not additive across whitespace), so the final
``embed_input`` of every chunk is tokenized once more in a single batch, and only the rare chunk
that is really over budget is split again. A chunk over budget is never returned.

One exception to re-tokenizing: for a BERT pipeline (BERT normalizer, BERT pre-tokenizer,
WordPiece) normalization is per character and words never cross whitespace, so a span cut at
ASCII whitespace on both sides has exactly the tokens the document tokenization found inside it,
and its count is known without a second pass. Documents that contain an added token's text
(``[CLS]`` ...) always take the second pass.
"""

from __future__ import annotations

import bisect
import itertools
import weakref
from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import cached_property
from typing import Any

from tokenizers import Tokenizer

from embedsvc.chunking.lines import line_of
from embedsvc.types import Chunk

# Sources are tokenized in newline-aligned pieces of about this many characters, batched so the
# tokenizer's Rust side can work on several at once.
_PIECE_CHARS = 32_768
# Whitespace that a BERT normalizer keeps as a word separator (it deletes other control chars).
_WORD_SEPARATORS = frozenset(" \t\n\r")


class TokenCounter:
    """Counts tokens exactly as the encoder sees them: ``len(tokenizer(text)["input_ids"])``.

    It runs a private copy of the fast tokenizer's Rust backend with truncation and padding
    off: calling the Python wrapper costs far more than tokenizing a short context, and the
    wrapper reconfigures the shared backend on every call, which would race with encoders
    using the same tokenizer in other threads.
    """

    def __init__(self, tokenizer: Any) -> None:
        self._backend = _private_backend(tokenizer)
        self._added = list(tokenizer.get_added_vocab())
        self._prefix_costs: dict[str, int] = {"": 0}
        self.special = self.count("")

    def count_many(self, texts: Sequence[str]) -> list[int]:
        """Token counts with special tokens, one batched call."""
        if not texts:
            return []
        encoded = self._backend.encode_batch(list(texts), add_special_tokens=True)
        return [len(encoding.ids) for encoding in encoded]

    def count(self, text: str) -> int:
        return len(self._backend.encode(text, add_special_tokens=True).ids)

    def bare(self, text: str) -> int:
        """Tokens of ``text`` alone, without special tokens."""
        return len(self._backend.encode(text, add_special_tokens=False).ids)

    def prefix_cost(self, context: str) -> int:
        """Tokens that ``context + "\\n"`` adds in front of a chunk's text (cached)."""
        cost = self._prefix_costs.get(context)
        if cost is None:
            cost = self._prefix_costs[context] = self.bare(context + "\n")
        return cost

    def offsets(self, text: str) -> list[tuple[int, int]]:
        return self._backend.encode(text, add_special_tokens=False).offsets

    @cached_property
    def _wordpiece(self) -> bool:
        """Whether this is a BERT pipeline, whose counts are additive across whitespace."""
        return (
            type(self._backend.normalizer).__name__ in ("BertNormalizer", "NoneType")
            and type(self._backend.pre_tokenizer).__name__ == "BertPreTokenizer"
            and type(self._backend.model).__name__ == "WordPiece"
        )

    def additive_in(self, source: str) -> bool:
        """Whether span counts from :meth:`index` are exact in ``source`` at whitespace cuts."""
        return self._wordpiece and not any(token in source for token in self._added)

    def index(self, source: str) -> TokenIndex:
        """Tokenize ``source`` once (in newline-aligned pieces) and index token start offsets."""
        bounds = _piece_bounds(source)
        pieces = [source[a:b] for a, b in bounds]
        encoded = self._backend.encode_batch(pieces, add_special_tokens=False) if pieces else []
        starts: list[int] = []
        for (base, _), encoding in zip(bounds, encoded, strict=True):
            starts.extend(base + s for s, _ in encoding.offsets)
        if any(b < a for a, b in itertools.pairwise(starts)):
            starts.sort()
        seamless = all(source[end - 1] in " \n" for _, end in bounds[:-1])
        return TokenIndex(source, starts, seamless)


_BACKENDS: weakref.WeakKeyDictionary[Any, Tokenizer] = weakref.WeakKeyDictionary()


def _private_backend(tokenizer: Any) -> Tokenizer:
    """A copy of ``tokenizer``'s Rust backend that never truncates or pads (built once)."""
    backend = _BACKENDS.get(tokenizer)
    if backend is None:
        shared = getattr(tokenizer, "backend_tokenizer", None)
        if not getattr(tokenizer, "is_fast", False) or shared is None:
            raise TypeError("a fast (Rust-backed) tokenizer is needed for offset mappings")
        backend = Tokenizer.from_str(shared.to_str())
        backend.no_truncation()
        backend.no_padding()
        _BACKENDS[tokenizer] = backend
    return backend


def check_budget(counter: TokenCounter, max_tokens: int) -> None:
    """Reject budgets that leave no room for text next to the special tokens."""
    if max_tokens <= counter.special:
        raise ValueError(
            f"max_tokens={max_tokens} leaves no room next to {counter.special} special tokens"
        )


def line_starts(source: str) -> list[int]:
    """Same as :func:`lines.line_starts_of`, without a Python-level loop over every character."""
    starts = [0]
    position = source.find("\n")
    while position >= 0:
        starts.append(position + 1)
        position = source.find("\n", position + 1)
    return starts


def _piece_bounds(source: str) -> list[tuple[int, int]]:
    """Cut points for tokenizing ``source`` in pieces: after a newline, else after a space.

    Pieces keep the tokenizer linear on megabyte-long minified lines; for whitespace-splitting
    tokenizers such cuts change nothing, for others they only blur the estimate at the cut.
    """
    bounds = []
    start = 0
    while start < len(source):
        lo, hi = start + _PIECE_CHARS, start + 4 * _PIECE_CHARS
        end = source.find("\n", lo, hi) + 1 or source.find(" ", lo, hi) + 1
        end = min(end or hi, len(source))
        bounds.append((start, end))
        start = end
    return bounds


class TokenIndex:
    """Start offsets of a document's tokens: span costs and token-boundary cuts in O(log n)."""

    def __init__(self, source: str, starts: list[int], seamless: bool) -> None:
        self.source = source
        self.starts = starts
        self.seamless = seamless  # no tokenization piece ended inside a word

    def count(self, start: int, end: int) -> int:
        """Estimated tokens of ``source[start:end]`` (tokens that start inside it)."""
        return bisect.bisect_left(self.starts, end) - bisect.bisect_left(self.starts, start)

    def windows(self, start: int, end: int, limit: int) -> list[int]:
        """Cut offsets splitting ``[start, end)`` into pieces of at most ``limit`` tokens.

        Cuts sit on token starts, preferably right after whitespace (so words stay whole) as
        long as that keeps a piece at least half full.
        """
        starts, limit = self.starts, max(limit, 1)
        hi = bisect.bisect_left(starts, end)
        cuts: list[int] = []
        piece = start
        k = bisect.bisect_left(starts, piece)
        while hi - k > limit:
            j = self._cut_token(k, min(k + limit, hi - 1), hi, piece)
            if j is None:
                break
            piece = starts[j]
            cuts.append(piece)
            k = bisect.bisect_left(starts, piece)
        return cuts

    def _cut_token(self, first: int, last: int, hi: int, piece: int) -> int | None:
        """Index of the token that starts the next piece, or None when no cut is possible."""
        starts, source = self.starts, self.source
        for j in range(last, first + max(1, (last - first) // 2) - 1, -1):
            if starts[j] > piece and source[starts[j] - 1].isspace():
                return j
        for j in range(last, first, -1):
            if starts[j] > piece:
                return j
        return next((j for j in range(last + 1, hi) if starts[j] > piece), None)

    def split_point(self, start: int, end: int) -> int:
        """A cut near the middle of ``[start, end)``: a line break, else a word, else a token."""
        mid = (start + end) // 2
        lo, hi = start + (end - start) // 4, end - (end - start) // 4
        before = self.source.rfind("\n", lo, mid)
        after = self.source.find("\n", mid, hi)
        breaks = [p + 1 for p in (before, after) if p >= 0 and start < p + 1 < end]
        if breaks:
            return min(breaks, key=lambda p: abs(p - mid))
        first = bisect.bisect_right(self.starts, start)
        last = bisect.bisect_left(self.starts, end)
        inner = self.starts[first:last]
        if not inner:
            return mid
        words = [p for p in inner if self.source[p - 1].isspace()]
        return min(words or inner, key=lambda p: abs(p - mid))


@dataclass(frozen=True)
class Span:
    """A planned chunk: a source range plus what the chunker knows about it."""

    start: int
    end: int
    context: str = ""
    symbol: str = ""
    kind: str = ""


def fit_context(counter: TokenCounter, parts: Sequence[str], sep: str, limit: int) -> str:
    """Join ``parts`` so that ``context + "\\n"`` costs at most ``limit`` tokens.

    Outer parts are dropped first (the innermost heading or scope matters most), then the last
    one is cut at a token boundary.
    """
    kept = [p for p in parts if p]
    while kept and limit > 0:
        context = sep.join(kept)
        if counter.prefix_cost(context) <= limit:
            return context
        if len(kept) > 1:
            kept = kept[1:]
            continue
        return _truncate(counter, context, limit)
    return ""


def _truncate(counter: TokenCounter, text: str, limit: int) -> str:
    offsets = counter.offsets(text)
    keep = min(limit, len(offsets))
    while keep > 0:
        cut = text[: offsets[keep - 1][1]].rstrip()
        if cut and counter.prefix_cost(cut) <= limit:
            return cut
        keep -= 1
    return ""


def embed_text(source: str, span: Span) -> str:
    """What :attr:`Chunk.embed_input` will be for ``span``."""
    text = source[span.start : span.end]
    return f"{span.context}\n{text}" if span.context else text


class ChunkBuilder:
    """Turns planned spans into verified :class:`Chunk` records, never over ``max_tokens``."""

    def __init__(self, source: str, counter: TokenCounter, index: TokenIndex, max_tokens: int):
        self.source = source
        self.counter = counter
        self.index = index
        self.max_tokens = max_tokens

    def build(self, spans: Sequence[Span], keep_indent: bool = False) -> list[Chunk]:
        """Trim, verify with one batched tokenization, re-split what is really over budget.

        ``keep_indent`` starts a chunk at the beginning of its first line when only indentation
        precedes it there (code reads better with it), unless an earlier chunk ends on that line.
        """
        starts = line_starts(self.source)
        trimmed = self._trim_all(spans, starts if keep_indent else None)
        fitted: list[tuple[Span, int]] = []
        for span, count in zip(trimmed, self._counts(trimmed), strict=True):
            fitted.extend(self._fit(span, count))
        return [self._chunk(i, span, n, starts) for i, (span, n) in enumerate(fitted)]

    def _counts(self, spans: list[Span]) -> list[int]:
        """Exact counts: from the index where that is provably exact, else one batched pass."""
        additive = self.index.seamless and self.counter.additive_in(self.source)
        known = [self._known_count(s) if additive else None for s in spans]
        unknown = [span for span, count in zip(spans, known, strict=True) if count is None]
        verified = iter(self.counter.count_many([embed_text(self.source, s) for s in unknown]))
        return [next(verified) if count is None else count for count in known]

    def _known_count(self, span: Span) -> int | None:
        """The count of a span cut at word separators on both sides (see the module notes)."""
        source = self.source
        if span.start > 0 and source[span.start - 1] not in _WORD_SEPARATORS:
            return None
        if span.end < len(source) and source[span.end] not in _WORD_SEPARATORS:
            return None
        count = self.index.count(span.start, span.end)
        return self.counter.special + self.counter.prefix_cost(span.context) + count

    def _trim_all(self, spans: Sequence[Span], starts: list[int] | None) -> list[Span]:
        """Trimmed spans; given line ``starts``, extended back over their first line's indent."""
        out: list[Span] = []
        previous_end = 0
        for span in spans:
            trimmed = self._trim(span)
            if trimmed is None:
                continue
            if starts is not None:
                line_start = starts[bisect.bisect_right(starts, trimmed.start) - 1]
                if (
                    line_start >= previous_end
                    and not self.source[line_start : trimmed.start].strip()
                ):
                    trimmed = replace(trimmed, start=line_start)
            out.append(trimmed)
            previous_end = trimmed.end
        return out

    def _trim(self, span: Span) -> Span | None:
        """``span`` without surrounding whitespace, or None if nothing else is in it."""
        text = self.source[span.start : span.end]
        stripped = text.strip()
        if not stripped:
            return None
        start = span.start + len(text) - len(text.lstrip())
        return Span(start, start + len(stripped), span.context, span.symbol, span.kind)

    def _fit(self, span: Span, count: int) -> list[tuple[Span, int]]:
        """``span`` if it fits, else its halves, recursively (rare: estimates are close)."""
        if count <= self.max_tokens:
            return [(span, count)]
        if span.end - span.start <= 1:
            return [self._bare_char(span)]
        cut = self.index.split_point(span.start, span.end)
        halves = [
            Span(span.start, cut, span.context, span.symbol, span.kind),
            Span(cut, span.end, span.context, span.symbol, span.kind),
        ]
        out: list[tuple[Span, int]] = []
        for half in halves:
            trimmed = self._trim(half)
            if trimmed is not None:
                out.extend(self._fit(trimmed, self.counter.count(embed_text(self.source, trimmed))))
        return out

    def _bare_char(self, span: Span) -> tuple[Span, int]:
        """A single character that does not fit with its context goes without the context."""
        bare = Span(span.start, span.end, "", span.symbol, span.kind)
        count = self.counter.count(self.source[span.start : span.end])
        if count > self.max_tokens:
            raise ValueError(f"max_tokens={self.max_tokens} cannot hold a single character")
        return bare, count

    def _chunk(self, ordinal: int, span: Span, count: int, line_starts: list[int]) -> Chunk:
        return Chunk(
            ordinal=ordinal,
            text=self.source[span.start : span.end],
            start_char=span.start,
            end_char=span.end,
            start_line=line_of(line_starts, span.start),
            end_line=line_of(line_starts, span.end - 1),
            token_count=count,
            context=span.context,
            symbol=span.symbol,
            kind=span.kind,
        )
