"""SIGKILL at named points of a write never leaves SQL and the vector index disagreeing.

The server is paused by a fault hook (`embedsvc.faults`) exactly at the point under test and
killed there, so the test never depends on how fast the machine is.
"""

from __future__ import annotations

import signal
import time
from pathlib import Path

import faiss
import grpc
import numpy as np
import pytest
from sqlalchemy import create_engine, select, text

from embedsvc.config import Settings
from embedsvc.core import Core
from embedsvc.storage.sql.schema import ChunkRow, CollectionRow, DocumentRow
from embedsvc.types import DocumentInput
from embedsvc.v1 import index_pb2, types_pb2
from tests.conftest import ServerProcess

WORDS = [
    "river", "mountain", "signal", "archive", "lantern", "harbor", "meadow", "circuit",
    "quartz", "velvet", "orbit", "canyon", "ember", "glacier", "pixel", "thunder",
]
SETUP_DOCUMENTS = 24
LARGE_UPSERT = 64


def document(number: int) -> dict:
    rng = np.random.default_rng(number)
    text = ". ".join(" ".join(rng.choice(WORDS, 12)) for _ in range(16)) + "."
    return {"id": f"doc-{number:04d}", "text": text, "metadata": {"batch": number // 8}}


def upsert_request(documents: list[dict]) -> index_pb2.UpsertDocumentsRequest:
    return index_pb2.UpsertDocumentsRequest(
        collection="big",
        documents=[types_pb2.Document(id=d["id"], text=d["text"]) for d in documents],
    )


def wait_paused(server: ServerProcess, marker: Path) -> None:
    """Return once the server is paused at its fault point (it creates the marker file)."""
    deadline = time.monotonic() + 600
    while not marker.exists():
        assert server.process.poll() is None, server.log.read_text()[-3000:]
        assert time.monotonic() < deadline, "the server never reached its fault point"
        time.sleep(0.05)


# (fault point, whether the large upsert is stored afterwards, how the point is reached)
POINTS = [
    ("encode.pass", False, "upsert"),       # between two forward passes of the upsert
    ("upsert.prepared", False, "upsert"),   # vectors computed, nothing written
    ("upsert.writing", False, "upsert"),    # rows and lexical index written, not committed
    ("upsert.committed", True, "upsert"),   # SQL committed, vector index not yet updated
    ("index.save", True, "shutdown"),       # chunk index file written, the rest not
]


@pytest.mark.slow
@pytest.mark.parametrize(("point", "stored", "reached_by"), POINTS,
                         ids=[point for point, *_ in POINTS])
def test_sigkill_at_a_write_point_then_restart_is_consistent(
    server_factory, database_url, tmp_path, encoder, point, stored, reached_by
):
    data = tmp_path / "data"
    settings = Settings(data_dir=data, database_url=database_url)
    setup = Core(settings, encoder)  # in-process: the same store a server would open
    setup.create_collection("big", max_chunk_tokens=48)
    for batch in range(3):
        setup.upsert("big", [DocumentInput(**document(batch * 8 + i)) for i in range(8)])
    setup.close()

    marker = tmp_path / "paused"
    faulty = server_factory(
        data, database_url, EMBEDSVC_FAULT_PAUSE=point, EMBEDSVC_FAULT_FILE=str(marker)
    ).start()
    with faulty.client(timeout=300) as client:
        in_flight = client.index.UpsertDocuments.future(
            upsert_request([document(100 + i) for i in range(LARGE_UPSERT)]), timeout=300
        )
        if reached_by == "shutdown":
            assert len(in_flight.result().results) == LARGE_UPSERT
            faulty.process.send_signal(signal.SIGTERM)  # the shutdown saves the index
        wait_paused(faulty, marker)
        faulty.stop(signal.SIGKILL)
        if reached_by == "upsert":
            with pytest.raises(grpc.RpcError):
                in_flight.result()

    expected = SETUP_DOCUMENTS + (LARGE_UPSERT if stored else 0)
    restarted = Core(settings, encoder)  # opening the store repairs what the kill left
    try:
        assert len(restarted.document_summaries("big")) == expected, "all or nothing"
        for document_id in ("doc-0005", "doc-0163") if stored else ("doc-0005",):
            sample = restarted.get_document("big", document_id).chunks[2]
            top = restarted.search("big", sample.text, k=1)[0]
            assert (top.document_id, top.chunk.id) == (document_id, sample.id)
        assert_lexical_index_matches_chunks(restarted)
    finally:
        restarted.close()
    assert_saved_index_matches_sql(database_url, data, expected)


def assert_lexical_index_matches_chunks(core: Core) -> None:
    """Each word finds exactly the chunks whose text holds it: the kill left no row without
    its index entry and no entry without its row, with nothing repaired."""
    info = core.get_collection("big")
    repository = core.storage.repository
    with repository.sessions() as session:
        chunks = session.execute(
            select(ChunkRow.id, ChunkRow.text).where(ChunkRow.collection_id == info.id)).all()
        if repository.dialect == "sqlite":
            session.execute(text(
                "INSERT INTO chunks_fts(chunks_fts, rank) VALUES ('integrity-check', 1)"))
    for word in WORDS[:4]:
        found = {i for i, _ in repository.lexical_chunks(info, [word], len(chunks) + 1)}
        assert found == {i for i, body in chunks if word in body.split(" ")
                         or f"{word}." in body}, word


def assert_saved_index_matches_sql(database_url: str, data: Path, documents: int) -> None:
    engine = create_engine(database_url)
    with engine.connect() as connection:
        collection = connection.execute(select(CollectionRow.id, CollectionRow.generation)).one()
        sql_chunks = set(connection.scalars(select(ChunkRow.id)))
        sql_documents = set(connection.scalars(select(DocumentRow.id)))
    engine.dispose()
    directory = data / "indexes" / str(collection.id)
    chunks = faiss.read_index(str(directory / "chunks.faiss"))
    saved_documents = faiss.read_index(str(directory / "documents.faiss"))
    assert set(faiss.vector_to_array(chunks.id_map).tolist()) == sql_chunks
    assert set(faiss.vector_to_array(saved_documents.id_map).tolist()) == sql_documents
    assert len(sql_documents) == documents
    state = (directory / "state.json").read_text()
    assert f'"generation": {collection.generation}' in state


# (fault point, the call the server is killed in, documents of "big" afterwards or None = gone)
DELETES = [
    ("delete.committed", "delete_documents", SETUP_DOCUMENTS - 8),
    ("collection.deleted", "delete_collection", None),
]


@pytest.mark.slow
@pytest.mark.parametrize(("point", "call", "remaining"), DELETES,
                         ids=[point for point, *_ in DELETES])
def test_sigkill_in_a_delete_then_restart_is_consistent(
    server_factory, database_url, tmp_path, encoder, point, call, remaining
):
    data = tmp_path / "data"
    settings = Settings(data_dir=data, database_url=database_url)
    setup = Core(settings, encoder)
    setup.create_collection("big", max_chunk_tokens=48)
    setup.create_collection("other")
    setup.upsert("other", [DocumentInput("keep", "A document in another collection.")])
    for batch in range(3):
        setup.upsert("big", [DocumentInput(**document(batch * 8 + i)) for i in range(8)])
    big_id = setup.get_collection("big").id
    setup.close()

    marker = tmp_path / "paused"
    faulty = server_factory(
        data, database_url, EMBEDSVC_FAULT_PAUSE=point, EMBEDSVC_FAULT_FILE=str(marker)
    ).start()
    with faulty.client(timeout=300) as client:
        if call == "delete_documents":
            request = index_pb2.DeleteDocumentsRequest(
                collection="big", ids=[f"doc-{n:04d}" for n in range(8)])
            in_flight = client.index.DeleteDocuments.future(request, timeout=300)
        else:
            in_flight = client.index.DeleteCollection.future(
                index_pb2.DeleteCollectionRequest(name="big"), timeout=300)
        wait_paused(faulty, marker)
        faulty.stop(signal.SIGKILL)
        with pytest.raises(grpc.RpcError):
            in_flight.result()

    restarted = Core(settings, encoder)
    try:
        names = [info.name for info in restarted.all_collections()]
        assert restarted.search("other", "another collection", k=1)[0].document_id == "keep"
        if remaining is None:
            assert names == ["other"]
            assert not (data / "indexes" / str(big_id)).exists()
            return
        info = restarted.get_collection("big")
        assert info.document_count == remaining
        sql = set(restarted.storage.repository.ids(info, "chunk").tolist())
        assert set(restarted.storage.vectors.ids(info).tolist()) == sql
        assert len(restarted.storage.vectors.ids(info, "document")) == remaining
        hits = restarted.search("big", document(3)["text"], k=5)
        assert all(hit.document_id >= "doc-0008" for hit in hits)
    finally:
        restarted.close()
