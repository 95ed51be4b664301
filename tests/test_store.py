"""The core against real SQLite and PostgreSQL stores and real FAISS files on disk."""

from __future__ import annotations

import threading
from pathlib import Path

import faiss
import numpy as np
import pytest
from sqlalchemy import select, update

from embedsvc.core import Core
from embedsvc.errors import (
    AlreadyExists,
    DataDirLocked,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
)
from embedsvc.storage.sql.schema import ChunkRow, CollectionRow
from embedsvc.titles.types import CatalogEntry, TitleQuery
from embedsvc.types import Condition, DeleteResult, DocumentInput

DOCS = [
    DocumentInput("cats", "The cat sat on the mat and purred at the fish.", "", {"topic": "pets"}),
    DocumentInput("py", "Python is a dynamically typed programming language.", "",
                  {"topic": "code", "year": 1991}),
    DocumentInput("weather", "Tomorrow will be sunny in Berlin with a light breeze.", "",
                  {"topic": "news"}),
]


def sql_chunk_ids(core: Core, name: str) -> set[int]:
    info = core.get_collection(name)
    with core.storage.repository.sessions() as session:
        return set(session.scalars(select(ChunkRow.id).where(ChunkRow.collection_id == info.id)))


def faiss_ids(core: Core, name: str) -> set[int]:
    return set(core.storage.vectors.ids(core.get_collection(name)).tolist())


def test_upsert_search_filter_delete_and_reopen(make_core):
    core = make_core()
    core.create_collection("docs")
    results = core.upsert("docs", DOCS)
    assert [r.created for r in results] == [True, True, True]
    hits = core.search("docs", "which programming language has dynamic typing?", k=3)
    assert hits[0].document_id == "py"
    assert hits[0].metadata["year"] == 1991
    filtered = core.search("docs", "programming language", k=3, where=[
        Condition("topic", "pets")])
    assert [h.document_id for h in filtered] == ["cats"]
    by_year = core.search("docs", "x", k=3, where={"year": 1991.0})
    assert [h.document_id for h in by_year] == ["py"]

    assert core.delete_documents("docs", ["py", "missing"]) == DeleteResult(["py"], ["missing"], 1)
    assert all(h.document_id != "py" for h in core.search("docs", "programming", k=3))
    core.close()

    reopened = make_core()
    info = reopened.get_collection("docs")
    assert (info.document_count, info.chunk_count) == (2, 2)
    assert reopened.search("docs", "a cat and a fish", k=1)[0].document_id == "cats"
    assert sql_chunk_ids(reopened, "docs") == faiss_ids(reopened, "docs")


def test_upsert_replaces_and_reuses_unchanged_chunks(make_core):
    core = make_core()
    core.create_collection("docs", max_chunk_tokens=16)
    text = " ".join(f"Sentence number {i} talks about topic {i}." for i in range(12))
    first = core.upsert("docs", [DocumentInput("long", text)])[0]
    assert first.chunks > 2 and first.embedded == first.chunks
    before = sql_chunk_ids(core, "docs")
    again = core.upsert("docs", [DocumentInput("long", text)])[0]
    assert (again.created, again.embedded, again.reused) == (False, 0, first.chunks)
    assert sql_chunk_ids(core, "docs") == before

    edited = core.upsert("docs", [DocumentInput("long", text + " A brand new closing line.")])[0]
    assert 0 < edited.embedded < edited.chunks
    assert edited.embedded == edited.chunks - edited.reused
    assert edited.reused + edited.deleted == first.chunks
    assert sql_chunk_ids(core, "docs") == faiss_ids(core, "docs")
    assert core.get_collection("docs").document_count == 1


def test_chunk_ids_are_never_reused(make_core):
    core = make_core()
    core.create_collection("docs")
    core.upsert("docs", DOCS)
    highest = max(sql_chunk_ids(core, "docs"))
    core.delete_documents("docs", [d.id for d in DOCS])
    core.upsert("docs", DOCS[:1])
    assert min(sql_chunk_ids(core, "docs")) > highest


