"""Upsert as prepare + commit: inference under no lock, precomputed vectors, chunking policies,
prompts, and several models in one core."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select

from embedsvc import faults
from embedsvc.config import Settings
from embedsvc.core import Core
from embedsvc.errors import FailedPrecondition, InvalidArgument, NotFound
from embedsvc.services.documents import prepare, prepare_for_commit
from embedsvc.storage.sql.schema import ChunkRow
from embedsvc.types import DocumentInput, PreparedChunk, PreparedDocument

WAIT = 120  # seconds: only reached when the behaviour under test is broken

LONG = " ".join(f"Sentence {i} is about the weather on day {i} in Hamburg." for i in range(40))


class GatedEncoder:
    """The shared encoder, running ``on_bulk`` first in every document (non-interactive) encode."""

    def __init__(self, inner, on_bulk=None) -> None:
        self._inner = inner
        self.on_bulk = on_bulk

    def __getattr__(self, name: str):
        return getattr(self._inner, name)

    def encode(self, texts, *args, interactive: bool = False, **kwargs):
        if not interactive and self.on_bulk is not None:
            self.on_bulk()
        return self._inner.encode(texts, *args, interactive=interactive, **kwargs)


@pytest.fixture
def gated_core(tmp_path: Path, database_url: str, encoder):
    gated = GatedEncoder(encoder)
    core = Core(Settings(data_dir=tmp_path / "data", database_url=database_url), gated)
    yield core, gated
    core.close()


@pytest.mark.parametrize("names", [("a", "b"), ("a", "a")], ids=["two collections", "one"])
def test_concurrent_upserts_embed_at_the_same_time(gated_core, names):
    core, gated = gated_core
    for name in set(names):
        core.create_collection(name)
    both_inside = threading.Barrier(2, timeout=WAIT)
    gated.on_bulk = both_inside.wait  # breaks (and fails the upserts) if they take turns
    with ThreadPoolExecutor(2) as pool:
        futures = [
            pool.submit(core.upsert, name, [DocumentInput(f"doc-{i}", f"Text number {i}.")])
            for i, name in enumerate(names)
        ]
        results = [future.result() for future in futures]
    assert [r[0].embedded for r in results] == [1, 1]
    assert sum(core.get_collection(n).document_count for n in set(names)) == 2


def test_a_search_during_an_upsert_does_not_wait_for_its_inference(gated_core):
    core, gated = gated_core
    core.create_collection("docs")
    core.upsert("docs", [DocumentInput("old", "Cats sleep most of the day.")])
    inside, searched = threading.Event(), threading.Event()

    def hold_the_upsert() -> None:
        inside.set()
        assert searched.wait(WAIT), "the search waited for the upsert's inference"

    gated.on_bulk = hold_the_upsert
    with ThreadPoolExecutor(1) as pool:
        upsert = pool.submit(core.upsert, "docs", [DocumentInput("new", LONG)])
        assert inside.wait(WAIT)
        hits = core.search("docs", "where do cats sleep", k=5)
        hits_by_document = core.search("docs", "where do cats sleep", k=5, level="document")
        searched.set()
        assert upsert.result()[0].created
    assert [h.document_id for h in hits] == ["old"]
    assert [h.document_id for h in hits_by_document] == ["old"]
    assert {h.document_id for h in core.search("docs", "weather in Hamburg", k=5)} >= {"new"}


def test_precomputed_vectors_round_trip_and_are_checked(make_core, encoder):
    core = make_core()
    info = core.create_collection("docs", max_chunk_tokens=32)
    documents = [DocumentInput("long", LONG, "", {"kind": "weather"})]
    prepared = prepare(info, encoder, documents)
    assert len(prepared[0].chunks) > 3
    results = core.upsert_prepared("docs", prepared, info.model_fingerprint)
    assert (results[0].created, results[0].chunks) == (True, len(prepared[0].chunks))
    stored = core.get_document("docs", "long")
    assert [c.text for c in stored.chunks] == [c.chunk.text for c in prepared[0].chunks]
    top = core.search("docs", prepared[0].chunks[2].chunk.text, k=1, mode="dense")[0]
    assert top.chunk.id == stored.chunks[2].id and top.score == pytest.approx(1.0, abs=1e-4)
    # The same documents upserted the usual way reuse every stored vector.
    again = core.upsert("docs", documents)[0]
    assert (again.embedded, again.reused) == (0, len(prepared[0].chunks))

    with pytest.raises(InvalidArgument, match="model_fingerprint is required"):
        core.upsert_prepared("docs", prepared, "")
    with pytest.raises(FailedPrecondition, match="fingerprint"):
        core.upsert_prepared("docs", prepared, "f" * 32)
    for broken, message in [
        (with_vector(prepared[0], np.ones(383, dtype=np.float32)), "383 values"),
        (with_vector(prepared[0], np.full(384, np.nan, dtype=np.float32)), "finite"),
        (with_vector(prepared[0], np.zeros(384, dtype=np.float32)), "zeros"),
        (PreparedDocument(DocumentInput("x", "other text"), prepared[0].chunks,
                          prepared[0].vector), "start_char:end_char"),
        (PreparedDocument(prepared[0].document, [], prepared[0].vector), "no chunks"),
    ]:
        with pytest.raises(InvalidArgument, match=message):
            core.upsert_prepared("docs", [broken], info.model_fingerprint)


def test_a_worker_without_the_store_reuses_stored_chunks_by_sending_no_vector(make_core, encoder):
    core = make_core()
    info = core.create_collection("docs", max_chunk_tokens=32)
    core.upsert("docs", [DocumentInput("long", LONG)])
    before = core.get_document("docs", "long")
    edited = DocumentInput("long", LONG.replace("day 39 in", "day 39 near"))
    stored = [{chunk.content_hash for chunk in before.chunks}]
    sent = prepare_for_commit(info, encoder, [edited], stored)[0]
    empty = [item.vector.size == 0 for item in sent.chunks]
    assert empty.count(False) == 1, "only the edited chunk is embedded"
    result = core.upsert_prepared("docs", [sent], info.model_fingerprint)[0]
    assert (result.embedded, result.reused) == (1, len(sent.chunks) - 1)
    after = core.get_document("docs", "long")
    assert [c.id for c in after.chunks][:-1] == [c.id for c in before.chunks][:-1]
    # The document vector is the one a plain upsert computes from the same chunk vectors.
    plain = prepare(info, encoder, [edited])[0]
    ids = core.storage.repository.document_row_ids(info, ["long"])
    _, vectors = next(core.storage.repository.vectors(info, "document", np.array(sorted(ids))))
    assert np.allclose(vectors[0], plain.vector, atol=1e-3)

    fresh = DocumentInput("other", "A document the store has never seen.")
    unknown = prepare_for_commit(info, encoder, [fresh], [set()])[0]
    unknown = with_vector(unknown, np.zeros(0, dtype=np.float32))
    with pytest.raises(InvalidArgument, match="no vector"):
        core.upsert_prepared("docs", [unknown], info.model_fingerprint)


def with_vector(document: PreparedDocument, vector: np.ndarray) -> PreparedDocument:
    first = PreparedChunk(document.chunks[0].chunk, vector)
    return PreparedDocument(document.document, [first, *document.chunks[1:]], document.vector)


def test_chunking_policies(make_core):
    core = make_core()
    code = "def area(r):\n    return 3.14 * r * r\n\n\ndef perimeter(r):\n    return 6.28 * r\n"
    for policy in ("none", "text", "code", "auto"):
        core.create_collection(policy, max_chunk_tokens=24, chunking=policy)
    assert core.get_collection("none").chunking == "none"

    core.upsert("none", [DocumentInput("weather", LONG), DocumentInput("shapes.py", code)])
    whole = core.get_document("none", "weather").chunks
    assert len(whole) == 1 and whole[0].text == LONG
    assert (whole[0].start_char, whole[0].end_char, whole[0].start_line) == (0, len(LONG), 1)
    assert len(core.get_document("none", "shapes.py").chunks) == 1
    assert core.get_collection("none").chunk_count == 2

    core.upsert("auto", [DocumentInput("shapes.py", code)])
    core.upsert("code", [DocumentInput("shapes", code, "python")])
    core.upsert("text", [DocumentInput("shapes.py", code)])
    symbols = {c.symbol for c in core.get_document("auto", "shapes.py").chunks}
    assert {"shapes.area", "shapes.perimeter"} <= symbols  # the id is read as a path
    assert any(c.kind == "function" for c in core.get_document("code", "shapes").chunks)
    assert all(c.symbol == "" for c in core.get_document("text", "shapes.py").chunks)
    with pytest.raises(InvalidArgument, match="no code language"):
        core.upsert("code", [DocumentInput("notes", "Plain words, no code.")])
    with pytest.raises(InvalidArgument, match="chunking"):
        core.create_collection("bad", chunking="sentences")


def test_prompts_are_stored_and_used(make_core, encoder):
    core = make_core()
    info = core.create_collection("e5", query_prompt="query: ", document_prompt="passage: ")
    assert (info.query_prompt, info.document_prompt) == ("query: ", "passage: ")
    text = "Cats sleep most of the day."
    core.upsert("e5", [DocumentInput("cats", text)])
    with core.storage.repository.sessions() as session:
        stored = np.frombuffer(session.scalars(select(ChunkRow.vector)).one(), dtype="<f4")
    with_prompt = encoder.encode([text], info.profile, prompt="passage: ")[0]
    np.testing.assert_allclose(stored, with_prompt, atol=1e-5)
    assert not np.allclose(stored, encoder.encode([text], info.profile)[0], atol=1e-3)
    hit = core.search("e5", "where do cats sleep", k=1, mode="dense")[0]
    query = encoder.encode(["where do cats sleep"], info.profile, prompt="query: ")[0]
    assert hit.score == pytest.approx(float(query @ stored), abs=1e-4)
    plain = core.create_collection("plain")
    assert (plain.query_prompt, plain.document_prompt) == ("", "")  # the model has none


def test_several_models_in_one_core(tmp_path: Path, database_url: str, encoder,
                                    small_model_dir: Path):
    settings = Settings(data_dir=tmp_path / "data", database_url=database_url,
                        models={"mini": str(small_model_dir)})
    core = Core(settings, encoder)
    try:
        entries = {entry.name: entry for entry in core.info().models}
        assert set(entries) == {"all-MiniLM-L6-v2", "mini"}
        assert entries["all-MiniLM-L6-v2"].is_default and not entries["mini"].loaded
        info = core.create_collection("small", model="mini")
        mini = core.info("mini").model
        assert (info.model, info.model_fingerprint) == ("mini", mini.fingerprint)
        assert mini.layers == 2 and mini.fingerprint != encoder.fingerprint
        # The model's own prompts become the collection's.
        assert (info.query_prompt, info.document_prompt) == ("query: ", "passage: ")
        core.upsert("small", [DocumentInput("cats", "Cats sleep most of the day."),
                              DocumentInput("rain", "Heavy rain is expected in Hamburg.")])
        assert core.search("small", "weather forecast rain", k=1)[0].document_id == "rain"
        default = core.embed(["a sentence"], profile={"precision": "fp32"})
        other = core.embed(["a sentence"], model="mini", profile={"precision": "fp32"})
        assert other.model == "mini" and default.model == "all-MiniLM-L6-v2"
        assert float(default.vectors[0] @ other.vectors[0]) < 0.99
        with pytest.raises(InvalidArgument, match="not served"):
            core.embed(["x"], model="nope")
    finally:
        core.close()


def test_deleting_a_collection_while_an_upsert_embeds_is_not_found(make_core, monkeypatch,
                                                                   tmp_path: Path):
    core = make_core()
    core.create_collection("docs")
    marker = tmp_path / "paused"
    monkeypatch.setenv("EMBEDSVC_FAULT_PAUSE", "upsert.prepared")
    monkeypatch.setenv("EMBEDSVC_FAULT_FILE", str(marker))
    faults.reset()
    with ThreadPoolExecutor(1) as pool:
        upsert = pool.submit(core.upsert, "docs", [DocumentInput("a", "Some text.")])
        deadline = time.monotonic() + WAIT
        while not marker.exists():
            assert time.monotonic() < deadline and not upsert.done()
            time.sleep(0.02)
        core.delete_collection("docs")
        core.create_collection("docs")  # same name, new collection: the upsert must not land
        marker.unlink()
        with pytest.raises(NotFound, match="was deleted"):
            upsert.result()
    assert core.get_collection("docs").document_count == 0
