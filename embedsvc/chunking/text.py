"""SMITH-style sentence-block chunking of prose (Markdown, reStructuredText, plain text).

Whole sentences are packed greedily into blocks whose ``embed_input`` (heading path, newline,
text) fits the token budget; a sentence that does not fit starts the next block, and a sentence
longer than a block is cut at token boundaries.

Sentence segmentation is ``sentencex`` (Wikimedia's rule-based splitter: abbreviations,
decimals, ellipses, quotations; Rust, offline), behind one function, ``_split_sentences``. It
sees one paragraph window of at most ``_WINDOW`` characters at a time, with soft-wrapped lines
joined; its sentences are located with a forward cursor, and only their start offsets are
kept: every character between two starts belongs to the earlier sentence, so spans are exact
and nothing can be lost whatever the splitter returns. Windows with no place where a sentence
could end (no terminal before whitespace) skip the splitter altogether, which is most of a
changelog or a list. Measured on the Python FAQ and perlfaq (bench/chunking_speed.py): the
prose chunker went from 0.4 MB/s with pysbd to several MB/s, the tokenizer now being its cost.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import sentencex

from embedsvc.chunking.tokens import (
    ChunkBuilder,
    Span,
    TokenCounter,
    TokenIndex,
    check_budget,
    fit_context,
)
from embedsvc.types import Chunk

_WINDOW = 2000
_SEARCH_SLACK = 64
_HEADING_SEPARATOR = " > "

_ATX = re.compile(r" {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*\r?")
# Section adornments (RST) and setext underlines: one punctuation character repeated, column 0.
_ADORNMENT = re.compile(r"([=\-~^\"'`+#*:_])\1+[ \t]*\r?")
_FENCE = re.compile(r" {0,3}(`{3,}|~{3,})")
_FRONT_MATTER_KEY = re.compile(r"[\w-]+[ \t]*:")
# Where a sentence may end inside a window: Latin terminals (and closing quotes or brackets)
# before whitespace, CJK terminals anywhere. Windows without one (versions, paths, URLs, a single
# sentence) are one sentence per line, and the splitter is not needed.
_BOUNDARY = re.compile(
    "[.!?\u2026\u203c\u2047-\u2049](?=[\"'\u201d\u2019)\\]]*\\s)|[\u3002\uff01\uff1f\uff61]"
)
# An enumerator that starts a list item, which a splitter may take for a sentence.
_ENUMERATOR = re.compile(r"\s*(?:\d{1,3}|[A-Za-z]|[ivxlcIVXLC]{1,6})[.)]\s*")
# A line break inside a paragraph is a soft wrap unless the next line starts a list item, a
# quote, a table row or a heading.
_SOFT_WRAP = re.compile(r"\r?\n(?![ \t]*(?:[-*+\u2022>|#]|\d{1,3}[.)])(?:[ \t]|$))", re.M)


def chunk_text(
    source: str, tokenizer: Any, max_tokens: int, overlap_sentences: int = 0
) -> list[Chunk]:
    """Sentence blocks of ``source``, each with its heading path as context, within budget.

    ``overlap_sentences`` repeats up to that many trailing sentences of a block at the start of
    the next block of the same section, as long as the budget allows.
    """
    if overlap_sentences < 0:
        raise ValueError("overlap_sentences must be >= 0")
    counter = TokenCounter(tokenizer)
    check_budget(counter, max_tokens)
    if not source.strip():
        return []
    index = counter.index(source)
    spans = _TextPlanner(source, counter, index, max_tokens, overlap_sentences).spans()
    return ChunkBuilder(source, counter, index, max_tokens).build(spans)


@dataclass(frozen=True)
class _Block:
    """A heading, a fenced code block or a paragraph, by character span."""

    start: int
    end: int
    kind: str
    title: str = ""
    level: int = 0


def sentence_spans(source: str) -> list[tuple[int, int]]:
    """Exact ``(start, end)`` spans of the sentences of ``source``, whitespace trimmed.

    Headings and the lines of fenced code count as sentences of their own.
    """
    splitter = _SentenceSplitter(source)
    spans = []
    for block in _blocks(source):
        for start, end in splitter.units(block):
            text = source[start:end]
            if text.strip():
                lead = len(text) - len(text.lstrip())
                spans.append((start + lead, start + len(text.rstrip())))
    return spans


class _SentenceSplitter:
    """Sentence units of a document's blocks; they tile each block exactly."""

    def __init__(self, source: str) -> None:
        self.source = source

    def units(self, block: _Block) -> list[tuple[int, int]]:
        if block.kind == "heading":
            return [(block.start, block.end)]
        if block.kind == "fence":
            return _line_spans(self.source, block.start, block.end)
        return self._sentences(block.start, block.end)

    def _sentences(self, start: int, end: int) -> list[tuple[int, int]]:
        flat = _SOFT_WRAP.sub(lambda m: " " * len(m.group()), self.source[start:end])
        bounds: list[int] = []
        for window_start, window_end in _windows(flat):
            bounds.append(window_start)
            bounds.extend(self._sentence_starts(flat, window_start, window_end))
        edges = [*sorted(set(bounds)), len(flat)]
        return [(start + a, start + b) for a, b in itertools.pairwise(edges) if b > a]

    def _sentence_starts(self, flat: str, start: int, end: int) -> list[int]:
        """Sentence starts inside ``flat[start:end]``: after every hard line break (soft wraps
        are spaces by now, so a list item or a quote line stays a unit) and where the splitter
        ends a sentence within a line."""
        starts = []
        line_start = start
        while line_start < end:
            line_end = flat.find("\n", line_start, end)
            line_end = end if line_end < 0 else line_end + 1
            if line_start > start:
                starts.append(line_start)
            line = flat[line_start:line_end]
            if _BOUNDARY.search(line.rstrip()):
                starts.extend(line_start + offset for offset in _inner_starts(line))
            line_start = line_end
        return starts