def test_filter_returns_k_hits_when_k_match(make_core):
    core = make_core()
    core.create_collection("docs")
    similar = [DocumentInput(f"near{i}", f"Python programming tip number {i}.", "",
                             {"kind": "near"}) for i in range(30)]
    far = [DocumentInput(f"far{i}", f"Gardening advice about roses, part {i}.", "",
                         {"kind": "far"}) for i in range(5)]
    core.upsert("docs", similar + far)
    hits = core.search("docs", "python programming", k=5, where=[Condition("kind", "far")])
    assert sorted(h.document_id for h in hits) == sorted(d.id for d in far)


def test_collection_errors(make_core):
    core = make_core()
    core.create_collection("docs")
    with pytest.raises(AlreadyExists):
        core.create_collection("docs")
    with pytest.raises(InvalidArgument):
        core.create_collection("bad name!")
    with pytest.raises(InvalidArgument):
        core.create_collection("wide", dimensions=4096)
    with pytest.raises(NotFound):
        core.search("nope", "query")
    with pytest.raises(InvalidArgument):
        core.search("docs", "query", k=0)
    with pytest.raises(NotFound):
        core.get_document("docs", "missing")


def test_document_summaries_tell_what_changed(make_core):
    core = make_core()
    core.create_collection("docs")
    core.upsert("docs", [DocumentInput("src/a.py", "x = 1", "python", {"size": 5}),
                         DocumentInput("src/b.py", "y = 2", "python"),
                         DocumentInput("src_old/c.py", "z = 3", "python")])
    page = core.list_documents("docs", id_prefix="src/")
    assert page.next_page_token == "" and [s.id for s in page.items] == ["src/a.py", "src/b.py"]
    local = DocumentInput("src/a.py", "x = 1", "python", {"size": 5.0})
    assert page.items[0].content_hash == local.content_hash and page.items[0].chunk_count == 1


def test_listing_pages(make_core):
    core = make_core()
    for i in range(5):
        core.create_collection(f"c{i}")
    page = core.list_collections(page_size=2)
    names = [c.name for c in page.items]
    while page.next_page_token:
        page = core.list_collections(page_size=2, page_token=page.next_page_token)
        names += [c.name for c in page.items]
    assert names == [f"c{i}" for i in range(5)]
    assert [c.name for c in core.all_collections()] == names
    with pytest.raises(InvalidArgument):
        core.list_collections(page_token="garbage")


def test_a_second_writer_is_refused(make_core):
    make_core()
    with pytest.raises(DataDirLocked, match="--server"):
        make_core()


def test_model_fingerprint_mismatch_is_failed_precondition(make_core):
    core = make_core()
    core.create_collection("docs")
    with core.storage.repository.sessions.begin() as session:
        session.execute(update(CollectionRow).values(model_fingerprint="0" * 32))
    with pytest.raises(FailedPrecondition, match="different model"):
        core.search("docs", "query")
    with pytest.raises(FailedPrecondition):
        core.upsert("docs", DOCS)


def test_stale_faiss_file_is_repaired_on_open(make_core, tmp_path: Path):
    core = make_core()
    info = core.create_collection("docs")
    core.upsert("docs", DOCS[:1])
    core.close()  # index saved with one document
    index_dir = tmp_path / "data" / "indexes" / str(info.id)
    saved = (index_dir / "chunks.faiss").read_bytes(), (index_dir / "state.json").read_bytes()

    core = make_core()
    core.upsert("docs", DOCS[1:])
    core.delete_documents("docs", ["cats"])
    core.close()
    # Simulate a crash after the SQL commits but before the index was saved again.
    (index_dir / "chunks.faiss").write_bytes(saved[0])
    (index_dir / "state.json").write_bytes(saved[1])

    repaired = make_core()
    assert sql_chunk_ids(repaired, "docs") == faiss_ids(repaired, "docs")
    assert {h.document_id for h in repaired.search("docs", "anything", k=10)} == {"py", "weather"}


