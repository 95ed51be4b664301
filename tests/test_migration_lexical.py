"""A store written before the lexical index upgrades in place: migration 0005 indexes the
existing chunks (camelCase terms included) and types the existing metadata for ranges."""

from __future__ import annotations

from alembic import command
from sqlalchemy import create_engine, text

from embedsvc.filters import Condition, Range
from embedsvc.storage.sql.database import _alembic_config, migrate
from embedsvc.storage.sql.repository import SqlRepository


def test_existing_chunks_and_metadata_are_backfilled(database_url: str):
    engine = create_engine(database_url)
    config = _alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0004")
        connection.execute(text(
            "INSERT INTO collections (id, name, model, model_fingerprint, dimensions, metric,"
            " max_chunk_tokens, generation, created_at)"
            " VALUES (1, 'old', 'm', 'f', 2, 'cosine', 256, 1, CURRENT_TIMESTAMP)"))
        for number, (body, year) in enumerate([("func TrimLeft(s string)", 2001),
                                               ("Cats sleep all day.", 2010)], start=1):
            connection.execute(text(
                "INSERT INTO documents (id, collection_id, external_id, text, language, metadata,"
                " content_hash, updated_at) VALUES (:i, 1, :e, :t, '', :m, 'h', CURRENT_TIMESTAMP)"
            ), {"i": number, "e": f"d{number}", "t": body, "m": f'{{"year": {year}}}'})
            connection.execute(text(
                "INSERT INTO chunks (collection_id, document_id, ordinal, text, start_char,"
                " end_char, start_line, end_line, token_count, content_hash, context, symbol,"
                " kind, vector) VALUES (1, :i, 0, :t, 0, :n, 1, 1, 5, 'h', '', '', '', :v)"
            ), {"i": number, "t": body, "n": len(body), "v": b"\0" * 8})
            connection.execute(text(
                "INSERT INTO metadata_entries (document_id, key, value_json)"
                " VALUES (:i, 'year', :y)"), {"i": number, "y": str(year)})
    engine.dispose()

    repository = SqlRepository(database_url)  # migrates to head, as a server does on start
    try:
        info = repository.get_collection("old")
        found = repository.lexical_chunks(info, ["trim", "left"], 10)
        assert repository.chunk_hits(found)[0].document_id == "d1"
        assert repository.chunk_hits(repository.lexical_chunks(info, ["sleeping"], 10))[
            0].document_id == "d2"
        recent = repository.matching_ids(info, [Condition("year", Range(gt=2005), "range")],
                                         "document")
        assert recent.tolist() == [2]
    finally:
        repository.close()
    assert migrate(create_engine(database_url))  # idempotent on the upgraded store
