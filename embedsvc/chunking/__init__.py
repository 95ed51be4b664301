"""Chunking: split a document into embeddable, budget-bounded :class:`Chunk` records.

Code (a known language name, or a file extension that names one) goes through the AST chunker,
everything else through the sentence-block chunker.
"""

from __future__ import annotations

from typing import Any

from embedsvc.chunking.code import chunk_code
from embedsvc.chunking.languages import TEXT_LANGUAGES, language_for_path, normalize_language
from embedsvc.chunking.text import chunk_text
from embedsvc.types import Chunk

__all__ = ["Chunk", "chunk_code", "chunk_document", "chunk_text", "resolve_language"]


def resolve_language(language: str | None = None, path: str | None = None) -> str | None:
    """The code language to chunk with, or None for prose.

    An explicit ``language`` wins over ``path``'s extension; prose names ("markdown", "text")
    and unknown extensions mean prose.
    """
    if language:
        name = normalize_language(language)
        return None if name in TEXT_LANGUAGES else name
    return language_for_path(path) if path else None


def chunk_document(
    source: str,
    tokenizer: Any,
    max_tokens: int,
    language: str | None = None,
    path: str | None = None,
    overlap_sentences: int = 0,
) -> list[Chunk]:
    """Chunk ``source`` so every chunk's ``embed_input`` has at most ``max_tokens`` tokens.

    ``tokenizer`` is a fast Hugging Face tokenizer; counts include its special tokens.
    ``overlap_sentences`` only applies to prose.
    """
    code_language = resolve_language(language, path)
    if code_language is None:
        return chunk_text(source, tokenizer, max_tokens, overlap_sentences)
    return chunk_code(source, tokenizer, max_tokens, language=code_language, path=path)
