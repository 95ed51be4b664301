"""Dense, lexical and hybrid search, chunk and document level, on SQLite and PostgreSQL; the
lexical index follows every write (replace, delete, collection delete) with no repair."""

from __future__ import annotations

import numpy as np
import pytest

from embedsvc.errors import InvalidArgument
from embedsvc.lexical import chunk_terms, query_terms
from embedsvc.types import DocumentInput

CODE = '''package strings

func TrimLeft(s string, cutset string) string {
	return trimLeftUnicode(s, cutset)
}

func ReadAll(r Reader) ([]byte, error) {
	return read_all(r, 512)
}
'''
DOCUMENTS = [
    DocumentInput("strings.go", CODE, "go"),
    DocumentInput("cats.txt", "Cats sleep most of the day and chase mice at night."),
    DocumentInput("rain.txt", "Heavy rain is expected in Hamburg over the weekend."),
    DocumentInput("tea.txt", "Green tea is brewed at eighty degrees for two minutes."),
]


def test_identifiers_are_split_for_the_lexical_index():
    assert chunk_terms("func TrimLeft(s) { return read_all(HTTPServer) }") == (
        "trim left http server")
    assert query_terms("How do I TrimLeft a string?") == ["trimleft", "trim", "left", "string"]


@pytest.fixture
def core(make_core):
    core = make_core()
    core.create_collection("mixed", max_chunk_tokens=64)
    core.upsert("mixed", DOCUMENTS)
    return core


def ids(hits) -> list[str]:
    return [hit.document_id for hit in hits]


def test_lexical_finds_identifiers_by_their_words(core):
    hits = core.search("mixed", "trim left", k=3, mode="lexical")
    assert hits[0].document_id == "strings.go" and "TrimLeft" in hits[0].chunk.text
    assert "ReadAll" in core.search("mixed", "read all", k=1, mode="lexical")[0].chunk.text
    assert core.search("mixed", "TrimLeft", k=1, mode="lexical")[0].chunk.symbol.endswith(
        "TrimLeft")
    # Stemmed: "brewing" meets "brewed"; no word in common: no lexical hit at all.
    assert ids(core.search("mixed", "brewing", k=3, mode="lexical")) == ["tea.txt"]
    assert core.search("mixed", "zebra quantum", k=3, mode="lexical") == []
    assert core.search("mixed", "what is the", k=3, mode="lexical") == []  # stopwords only


def test_dense_scores_are_cosines_and_hybrid_fuses_both_lists(core):
    dense = core.search("mixed", "felines napping", k=4, mode="dense")
    assert dense[0].document_id == "cats.txt"
    info, encoder = core.collections.open("mixed")
    query = encoder.encode(["felines napping"], encoder.profile(info.profile))[0]
    stored = core.get_document("mixed", "cats.txt").chunks[0]
    vector = next(core.storage.repository.vectors(info, "chunk", np.array([stored.id])))[1][0]
    assert dense[0].score == pytest.approx(float(query @ vector), abs=1e-5)
    # No word in common with any document: hybrid is the dense ranking.
    assert ids(core.search("mixed", "felines napping", k=4, mode="hybrid")) == ids(dense)
    # The lexical list lifts the exact identifier into the fused top hit.
    hybrid = core.search("mixed", "TrimLeft cutset", k=2, mode="hybrid")
    assert "TrimLeft" in hybrid[0].chunk.text
    assert hybrid[0].score > hybrid[1].score > 0
    assert core.search("mixed", "anything", k=2) == core.search(
        "mixed", "anything", k=2, mode="hybrid")  # the default


def test_document_level_in_every_mode(core):
    for mode in ("dense", "lexical", "hybrid"):
        hits = core.search("mixed", "rain in Hamburg", k=2, level="document", mode=mode)
        assert hits[0].document_id == "rain.txt", mode
        assert hits[0].evidence[0] == hits[0].chunk
    assert ids(core.search("mixed", "Hamburg", k=5, level="document", mode="lexical")) == [
        "rain.txt"]