def _inner_starts(line: str) -> list[int]:
    """Offsets in ``line`` (after 0) where the splitter starts a sentence."""
    starts = []
    cursor = previous = 0
    for sentence in _split_sentences(line):
        text = sentence.strip()
        if not text:
            continue
        position = _locate(line, text, cursor)
        if position < 0:
            continue
        # A list marker ("1.", "b)") is not a sentence of its own.
        if position > 0 and not _ENUMERATOR.fullmatch(line, previous, position):
            starts.append(position)
            previous = position
        cursor = position + len(text)
    return starts


class _TextPlanner:
    """Plans the sentence blocks of one document; :class:`ChunkBuilder` verifies them."""

    def __init__(
        self,
        source: str,
        counter: TokenCounter,
        index: TokenIndex,
        max_tokens: int,
        overlap: int,
    ) -> None:
        self.source = source
        self.counter = counter
        self.index = index
        self.max_tokens = max_tokens
        self.overlap = overlap
        self._splitter = _SentenceSplitter(source)

    def spans(self) -> list[Span]:
        """Blocks section by section: a heading closes the blocks of the section before it."""
        spans: list[Span] = []
        headings: list[tuple[int, str]] = []
        units: list[tuple[int, int]] = []
        for block in _blocks(self.source):
            if block.kind == "heading":
                spans.extend(self._pack(units, headings))
                units = []
                while headings and headings[-1][0] >= block.level:
                    headings.pop()
                headings.append((block.level, block.title))
            units.extend(self._splitter.units(block))
        spans.extend(self._pack(units, headings))
        return spans

    # --- packing ---------------------------------------------------------------------------

    def _pack(self, units: list[tuple[int, int]], headings: list[tuple[int, str]]) -> list[Span]:
        """Greedy sentence blocks of one section, with the configured sentence overlap."""
        if not units:
            return []
        parts = [title for _, title in headings if title]
        limit = (self.max_tokens - self.counter.special) // 2
        context = fit_context(self.counter, parts, _HEADING_SEPARATOR, limit)
        budget = self.max_tokens - self.counter.special - self.counter.prefix_cost(context)
        pieces = list(self._fitting_pieces(units, budget))
        return [
            Span(pieces[i][0], pieces[j - 1][1], context, "", "text")
            for i, j in self._blocks_of(pieces, budget)
        ]

    def _fitting_pieces(
        self, units: list[tuple[int, int]], budget: int
    ) -> Iterator[tuple[int, int]]:
        """Units as they are, except over-long ones cut at token boundaries."""
        for start, end in units:
            if self.index.count(start, end) <= budget:
                yield start, end
                continue
            cuts = [start, *self.index.windows(start, end, budget), end]
            yield from itertools.pairwise(cuts)

    def _blocks_of(self, pieces: list[tuple[int, int]], budget: int) -> Iterator[tuple[int, int]]:
        """``[i, j)`` piece ranges: greedy, each next block repeating up to ``overlap`` pieces."""
        count = self.index.count
        i = 0
        while i < len(pieces):
            j = i + 1
            while j < len(pieces) and count(pieces[i][0], pieces[j][1]) <= budget:
                j += 1
            yield i, j
            if j == len(pieces):
                return
            i = max(i + 1, j - self.overlap)
            while i < j and count(pieces[i][0], pieces[j][1]) > budget:
                i += 1


def _split_sentences(text: str) -> list[str]:
    """The sentences of ``text`` in order: the one place that knows which splitter runs."""
    return sentencex.segment("en", text)


def _locate(window: str, text: str, cursor: int) -> int:
    """Where the splitter's sentence ``text`` starts at or after ``cursor``, or -1 if altered."""
    position = cursor
    while position < len(window) and window[position].isspace():
        position += 1
    if window.startswith(text, position):
        return position
    return window.find(text, cursor, position + len(text) + _SEARCH_SLACK)


