"""Document-level retrieval: long documents found by their best passage and by their whole."""

from __future__ import annotations

import pytest

from embedsvc.errors import InvalidArgument
from embedsvc.types import Condition, DocumentInput

GARDEN = "Roses need full sun and well drained soil. Prune them in early spring. " * 12
KITCHEN = "Knead the dough for ten minutes and let it rise in a warm place. " * 12
NEEDLE = "The backup server in Oslo rotates its encryption keys every ninety days."


def long_documents() -> list[DocumentInput]:
    return [
        DocumentInput("garden", GARDEN + NEEDLE + " " + GARDEN, "", {"shelf": "home"}),
        DocumentInput("kitchen", KITCHEN * 2, "", {"shelf": "home"}),
        DocumentInput("security", "Firewall rules and VPN access for the office. " * 3, "",
                      {"shelf": "work"}),
    ]


def test_document_hits_count_documents_and_carry_evidence(make_core):
    core = make_core()
    core.create_collection("docs", max_chunk_tokens=64)
    core.upsert("docs", long_documents())
    chunk_hits = core.search("docs", "roses and soil", k=5)
    assert len({h.document_id for h in chunk_hits}) < len(chunk_hits), "chunk hits repeat docs"

    hits = core.search("docs", "how often are the encryption keys rotated in Oslo?", k=3,
                       level="document")
    assert [h.document_id for h in hits][:1] == ["garden"]
    assert len({h.document_id for h in hits}) == len(hits) == 3
    best = hits[0]
    assert "Oslo" in best.chunk.text
    assert best.evidence[0].text == best.chunk.text and len(best.evidence) <= 3
    scores = [h.score for h in hits]
    assert scores == sorted(scores, reverse=True)


def test_document_level_filters_and_validation(make_core):
    core = make_core()
    core.create_collection("docs", max_chunk_tokens=64)
    core.upsert("docs", long_documents())
    hits = core.search("docs", "encryption keys", k=5, level="document",
                       where=[Condition("shelf", "work")])
    assert [h.document_id for h in hits] == ["security"]
    with pytest.raises(InvalidArgument, match="level"):
        core.search("docs", "q", level="paragraph")


def test_document_vectors_follow_upserts_and_deletes(make_core):
    core = make_core()
    info = core.create_collection("docs", max_chunk_tokens=64)
    core.upsert("docs", long_documents())
    core.upsert("docs", [DocumentInput("kitchen", "Encryption keys in Oslo rotate yearly.")])
    core.delete_documents("docs", ["security"])
    assert len(core.storage.vectors.ids(info, "document")) == 2
    core.close()
    reopened = make_core()
    hits = reopened.search("docs", "Oslo encryption key rotation", k=5, level="document")
    assert {h.document_id for h in hits} == {"garden", "kitchen"}
    assert len(reopened.storage.vectors.ids(info, "document")) == 2
