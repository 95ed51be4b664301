"""Line numbers of character offsets: every chunk reports the 1-based lines it spans."""

from __future__ import annotations

import bisect


def line_of(line_starts: list[int], char_index: int) -> int:
    """1-based line number of ``char_index`` given the sorted start offsets of every line."""
    return bisect.bisect_right(line_starts, char_index)


def line_starts_of(source: str) -> list[int]:
    """Start offset of every line of ``source`` (line 1 starts at 0)."""
    starts = [0]
    starts.extend(i + 1 for i, ch in enumerate(source) if ch == "\n")
    return starts