def test_reindex_rebuilds_from_sql(make_core, tmp_path: Path):
    core = make_core()
    info = core.create_collection("docs")
    core.upsert("docs", DOCS)
    core.close()
    (tmp_path / "data" / "indexes" / str(info.id) / "chunks.faiss").write_bytes(b"corrupt")
    core = make_core()
    assert core.reindex("docs") == 3
    assert core.search("docs", "sunny weather in Berlin", k=1)[0].document_id == "weather"


def test_dimensions_and_l2_collections(make_core, tmp_path: Path):
    core = make_core()
    core.create_collection("small", dimensions=64)
    core.create_collection("euclid", metric="l2")
    for name in ("small", "euclid"):
        core.upsert(name, DOCS)
        assert core.search(name, "python language", k=1)[0].document_id == "py"
    small = core.get_collection("small")
    core.flush()
    saved = faiss.read_index(str(tmp_path / "data" / "indexes" / str(small.id) / "chunks.faiss"))
    assert saved.d == 64
    with core.storage.repository.sessions() as session:
        raw = session.scalars(select(ChunkRow.vector).where(ChunkRow.collection_id == small.id))
        vector = np.frombuffer(raw.first(), dtype="<f4")
    assert vector.shape == (64,)
    assert abs(float(np.linalg.norm(vector)) - 1.0) < 1e-5


def test_searches_run_while_upserts_write(make_core):
    """Concurrent reads and writes: no 'database is locked', no torn results."""
    core = make_core()
    core.create_collection("docs")
    core.upsert("docs", DOCS)
    errors: list[BaseException] = []

    def search_loop() -> None:
        try:
            for _ in range(30):
                hits = core.search("docs", "python language", k=5)
                assert hits and hits[0].chunk.text
        except BaseException as error:
            errors.append(error)

    readers = [threading.Thread(target=search_loop) for _ in range(3)]
    for reader in readers:
        reader.start()
    for batch in range(6):
        core.upsert("docs", [DocumentInput(f"w{batch}-{i}", f"Writer {batch} note {i}.")
                             for i in range(4)])
    for reader in readers:
        reader.join()
    assert errors == []
    assert core.get_collection("docs").document_count == 3 + 24
    assert sql_chunk_ids(core, "docs") == faiss_ids(core, "docs")


def test_catalog_and_knowledge_base_versions_are_not_user_collections(make_core):
    """A catalog's versions live in collections of their own; the collection API neither lists
    them (pages stay full) nor lets a user create, delete or write into one by hand."""
    core = make_core()
    core.create_collection("a")
    core.load_catalog("jobs", [CatalogEntry("1", "Software Developer", ("Programmer",))])
    core.create_collection("b")
    stored = [info.name for info in core.storage.repository.list_collections()]
    assert stored == ["a", "titles.jobs.v1", "b"]
    page = core.list_collections(page_size=2)
    assert [c.name for c in page.items] == ["a", "b"]
    assert [c.name for c in core.all_collections()] == ["a", "b"]
    for reserved in ("titles.jobs.v1", "kb.terms.v1"):
        with pytest.raises(InvalidArgument, match="reserved"):
            core.create_collection(reserved)
        with pytest.raises(InvalidArgument, match="reserved"):
            core.delete_collection(reserved)
    live = core.get_collection("titles.jobs.v1")
    with pytest.raises(InvalidArgument, match="reserved"):
        core.upsert("titles.jobs.v1", [DocumentInput("x", "Forklift Operator")])
    with pytest.raises(InvalidArgument, match="reserved"):
        core.delete_documents("titles.jobs.v1", ["1"])
    assert core.get_collection("titles.jobs.v1").document_count == live.document_count
    assert core.normalize_titles("jobs", [TitleQuery("programmer")])[0].candidates[0].id == "1"
    assert [c.name for c in core.catalogs()] == ["jobs"]
