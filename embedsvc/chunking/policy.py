"""A collection's chunking policy applied to one document.

``auto`` chunks code by the document's language, else by its id's extension (ids of indexed
files are paths), else as prose; ``code`` insists on a code language from the same places;
``text`` always chunks prose; ``none`` keeps each document whole as one chunk (short labels:
catalog titles, terminology aliases). Only ``auto`` and ``code`` read the id as a path.
"""

from __future__ import annotations

from typing import Any

from embedsvc.chunking import chunk_code, chunk_text, resolve_language
from embedsvc.chunking.lines import line_of
from embedsvc.chunking.tokens import TokenCounter, line_starts
from embedsvc.errors import InvalidArgument
from embedsvc.types import Chunk, DocumentInput


def chunk_by_policy(
    document: DocumentInput, policy: str, tokenizer: Any, max_tokens: int
) -> list[Chunk]:
    if policy == "none":
        return [whole_document(document.text, tokenizer)]
    if policy == "text":
        return chunk_text(document.text, tokenizer, max_tokens)
    language = resolve_language(document.language or None, document.id)
    if language is not None:
        return chunk_code(document.text, tokenizer, max_tokens, language=language,
                          path=document.id)
    if policy == "code":
        raise InvalidArgument(
            f"document {document.id!r}: the collection chunks code, but no code language is "
            f"known from its language {document.language!r} or its id's extension; set language"
        )
    return chunk_text(document.text, tokenizer, max_tokens)


def whole_document(text: str, tokenizer: Any) -> Chunk:
    """The whole text as one chunk; the encoder truncates it at the model's window."""
    return Chunk(
        ordinal=0, text=text, start_char=0, end_char=len(text), start_line=1,
        end_line=line_of(line_starts(text), max(len(text) - 1, 0)),
        token_count=TokenCounter(tokenizer).count(text), kind="document",
    )
