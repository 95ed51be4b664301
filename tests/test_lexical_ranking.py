"""Lexical ranking weighs a word by its rarity on both stores (FTS5's BM25 on SQLite, the
collection-statistics BM25 of storage/sql/bm25.py on PostgreSQL), under filters and after
writes that change which words are rare."""

from __future__ import annotations

import math

import pytest

from embedsvc.storage.sql.bm25 import idf, lexeme_query
from embedsvc.types import DocumentInput

FILLER = [
    "The quarterly report lists the sales of the northern region.",
    "A short report on the harbour traffic in spring.",
    "Every report goes to the board before Friday.",
    "The weather report promised sun for the weekend.",
    "Her report on the library budget was approved.",
    "The travel report covers three train journeys.",
    "An annual report of the chess club and its members.",
    "This report describes the new parking rules.",
]
# The common word many times, in a chunk as long as the one with the rare word once.
REPEATED = DocumentInput("repeated.txt", "Report after report: the report of the report "
                                         "and a report on the report.", metadata={"team": "a"})
RARE = DocumentInput("rare.txt", "A zeppelin floated slowly over the quiet old town.",
                     metadata={"team": "b"})


@pytest.fixture
def core(make_core):
    core = make_core()
    core.create_collection("words", max_chunk_tokens=64)
    core.upsert("words", [DocumentInput(f"filler-{i}.txt", text, metadata={"team": "a"})
                          for i, text in enumerate(FILLER)] + [REPEATED, RARE])
    return core


def ids(hits) -> list[str]:
    return [hit.document_id for hit in hits]


def test_a_rare_word_outranks_a_common_word_said_many_times(core):
    hits = core.search("words", "zeppelin report", k=5, mode="lexical")
    assert ids(hits)[:2] == ["rare.txt", "repeated.txt"]
    # Among chunks with the common word only, more of it still ranks higher.
    assert ids(core.search("words", "report", k=1, mode="lexical")) == ["repeated.txt"]
    documents = core.search("words", "zeppelin report", k=2, level="document", mode="lexical")
    assert ids(documents) == ["rare.txt", "repeated.txt"]


def test_scores_are_finite_positive_and_ordered(core):
    for mode in ("lexical", "hybrid"):
        hits = core.search("words", "zeppelin report board", k=10, mode=mode)
        scores = [hit.score for hit in hits]
        assert len(hits) == 10, mode
        assert all(math.isfinite(s) and s > 0 for s in scores), mode
        assert scores == sorted(scores, reverse=True), mode


def test_filters_restrict_the_hits_not_the_weights(core):
    hits = core.search("words", "zeppelin report", k=10, where={"team": "a"}, mode="lexical")
    assert "rare.txt" not in ids(hits) and ids(hits)[0] == "repeated.txt"
    assert len(hits) == 9
    only = core.search("words", "zeppelin report", k=10, where={"team": "b"}, mode="lexical")
    assert ids(only) == ["rare.txt"]
    unfiltered = core.search("words", "zeppelin report", k=1, mode="lexical")
    assert only[0].score == pytest.approx(unfiltered[0].score)


def test_rarity_follows_writes(core):
    assert ids(core.search("words", "zeppelin report", k=1, mode="lexical")) == ["rare.txt"]
    # The fillers now say "zeppelin" instead of "report": "report" is the rare word.
    core.upsert("words", [DocumentInput(f"filler-{i}.txt", text.replace("report", "zeppelin"))
                          for i, text in enumerate(FILLER)])
    hits = core.search("words", "zeppelin report", k=10, mode="lexical")
    assert ids(hits)[0] == "repeated.txt"
    core.delete_documents("words", ["repeated.txt"])
    assert "repeated.txt" not in ids(core.search("words", "report", k=10, mode="lexical"))


def test_idf_is_positive_and_falls_with_document_frequency():
    values = [idf(100, df) for df in (0, 1, 10, 50, 100)]
    assert all(v > 0 for v in values)
    assert values == sorted(values, reverse=True)
    assert lexeme_query("it's") == "'it''s'"