def test_lexical_index_follows_replace_delete_and_collection_delete(core):
    core.upsert("mixed", [DocumentInput("rain.txt", "Snow is expected in Oslo tonight.")])
    assert core.search("mixed", "Hamburg", k=3, mode="lexical") == []
    assert ids(core.search("mixed", "Oslo snow", k=3, mode="lexical")) == ["rain.txt"]
    core.delete_documents("mixed", ["rain.txt"])
    assert core.search("mixed", "Oslo", k=3, mode="lexical") == []
    core.create_collection("other")
    core.upsert("other", [DocumentInput("tea.txt", "Oolong tea, brewed twice.")])
    assert ids(core.search("other", "tea", k=3, mode="lexical")) == ["tea.txt"]
    core.delete_collection("mixed")
    assert ids(core.search("other", "tea brewed", k=3, mode="lexical")) == ["tea.txt"]
    info = core.get_collection("other")
    everything = core.storage.repository.lexical_chunks(info, ["tea", "cats", "trim"], 100)
    assert len(everything) == 1


def test_unknown_mode_is_refused(core):
    with pytest.raises(InvalidArgument) as error:
        core.search("mixed", "tea", mode="fuzzy")
    assert error.value.field == "mode"


def test_funnel_shortlists_by_leading_dims_and_rescores_exactly(core):
    exact = core.search("mixed", "felines napping at night", k=2, mode="dense")
    for dims in (32, 128):
        funnel = core.search("mixed", "felines napping at night", k=2, mode="dense",
                             funnel_dims=dims)
        # Four documents: the shortlist (10 x k) holds them all, so only exact scores remain.
        assert [(h.chunk.id, pytest.approx(h.score, abs=1e-5)) for h in funnel] == [
            (h.chunk.id, h.score) for h in exact]
    core.upsert("mixed", [DocumentInput("dogs.txt", "Dogs nap after long walks at night.",
                                        "", {"pet": True})])
    after_write = core.search("mixed", "dogs napping", k=1, mode="dense", funnel_dims=64,
                              where={"pet": True})
    assert ids(after_write) == ["dogs.txt"]
    documents = core.search("mixed", "rain in Hamburg", k=1, level="document", funnel_dims=64)
    assert ids(documents) == ["rain.txt"]
    with pytest.raises(InvalidArgument) as error:
        core.search("mixed", "tea", funnel_dims=385)
    assert error.value.field == "funnel_dims"


def test_a_query_vector_searches_as_its_text_does(core):
    """A vector embedded elsewhere stands in for encoding the query: alone it searches dense,
    with the text the lexical side still reads the words."""
    query = "where do cats nap?"
    [vector] = core.embed([query]).vectors
    for level in ("chunk", "document"):
        by_text = core.search("mixed", query, k=3, level=level, mode="dense")
        by_vector = core.search("mixed", "", k=3, level=level, query_vector=vector)
        assert ids(by_vector) == ids(by_text) and ids(by_vector)[0] == "cats.txt"
        assert np.allclose([h.score for h in by_vector], [h.score for h in by_text], atol=1e-4)
    # Not unit length: cosine collections compare its direction only.
    assert ids(core.search("mixed", "", k=3, query_vector=vector * 7)) == ids(by_vector)
    [words] = core.embed(["trim left"]).vectors
    assert ids(core.search("mixed", "trim left", k=3, query_vector=words)) == ids(
        core.search("mixed", "trim left", k=3))


@pytest.mark.parametrize(("options", "message"), [
    ({"query_vector": np.ones(10, np.float32)}, "10 dimensions"),
    ({"query_vector": np.full(384, np.nan, np.float32)}, "NaN"),
    ({"query_vector": np.zeros(384, np.float32)}, "all zeros"),
    ({"query_vector": np.ones(384, np.float32), "mode": "lexical"}, "needs the query text"),
    ({"query_vector": np.ones(384, np.float32), "mode": "hybrid"}, "needs the query text"),
    ({"query_vector": np.ones(384, np.float32), "query_profile": {"layers": 3}}, "one of the two"),
    ({}, "query is empty"),
])
def test_bad_query_vectors_are_invalid_arguments(core, options, message):
    with pytest.raises(InvalidArgument, match=message):
        core.search("mixed", "", k=3, **options)
