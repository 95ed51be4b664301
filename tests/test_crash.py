"""SIGKILL in the middle of a large upsert never leaves SQL and FAISS disagreeing."""

from __future__ import annotations

import signal
import time

import grpc
import numpy as np
import pytest
from sqlalchemy import create_engine, select

from embedsvc.storage.schema import ChunkRow, CollectionRow
from embedsvc.storage.vectors import CollectionVectors
from embedsvc.v1 import index_pb2, types_pb2

WORDS = [
    "river", "mountain", "signal", "archive", "lantern", "harbor", "meadow", "circuit",
    "quartz", "velvet", "orbit", "canyon", "ember", "glacier", "pixel", "thunder",
]


def document(number: int) -> dict:
    rng = np.random.default_rng(number)
    text = ". ".join(" ".join(rng.choice(WORDS, 12)) for _ in range(16)) + "."
    return {"id": f"doc-{number:04d}", "text": text, "metadata": {"batch": number // 8}}


@pytest.mark.slow
def test_sigkill_mid_upsert_then_restart_is_consistent(server_factory, database_url, tmp_path):
    server = server_factory(database_url=database_url).start()
    with server.client(timeout=300) as client:
        client.create_collection("big", max_chunk_tokens=48)
        for batch in range(3):  # committed to SQL, never saved to FAISS (flush is hourly)
            client.upsert("big", [document(batch * 8 + i) for i in range(8)])
        in_flight = client.index.UpsertDocuments.future(
            upsert_request([document(100 + i) for i in range(64)]), timeout=300
        )
        time.sleep(1.5)
        assert not in_flight.done(), "the large upsert finished before the kill"
    server.stop(signal.SIGKILL)
    with pytest.raises(grpc.RpcError):
        in_flight.result()

    server.start()
    with server.client() as client:
        stored = client.list_documents("big")
        assert len(stored) in (24, 24 + 64), "an upsert request must be all or nothing"
        sample = client.get_document("big", "doc-0005").chunks[2]
        top = client.search("big", sample.text, k=1)[0]
        assert (top.document_id, top.chunk.id) == ("doc-0005", sample.id)
    assert server.stop() == 0

    engine = create_engine(database_url)
    with engine.connect() as connection:
        collection = connection.execute(select(CollectionRow.id, CollectionRow.generation)).one()
        sql_ids = set(connection.scalars(select(ChunkRow.id)))
    engine.dispose()
    saved, generation = CollectionVectors.load(server.data_dir / "indexes" / str(collection.id))
    assert set(saved.chunks.ids().tolist()) == sql_ids
    assert len(saved.documents) == len(stored)
    assert generation == collection.generation


def upsert_request(documents: list[dict]) -> index_pb2.UpsertDocumentsRequest:
    return index_pb2.UpsertDocumentsRequest(
        collection="big",
        documents=[types_pb2.Document(id=d["id"], text=d["text"]) for d in documents],
    )
