"""Code-aware words for the lexical index: what a chunk adds to it and what a query asks for.

Both databases' tokenizers already split text at every non-alphanumeric character (SQLite
FTS5's unicode61; on PostgreSQL the indexed text has them replaced by spaces first), so
``read_all`` and ``store.Store.flush`` become separate words by themselves. What they cannot
see is a camelCase boundary: ``TrimLeft`` is one word to them. A chunk's ``terms`` column holds
those parts (``trim left``), and a query is expanded the same way, so ``TrimLeft``,
``trim left`` and ``trimLeft`` all meet.
"""

from __future__ import annotations

import re

_IDENTIFIER = re.compile(r"[A-Za-z][A-Za-z0-9]*")
# Case boundaries inside one alphanumeric run: aB, ABc (HTTPResponse -> HTTP Response);
# digits stay with their letters (base64Encode -> base64 Encode).
_CAMEL_PART = re.compile(r"[A-Z0-9]+(?=[A-Z][a-z])|[A-Z]?[a-z0-9]+|[A-Z0-9]+")
_WORD = re.compile(r"[^\W_]+")
MAX_QUERY_TERMS = 64
# Words that match nearly every chunk: dropped from queries (not from the index), so that an
# OR query does not walk every posting list for no ranking signal.
STOPWORDS = frozenset({
    "a", "an", "and", "are", "as", "at", "be", "by", "can", "do", "does", "for", "from", "how",
    "i", "if", "in", "is", "it", "me", "my", "of", "on", "or", "that", "the", "this", "to", "we",
    "what", "when", "where", "which", "who", "why", "with", "you", "your",
})


def split_identifier(word: str) -> list[str]:
    """The lowercase camelCase parts of one alphanumeric word (one part if it has none)."""
    return [part.lower() for part in _CAMEL_PART.findall(word)] or [word.lower()]


def chunk_terms(*texts: str) -> str:
    """The camelCase parts of every identifier in ``texts``, space-separated, in order."""
    parts: list[str] = []
    for text in texts:
        for match in _IDENTIFIER.finditer(text):
            split = split_identifier(match.group())
            if len(split) > 1:
                parts.extend(split)
    return " ".join(parts)


def query_terms(query: str) -> list[str]:
    """A query's distinct lowercase words and their camelCase parts, stopwords left out."""
    terms: dict[str, None] = {}
    for match in _WORD.finditer(query):
        word = match.group()
        for term in (word.lower(), *split_identifier(word)):
            if term not in STOPWORDS:
                terms.setdefault(term)
    return list(terms)[:MAX_QUERY_TERMS]