def _windows(flat: str) -> list[tuple[int, int]]:
    """Pieces of at most ``_WINDOW`` characters, cut at a line break or a space if any."""
    windows = []
    start = 0
    while len(flat) - start > _WINDOW:
        limit = start + _WINDOW
        cut = flat.rfind("\n", start + 1, limit) + 1 or flat.rfind(" ", start + 1, limit) + 1
        cut = cut or limit
        windows.append((start, cut))
        start = cut
    windows.append((start, len(flat)))
    return windows


def _line_spans(source: str, start: int, end: int) -> list[tuple[int, int]]:
    """The lines of ``[start, end)`` (code in a fence is packed line by line)."""
    spans = []
    while start < end:
        line_end = source.find("\n", start, end)
        line_end = end if line_end < 0 else line_end + 1
        spans.append((start, line_end))
        start = line_end
    return spans


# --- document structure ------------------------------------------------------------------------


def _blocks(source: str) -> list[_Block]:
    """Headings, fenced code and paragraphs of a Markdown / reStructuredText / plain document."""
    return _BlockScanner(source).scan()


class _BlockScanner:
    """Line scanner for headings (ATX, setext, RST over/underlines), fences and paragraphs.

    Underlined heading styles get levels in order of first appearance, as docutils does; ATX
    headings use their number of ``#``.
    """

    def __init__(self, source: str) -> None:
        self.lines = source.split("\n")
        self.offsets = [0]
        for line in self.lines[:-1]:
            self.offsets.append(self.offsets[-1] + len(line) + 1)
        self.styles: dict[tuple[str, bool], int] = {}
        self.blocks: list[_Block] = []
        self.paragraph: int | None = None

    def _end(self, line: int) -> int:
        return self.offsets[line] + len(self.lines[line])

    def _flush(self, upto: int) -> None:
        """Close the open paragraph before line ``upto``."""
        if self.paragraph is not None:
            self.blocks.append(_Block(self.offsets[self.paragraph], self._end(upto - 1), "para"))
            self.paragraph = None

    def scan(self) -> list[_Block]:
        i = self._front_matter()
        while i < len(self.lines):
            line = self.lines[i]
            if _FENCE.match(line):
                self._flush(i)
                close = self._fence_end(i)
                self.blocks.append(_Block(self.offsets[i], self._end(close), "fence"))
                i = close + 1
            elif not line.strip():
                self._flush(i)
                i += 1
            else:
                i = self._heading_or_text(i)
        self._flush(len(self.lines))
        return self.blocks

    def _front_matter(self) -> int:
        """YAML front matter (``---`` / ``key: value`` ... ``---``) is text, not headings."""
        lines = self.lines
        if len(lines) < 3 or lines[0].rstrip() != "---" or not _FRONT_MATTER_KEY.match(lines[1]):
            return 0
        for j in range(2, len(lines)):
            if lines[j].rstrip() in ("---", "..."):
                self.blocks.append(_Block(0, self._end(j), "para"))
                return j + 1
        return 0

    def _fence_end(self, start: int) -> int:
        marker = _FENCE.match(self.lines[start]).group(1)  # type: ignore[union-attr]
        for j in range(start + 1, len(self.lines)):
            close = _FENCE.match(self.lines[j])
            if close and close.group(1)[0] == marker[0] and len(close.group(1)) >= len(marker):
                return j
        return len(self.lines) - 1

    def _heading_or_text(self, i: int) -> int:
        """Consume a heading starting at line ``i``, or line ``i`` as paragraph text."""
        heading = self._overlined(i) or self._atx(i) or self._underlined(i)
        if heading is None:
            if self.paragraph is None:
                self.paragraph = i
            return i + 1
        used, title, level = heading
        self._flush(i)
        self.blocks.append(
            _Block(self.offsets[i], self._end(i + used - 1), "heading", title, level)
        )
        return i + used

    def _adornment(self, i: int) -> str | None:
        if i >= len(self.lines):
            return None
        match = _ADORNMENT.fullmatch(self.lines[i])
        return match.group(1) if match else None

    def _level(self, style: tuple[str, bool]) -> int:
        return self.styles.setdefault(style, len(self.styles) + 1)

    def _overlined(self, i: int) -> tuple[int, str, int] | None:
        char = self._adornment(i)
        if char is None or self.paragraph is not None or i + 2 >= len(self.lines):
            return None
        title = self.lines[i + 1].strip()
        if not title or self._adornment(i + 1) or self._adornment(i + 2) != char:
            return None
        return 3, title, self._level((char, True))

    def _underlined(self, i: int) -> tuple[int, str, int] | None:
        char = self._adornment(i + 1)
        title = self.lines[i].strip()
        if char is None or self._adornment(i) or self.lines[i].startswith("    "):
            return None
        length = len(self.lines[i + 1].strip())
        if char not in "=-" and length < min(len(title), 3):
            return None
        return 2, title, self._level((char, False))

    def _atx(self, i: int) -> tuple[int, str, int] | None:
        match = _ATX.fullmatch(self.lines[i])
        if match is None:
            return None
        return 1, (match.group(2) or "").strip(), len(match.group(1))
