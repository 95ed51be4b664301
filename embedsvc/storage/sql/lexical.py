"""The lexical index over chunk text, per database: its DDL and its ranked query.

It lives inside the chunk rows' own transactions, so it can never disagree with them and never
needs repair: on SQLite an external-content FTS5 table over (symbol, context, text, terms) kept
by triggers on `chunks` (a cascade delete fires them too); on PostgreSQL a generated tsvector
column of `chunks` with a GIN index. Both split at every non-alphanumeric character and stem
English (porter / the `english` configuration); `terms` adds camelCase parts. Both rank by BM25
with the same column weights: FTS5's own `bm25()` on SQLite, storage/sql/bm25.py on PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import ColumnElement, Select, literal_column, select, table, text
from sqlalchemy.engine import Connection

from embedsvc.storage.sql.bm25 import WeightedQuery
from embedsvc.storage.sql.schema import ChunkRow

# Column weights: a symbol or heading that names the query counts more than a body mention.
SQLITE_WEIGHTS = (4.0, 2.0, 1.0, 1.0)  # symbol, context, text, terms (bm25 argument order)

_SQLITE_DDL = (
    "CREATE VIRTUAL TABLE chunks_fts USING fts5(symbol, context, text, terms,"
    " content='chunks', content_rowid='id', tokenize='porter unicode61')",
    "CREATE TRIGGER chunks_fts_insert AFTER INSERT ON chunks BEGIN"
    " INSERT INTO chunks_fts(rowid, symbol, context, text, terms)"
    " VALUES (new.id, new.symbol, new.context, new.text, new.terms); END",
    "CREATE TRIGGER chunks_fts_delete AFTER DELETE ON chunks BEGIN"
    " INSERT INTO chunks_fts(chunks_fts, rowid, symbol, context, text, terms)"
    " VALUES ('delete', old.id, old.symbol, old.context, old.text, old.terms); END",
    "CREATE TRIGGER chunks_fts_update AFTER UPDATE OF symbol, context, text, terms ON chunks"
    " BEGIN"
    " INSERT INTO chunks_fts(chunks_fts, rowid, symbol, context, text, terms)"
    " VALUES ('delete', old.id, old.symbol, old.context, old.text, old.terms);"
    " INSERT INTO chunks_fts(rowid, symbol, context, text, terms)"
    " VALUES (new.id, new.symbol, new.context, new.text, new.terms); END",
    "INSERT INTO chunks_fts(chunks_fts) VALUES ('rebuild')",  # backfill existing chunks
)
_SQLITE_DROP = (
    "DROP TRIGGER IF EXISTS chunks_fts_update",
    "DROP TRIGGER IF EXISTS chunks_fts_delete",
    "DROP TRIGGER IF EXISTS chunks_fts_insert",
    "DROP TABLE IF EXISTS chunks_fts",
)


def _pg_vector(column: str, weight: str) -> str:
    spaced = f"regexp_replace({column}, '[^[:alnum:]]+', ' ', 'g')"
    return f"setweight(to_tsvector('english'::regconfig, {spaced}), '{weight}')"


_PG_DDL = (
    # Adding a generated column computes it for every existing row: the backfill.
    "ALTER TABLE chunks ADD COLUMN lexical tsvector GENERATED ALWAYS AS ("
    + " || ".join((_pg_vector("symbol", "A"), _pg_vector("context", "B"),
                   _pg_vector("text", "D"), _pg_vector("terms", "D")))
    + ") STORED",
    "CREATE INDEX ix_chunks_lexical ON chunks USING gin (lexical)",
)
_PG_DROP = ("DROP INDEX IF EXISTS ix_chunks_lexical",
            "ALTER TABLE chunks DROP COLUMN IF EXISTS lexical")


def create(connection: Connection) -> None:
    """Create (and fill from the existing chunks) this database's lexical index."""
    for statement in _SQLITE_DDL if connection.dialect.name == "sqlite" else _PG_DDL:
        connection.exec_driver_sql(statement)


def drop(connection: Connection) -> None:
    for statement in _SQLITE_DROP if connection.dialect.name == "sqlite" else _PG_DROP:
        connection.exec_driver_sql(statement)


def ranked_chunks(
    query: Sequence[str] | WeightedQuery, collection_id: int, k: int,
    documents: Select | None = None,
) -> Select:
    """(chunk id, score) of the ``k`` best chunks matching any of the query's words, best
    first, higher is better; ``documents`` (a select of document ids) restricts them, in the
    same query. The query is its terms on SQLite, its lexemes weighed by bm25 on PostgreSQL."""
    if isinstance(query, WeightedQuery):
        ranked, score = _postgresql(query)
    else:
        ranked, score = _sqlite(query)
    ranked = ranked.where(ChunkRow.collection_id == collection_id)
    if documents is not None:
        ranked = ranked.where(ChunkRow.document_id.in_(documents))
    return ranked.order_by(score.desc(), ChunkRow.id).limit(k)


def _sqlite(terms: Sequence[str]) -> tuple[Select, ColumnElement]:
    fts = table("chunks_fts", literal_column("rowid"))
    weights = ", ".join(f"{w:g}" for w in SQLITE_WEIGHTS)
    score = (-literal_column(f"bm25(chunks_fts, {weights})")).label("score")
    match = " OR ".join(f'"{term}"' for term in terms)  # terms are alphanumeric: no quoting
    query = (
        select(ChunkRow.id, score)
        .select_from(fts.join(ChunkRow, ChunkRow.id == literal_column("chunks_fts.rowid")))
        .where(text("chunks_fts MATCH :match").bindparams(match=match))
    )
    return query, score


def _postgresql(query: WeightedQuery) -> tuple[Select, ColumnElement]:
    vector = literal_column("chunks.lexical")
    score = query.score(vector).label("score")
    return select(ChunkRow.id, score).where(vector.op("@@")(query.any_match())), score
