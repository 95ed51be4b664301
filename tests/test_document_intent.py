"""Whole-document ranking: a phrase naming a topic is scored for the page about it (its whole
and its opening words), a question for the passage that answers it; on SQLite and PostgreSQL."""

from __future__ import annotations

import numpy as np
import pytest

from embedsvc.fusion import PASSAGE_MIX, TOPIC_MIX, DocumentMix
from embedsvc.intent import asks_for_passage
from embedsvc.services.search import document_mix
from embedsvc.types import DocumentInput

# A page about JSON whose opening names its subject, and a page about other tools with one
# passage that repeats the query's words: that passage is the best single chunk of the two.
JSON_PAGE = "Encoding and decoding JSON data. " + " ".join([
    "Call dumps to serialize an object to a string, or dump to write it to a file.",
    "The indent argument pretty-prints nested arrays and objects with that many spaces.",
    "Keys of dictionaries must be strings; sort_keys orders them in the output.",
    "loads parses a string, load reads from a file object, and both raise on malformed input.",
    "Floating point numbers keep their repr, and NaN or Infinity are allowed unless disabled.",
    "A custom default function can serialize objects the module does not know.",
    "The object_hook argument turns every decoded mapping into a class of your own.",
    "Separators choose the punctuation between items and between keys and values.",
] * 3)
TOOLS_PAGE = "# Toolkit\n\n## Archives\n\n" + " ".join([
    "The archive helpers create zip files and tarballs from a directory tree.",
    "Checksums of every file are kept in a manifest next to the archive.",
    "Temporary directories are removed when the context manager exits.",
    "Progress bars show how many bytes were copied so far.",
] * 4) + ("\n\n## JSON\n\nThe JSON encoder and decoder encode objects as JSON and decode JSON."
          "\n\n## Logging\n\n") + " ".join([
    "Log files rotate at midnight and keep seven days of history.",
    "Command line flags override the values in the configuration file.",
    "Colors in the terminal output can be switched off with an environment variable.",
] * 4)
TOPIC = "JSON encoder and decoder"


@pytest.mark.parametrize("query", [
    "How do I delete a file?", "how do you remove multiple items from a list",
    "My class defines __del__ but it is not called when I delete the object.",
    "Why is it slow", "What is Thabo Okafor's boat?", "Can I freeze a script (and how)",
])
def test_questions_and_sentences_ask_for_a_passage(query):
    assert asks_for_passage(query)
    assert document_mix(query) == PASSAGE_MIX


@pytest.mark.parametrize("query", [
    "JSON encoder and decoder", "SMTP Server", "Perl Books", "Extending", "Misc. utilities.",
    "Asynchronous socket command/response handler", "  ", "",
])
def test_phrases_name_a_topic(query):
    assert not asks_for_passage(query)
    assert document_mix(query) == TOPIC_MIX


@pytest.fixture
def pages(make_core):
    core = make_core()
    core.create_collection("docs", max_chunk_tokens=64)
    core.upsert("docs", [DocumentInput("json.rst", JSON_PAGE),
                         DocumentInput("tools.rst", TOOLS_PAGE)])
    return core


def best_chunk_cosines(core, query: str) -> dict[str, float]:
    info, encoder = core.collections.open("docs")
    vector = encoder.encode([query])[0]
    repository = core.storage.repository
    rows = repository.document_row_ids(info, ["json.rst", "tools.rst"])
    return {document_id: float((matrix @ vector).max())
            for document_id, _, _, matrix in repository.document_chunks(sorted(rows),
                                                                        info.dimensions)}


def test_the_page_about_a_topic_beats_a_stronger_single_passage(pages):
    best = best_chunk_cosines(pages, TOPIC)
    assert best["tools.rst"] > best["json.rst"], "the other page holds the best passage"
    hits = pages.search("docs", TOPIC, k=2, level="document")
    assert [h.document_id for h in hits] == ["json.rst", "tools.rst"]
    assert hits[0].score > hits[1].score
    # Its evidence is still its best chunks, the opening first.
    assert hits[0].chunk.ordinal == 0 and "JSON" in hits[0].chunk.text
    # Scored for a passage (a question; dense mode), the other page's passage wins.
    question = pages.search("docs", f"Where is the {TOPIC}?", k=2, level="document")
    assert question[0].document_id == "tools.rst" and "encoder" in question[0].chunk.text
    dense = pages.search("docs", TOPIC, k=2, level="document", mode="dense")
    assert dense[0].document_id == "tools.rst"


def test_opening_words_count_only_for_the_first_chunk(pages):
    info, _ = pages.collections.open("docs")
    evidence = pages.searcher.lexical_evidence(info, ["encoder", "decoder"], [])
    assert evidence["json.rst"].first > 0 and evidence["json.rst"].first == pytest.approx(
        evidence["json.rst"].best)
    assert evidence["tools.rst"].first == 0 < evidence["tools.rst"].best
    # Without the opening words and the mean vector's weight, the passage wins.
    info, encoder = pages.collections.open("docs")
    vector = encoder.encode([TOPIC])[0]
    ranked = pages.searcher.rank(info, TOPIC, vector, 2, "document",
                                 mix=DocumentMix(alpha=0.9, first=0.0, lexical=0.35))
    assert ranked[0].document_id == "tools.rst"
    topic = pages.searcher.rank(info, TOPIC, vector, 2, "document", mix=TOPIC_MIX)
    assert [h.document_id for h in topic] == ["json.rst", "tools.rst"]
    assert np.isclose(topic[0].score, pages.search("docs", TOPIC, k=1, level="document")[0].score)
