"""Token windows: the simple splitter every text falls back to."""

from __future__ import annotations

from embedsvc.chunking.types import Chunk, line_of, line_starts_of


def token_windows(source: str, tokenizer, max_tokens: int) -> list[Chunk]:
    """Consecutive windows of at most ``max_tokens`` tokens (special tokens included)."""
    offsets = tokenizer(source, add_special_tokens=False, return_offsets_mapping=True)[
        "offset_mapping"
    ]
    offsets = [(s, e) for s, e in offsets if e > s]
    budget = max(1, max_tokens - tokenizer.num_special_tokens_to_add())
    starts = line_starts_of(source)
    chunks = []
    for first in range(0, len(offsets), budget):
        window = offsets[first : first + budget]
        start, end = window[0][0], window[-1][1]
        chunks.append(
            Chunk(
                ordinal=len(chunks), text=source[start:end], start_char=start, end_char=end,
                start_line=line_of(starts, start), end_line=line_of(starts, end - 1),
                token_count=len(window) + tokenizer.num_special_tokens_to_add(),
            )
        )
    return chunks
