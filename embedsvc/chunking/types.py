"""The chunk record every chunker produces and every later stage consumes."""

from __future__ import annotations

import bisect
import hashlib
from dataclasses import dataclass


@dataclass(frozen=True)
class Chunk:
    """One embeddable piece of a document, mapped back to its exact place in the source.

    ``text`` is exactly ``source[start_char:end_char]`` (Python string indices); lines are
    1-based and ``end_line`` is the line of the chunk's last character. ``context``
    (headings, enclosing scope) is kept apart from ``text`` but embedded with it.
    """

    ordinal: int
    text: str
    start_char: int
    end_char: int
    start_line: int
    end_line: int
    token_count: int
    context: str = ""
    symbol: str = ""
    kind: str = ""

    @property
    def embed_input(self) -> str:
        """What the encoder sees: the context header, then the text."""
        return f"{self.context}\n{self.text}" if self.context else self.text

    @property
    def content_hash(self) -> str:
        """Hash of the embedded input: equal hashes mean a stored vector can be reused."""
        return content_hash(self.embed_input)


def content_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def line_of(line_starts: list[int], char_index: int) -> int:
    """1-based line number of ``char_index`` given the sorted start offsets of every line."""
    return bisect.bisect_right(line_starts, char_index)


def line_starts_of(source: str) -> list[int]:
    """Start offset of every line of ``source`` (line 1 starts at 0)."""
    starts = [0]
    starts.extend(i + 1 for i, ch in enumerate(source) if ch == "\n")
    return starts
