"""BM25 on PostgreSQL's lexical index, with stock PostgreSQL only (no extension).

`ts_rank` weighs every query word alike, so a word that half the chunks hold counts as much as
the one word that names what is asked for; SQLite's FTS5 ranks by BM25, which weighs a word by
its rarity. This module gives PostgreSQL the same kind of ranking, summed as FTS5 sums it:

    score = sum over query lexemes t of  idf(t) * f * (K1 + 1) / (f + K1 * (1 - B + B * dl / avgdl))
    idf(t) = ln(1 + (N - df + 0.5) / (df + 0.5))

with ``f`` the lexeme's occurrences in the chunk, weighted by column as on SQLite (symbol 4,
context 2, text and camelCase parts 1): for a one-lexeme query, `ts_rank_cd` is exactly the
sum of its occurrences' weights, so it serves as a weighted term count. ``dl`` is the chunk's
length in distinct lexemes (`length(tsvector)`; counting positions would mean unnesting the
tsvector, which measured 15 to 30 times slower than this whole score); ``N``, ``avgdl`` and
``df`` are counted over the
whole collection (a metadata filter narrows the hits, not the statistics, so a chunk's score
does not depend on the filter). Unlike FTS5, whose idf is log((N - df + 0.5) / (df + 0.5))
floored at 1e-6, the idf here is Lucene's, which stays graded for words in most chunks.

Counting ``df`` means visiting every chunk that holds the word, so the statistics are cached
per collection and generation (bumped by every committed write): each word is counted once per
generation, and a query over words already seen costs one small lookup plus the ranking.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import ColumnElement, cast, func, literal, literal_column, text
from sqlalchemy.dialects.postgresql import TSQUERY
from sqlalchemy.orm import Session

K1 = 1.2
B = 0.75
# ts_rank_cd's weights, in its order D, C, B, A (text/terms, unused, context, symbol); they
# must be <= 1, so they are SQLite's (1, 1, 2, 4) over 4, and the sum is scaled back by 4.
_WEIGHTS = literal_column("'{0.25,0.25,0.5,1}'::real[]")
_WEIGHT_SCALE = 4.0
# Lexemes whose df one collection's cache keeps before it starts afresh (bounds its memory).
MAX_CACHED_LEXEMES = 50_000

_QUERY_LEXEMES = text(
    "SELECT (SELECT generation FROM collections WHERE id = :collection),"
    " ARRAY(SELECT DISTINCT u.lexeme FROM unnest(CAST(:terms AS text[])) AS t(term),"
    " unnest(to_tsvector('english'::regconfig, t.term)) AS u ORDER BY u.lexeme)"
)
_COLLECTION_SIZE = text(
    "SELECT count(*), coalesce(avg(length(lexical)), 0) FROM chunks"
    " WHERE collection_id = :collection"
)


def idf(chunks: int, df: int) -> float:
    """Lucene's BM25 idf: positive for every df, largest for the rarest word."""
    return math.log(1.0 + (chunks - df + 0.5) / (df + 0.5))


def lexeme_query(lexeme: str) -> str:
    """A tsquery literal matching exactly this (already normalized) lexeme."""
    return "'" + lexeme.replace("\\", "\\\\").replace("'", "''") + "'"


@dataclass
class CollectionStats:
    """One generation of a collection: its chunk count, mean length and the df of each
    lexeme counted so far."""

    generation: int
    chunks: int
    average_length: float
    df: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class WeightedQuery:
    """A query's lexemes with their idf, and the length they are normalized against."""

    lexemes: tuple[str, ...]
    idfs: tuple[float, ...]
    average_length: float

    def any_match(self) -> ColumnElement:
        """The tsquery matching a chunk that holds any of the lexemes."""
        return cast(literal(" | ".join(map(lexeme_query, self.lexemes))), TSQUERY)

    def score(self, vector: ColumnElement) -> ColumnElement:
        """The BM25 score of the chunk whose tsvector is ``vector`` (0 without a lexeme)."""
        norm = K1 * (1.0 - B) + (K1 * B / max(self.average_length, 1e-9)) * func.length(vector)
        parts = []
        for lexeme, weight in zip(self.lexemes, self.idfs, strict=True):
            f = _WEIGHT_SCALE * func.ts_rank_cd(_WEIGHTS, vector,
                                                 cast(literal(lexeme_query(lexeme)), TSQUERY))
            # f / (f + norm) written with f once: PostgreSQL would compute ts_rank_cd twice.
            parts.append(weight * (K1 + 1.0) * (1.0 - norm / (f + norm)))
        return sum(parts[1:], parts[0])


class Bm25Statistics:
    """Per-collection BM25 statistics of one database, cached per generation."""

    def __init__(self) -> None:
        self._cache: dict[int, CollectionStats] = {}
        self._lock = threading.Lock()

    def weigh(self, session: Session, collection_id: int, terms: Sequence[str]
              ) -> WeightedQuery | None:
        """The query's lexemes (stemmed as the index is) with their idf in the collection;
        None when no lexeme is left (stopwords only) or the collection has no chunk."""
        generation, lexemes = session.execute(
            _QUERY_LEXEMES, {"collection": collection_id, "terms": list(terms)}).one()
        if not lexemes or generation is None:
            return None
        stats, df = self._stats(session, collection_id, generation, lexemes)
        if stats.chunks == 0:
            return None
        return WeightedQuery(tuple(lexemes),
                             tuple(idf(stats.chunks, df[lexeme]) for lexeme in lexemes),
                             stats.average_length)

    def _stats(self, session: Session, collection_id: int, generation: int,
               lexemes: Sequence[str]) -> tuple[CollectionStats, dict[str, int]]:
        """The collection's statistics at ``generation`` and the df of each of ``lexemes``,
        counting only what the cache does not hold yet."""
        with self._lock:
            stats = self._cache.get(collection_id)
            known = {} if stats is None or stats.generation != generation else {
                lexeme: stats.df[lexeme] for lexeme in lexemes if lexeme in stats.df}
        if stats is None or stats.generation != generation:
            chunks, average = session.execute(_COLLECTION_SIZE,
                                              {"collection": collection_id}).one()
            stats = CollectionStats(generation, int(chunks), float(average))
        missing = [lexeme for lexeme in lexemes if lexeme not in known]
        counted = _document_frequencies(session, collection_id, missing) if missing else {}
        with self._lock:
            if len(stats.df) + len(counted) > MAX_CACHED_LEXEMES:
                stats = CollectionStats(generation, stats.chunks, stats.average_length)
            stats.df.update(counted)
            self._cache[collection_id] = stats
        return stats, known | counted


def _document_frequencies(session: Session, collection_id: int, lexemes: Sequence[str]
                          ) -> dict[str, int]:
    """How many of the collection's chunks hold each lexeme: one statement over the chunks
    that hold any of them (found through the GIN index)."""
    counts = ", ".join(f"count(*) FILTER (WHERE lexical @@ CAST(:lexeme_{i} AS tsquery))"
                       for i in range(len(lexemes)))
    statement = text(
        f"SELECT {counts} FROM chunks WHERE collection_id = :collection"
        " AND lexical @@ CAST(:any AS tsquery)"
    )
    parameters = {f"lexeme_{i}": lexeme_query(lexeme) for i, lexeme in enumerate(lexemes)}
    row = session.execute(statement, {"collection": collection_id,
                                      "any": " | ".join(map(lexeme_query, lexemes)),
                                      **parameters}).one()
    return {lexeme: int(count) for lexeme, count in zip(lexemes, row, strict=True)}
