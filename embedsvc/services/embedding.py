"""Embedding and chunking on their own (nothing stored), and what a server serves."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

from tokenizers import Tokenizer

from embedsvc import __version__
from embedsvc.chunking import chunk_document, resolve_language
from embedsvc.chunking.languages import grammar
from embedsvc.config import Settings
from embedsvc.errors import InvalidArgument
from embedsvc.ports import Encoder, Models
from embedsvc.services.collections import MIN_CHUNK_TOKENS
from embedsvc.types import (
    ChunkResult,
    Embedded,
    Limits,
    ProfileOverrides,
    ServerInfo,
    Token,
)

MAX_OVERLAP_SENTENCES = 8


class Embedding:
    def __init__(self, settings: Settings, models: Models) -> None:
        self.settings = settings
        self.models = models
        self._tokenizers: dict[str, Tokenizer] = {}
        self._tokenizers_lock = threading.Lock()

    def embed(
        self, texts: Sequence[str], normalize: bool = True, dimensions: int | None = None,
        allow_truncation: bool = True, profile: ProfileOverrides | None = None,
        model: str = "", prompt: str = "", is_active: Callable[[], bool] | None = None,
        deadline: float | None = None,
    ) -> Embedded:
        """Vectors of ``model`` ('' = the default) under its default profile with ``profile``
        overrides, ``prompt`` put before every text."""
        self._check_texts(texts)
        encoder = self.models.get(model)
        chosen = encoder.profile(**(profile or {}))
        counts = encoder.token_counts([prompt + text for text in texts] if prompt else texts)
        truncated = encoder.check_overflow(counts, allow_truncation)
        vectors = encoder.encode(
            texts, chosen, normalize, dimensions, counts, is_active, deadline, prompt=prompt,
            interactive=True,
        )
        return Embedded(vectors, counts, truncated, encoder.name)

    def tokenize(
        self, texts: Sequence[str], model: str = "", add_special_tokens: bool = True
    ) -> tuple[list[list[Token]], str]:
        """Each text's tokens with ``model``'s tokenizer (its char offsets, untruncated), and
        the model's name; validated like `embed`."""
        self._check_texts(texts)
        encoder = self.models.get(model)
        encodings = self._tokenizer(encoder).encode_batch(
            list(texts), add_special_tokens=add_special_tokens
        )
        return [
            [Token(token_id, piece, True, 0, 0) if special
             else Token(token_id, text[start:end], False, start, end)
             for token_id, piece, (start, end), special in zip(
                 encoding.ids, encoding.tokens, encoding.offsets, encoding.special_tokens_mask,
                 strict=True)]
            for text, encoding in zip(texts, encodings, strict=True)
        ], encoder.name

    def _tokenizer(self, encoder: Encoder) -> Tokenizer:
        """A private copy of the model's Rust tokenizer, without truncation or padding (the
        encoder's own copy changes those settings while it batches)."""
        with self._tokenizers_lock:
            if encoder.name not in self._tokenizers:
                tokenizer = Tokenizer.from_str(encoder.tokenizer.backend_tokenizer.to_str())
                tokenizer.no_truncation()
                tokenizer.no_padding()
                self._tokenizers[encoder.name] = tokenizer
            return self._tokenizers[encoder.name]

    def _check_texts(self, texts: Sequence[str]) -> None:
        """One request's texts within the limits, none of them empty."""
        limit = self.settings.max_batch_texts
        if not texts:
            raise InvalidArgument("texts is empty; send at least one text", "texts")
        if len(texts) > limit:
            raise InvalidArgument(
                f"{len(texts)} texts in one request, more than {limit}; split the batch", "texts"
            )
        for position, text in enumerate(texts):
            if not text.strip():
                raise InvalidArgument(f"texts[{position}] is empty", f"texts[{position}]")
            if len(text) > self.settings.max_text_chars:
                raise InvalidArgument(
                    f"texts[{position}] has {len(text)} characters, more than "
                    f"{self.settings.max_text_chars}", f"texts[{position}]",
                )

    def chunk(
        self, text: str, language: str = "", path: str = "", max_tokens: int = 0,
        overlap_sentences: int = 0, model: str = "",
    ) -> ChunkResult:
        return checked_chunks(
            self.models.get(model), self.settings.max_text_chars, text, language, path,
            max_tokens, overlap_sentences,
        )

    def info(self, model: str = "") -> ServerInfo:
        """One model in full (loading it), every model listed, the request limits."""
        settings = self.settings
        return ServerInfo(
            model=self.models.get(model).info,
            models=self.models.entries(),
            limits=Limits(
                max_batch_texts=settings.max_batch_texts,
                max_text_chars=settings.max_text_chars,
                max_documents_per_upsert=settings.max_documents_per_upsert,
                max_k=settings.max_k,
                max_request_bytes=settings.max_request_bytes,
            ),
            version=__version__,
        )


def checked_chunks(
    encoder: Encoder, max_text_chars: int, text: str, language: str = "", path: str = "",
    max_tokens: int = 0, overlap_sentences: int = 0,
) -> ChunkResult:
    """Chunks of ``text``: code by AST when the language (or path extension) names one, prose
    by sentence blocks; ``max_tokens`` 0 = the model's window. Validates like every RPC."""
    window = encoder.info.max_tokens
    if not text.strip():
        raise InvalidArgument("text is empty", "text")
    if len(text) > max_text_chars:
        raise InvalidArgument(
            f"text has {len(text)} characters, more than {max_text_chars}", "text"
        )
    if not 0 <= max_tokens <= window or 0 < max_tokens < MIN_CHUNK_TOKENS:
        raise InvalidArgument(
            f"max_tokens must be between {MIN_CHUNK_TOKENS} and the model's {window} "
            f"(0 = {window}), got {max_tokens}", "max_tokens",
        )
    if not 0 <= overlap_sentences <= MAX_OVERLAP_SENTENCES:
        raise InvalidArgument(
            f"overlap_sentences must be between 0 and {MAX_OVERLAP_SENTENCES}",
            "overlap_sentences",
        )
    chunks = chunk_document(
        text, encoder.tokenizer, max_tokens or window, language=language or None,
        path=path or None, overlap_sentences=overlap_sentences,
    )
    used = resolve_language(language or None, path or None)
    # An unknown language falls back to line windows: report no language rather than echo it.
    return ChunkResult(chunks, used if used and grammar(used) is not None else "")
