"""Milvus across processes. Two `embedsvc serve` on one PostgreSQL schema and one Milvus: what
one writes the other finds, same-id upserts racing through both end in one consistent version,
and a server SIGKILLed between its SQL commit and its Milvus write is repaired by the next
write through the other one. One server with Milvus Lite in its data dir, SIGKILLed there, is
repaired when the store opens again."""

from __future__ import annotations

import signal
import threading
import uuid
import zlib
from concurrent.futures import ThreadPoolExecutor

import grpc
import numpy as np
import pytest

from embedsvc.config import Settings
from embedsvc.core import Core
from embedsvc.storage.milvus_index import MilvusVectorIndex
from embedsvc.storage.sql.repository import SqlRepository
from embedsvc.types import DocumentInput
from tests.conftest import postgres_schema
from tests.test_crash import document, wait_paused

ROUNDS = 3
SHARED = "Shared opening sentence that both versions keep. It stays the same chunk."


def version_text(name: str) -> str:
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    words = " ".join(rng.choice(["river", "quartz", "ember", "orbit", "canyon", "pixel"], 24))
    return f"{SHARED}\n\nVersion {name} says {words}. It ends with {name}."


def assert_milvus_matches_sql(settings: Settings) -> None:
    repository = SqlRepository(settings.resolved_database_url())
    index = MilvusVectorIndex(settings, repository)
    try:
        info = repository.get_collection("shared")
        assert set(index.ids(info).tolist()) == set(repository.ids(info, "chunk").tolist())
        held = {int(row["id"]): row["content_hash"] for row in
                index._rows(index._name(info, "document"), ["id", "content_hash"])}
        sql = {row_id: summary.content_hash
               for row_id, summary in repository.list_documents(info, 0, 1000)}
        assert held == sql
        assert index._applied(info) == repository.generation(info.id)
    finally:
        index.close()
        repository.close()


@pytest.mark.slow
@pytest.mark.postgres
def test_two_servers_share_one_postgresql_and_milvus(
    server_factory, postgres_url, milvus_uri, tmp_path
):
    with postgres_schema(postgres_url) as url:
        prefix = f"s{uuid.uuid4().hex[:12]}"
        env = {"EMBEDSVC_VECTOR_BACKEND": "milvus", "EMBEDSVC_MILVUS_URI": milvus_uri,
               "EMBEDSVC_MILVUS_PREFIX": prefix}
        settings = Settings(data_dir=tmp_path / "data", database_url=url,
                            vector_backend="milvus", milvus_uri=milvus_uri, milvus_prefix=prefix)
        marker = tmp_path / "paused"
        # A pauses in its last upsert, after the SQL commit (its visits: 1 + ROUNDS + 1).
        first = server_factory(tmp_path / "data", url, **env,
                               EMBEDSVC_FAULT_PAUSE=f"upsert.committed@{ROUNDS + 2}",
                               EMBEDSVC_FAULT_FILE=str(marker))
        # The same data dir and schema: a shared store takes neither one-writer lock.
        second = server_factory(tmp_path / "data", url, **env)
        with ThreadPoolExecutor(2) as pool:  # both load their model at once
            list(pool.map(lambda server: server.start(), (first, second)))
        a, b = first.client(timeout=120), second.client(timeout=120)
        try:
            a.create_collection("shared", max_chunk_tokens=32)
            a.upsert("shared", [{"id": "x", "text": "Lanterns glow over the quiet harbor."}])
            assert b.search("shared", "lantern light by the harbor", k=1)[0].document_id == "x"

            start = threading.Barrier(2)

            def race(client, name):
                start.wait()
                client.upsert("shared", [{"id": "same", "text": version_text(name),
                                          "metadata": {"version": name}}])

            with ThreadPoolExecutor(2) as pool:
                for round_ in range(ROUNDS):
                    list(pool.map(race, (a, b), (f"a{round_}", f"b{round_}")))
            stored = a.get_document("shared", "same").document
            assert b.get_document("shared", "same").document == stored
            winner = stored.metadata["version"]
            last = ROUNDS - 1
            assert winner in (f"a{last}", f"b{last}")
            loser = f"b{last}" if winner.startswith("a") else f"a{last}"
            for client in (a, b):
                hits = client.search("shared", stored.text, k=10, where={"version": winner})
                assert {hit.document_id for hit in hits} == {"same"}
                assert {hit.chunk.text for hit in hits} <= {c.text for c in
                                                            a.get_document("shared", "same").chunks}
                assert client.search("shared", stored.text, k=10,
                                     where={"version": loser}) == []
            assert_milvus_matches_sql(settings)

            with ThreadPoolExecutor(1) as pool:
                lost = pool.submit(a.upsert, "shared", [{"id": "lost", "text": (
                    "Glaciers carve deep valleys over many thousand years.")}])
                wait_paused(first, marker)
                first.stop(signal.SIGKILL)
                with pytest.raises(grpc.RpcError):
                    lost.result()
            # Committed in SQL, never written to Milvus: the next write through B repairs it.
            b.upsert("shared", [{"id": "after", "text": "Meadows bloom after the rain."}])
            hits = b.search("shared", "glaciers carving valleys", k=1)
            assert hits[0].document_id == "lost"
            assert_milvus_matches_sql(settings)
        finally:
            a.close()
            b.close()
            second.stop()


@pytest.mark.slow
def test_sigkill_after_the_sql_commit_is_repaired_on_start_with_milvus_lite_in_the_data_dir(
    server_factory, tmp_path, encoder
):
    data = tmp_path / "data"
    settings = Settings(data_dir=data, vector_backend="milvus")  # SQLite and Milvus Lite
    setup = Core(settings, encoder)
    setup.create_collection("big", max_chunk_tokens=48)
    setup.upsert("big", [DocumentInput(**document(i)) for i in range(8)])
    setup.close()  # lets go of the Milvus Lite directory for the server

    marker = tmp_path / "paused"
    faulty = server_factory(data, EMBEDSVC_VECTOR_BACKEND="milvus",
                            EMBEDSVC_FAULT_PAUSE="upsert.committed",
                            EMBEDSVC_FAULT_FILE=str(marker)).start()
    with faulty.client(timeout=300) as client, ThreadPoolExecutor(1) as pool:
        in_flight = pool.submit(client.upsert, "big", [document(100 + i) for i in range(16)])
        wait_paused(faulty, marker)
        faulty.stop(signal.SIGKILL)
        with pytest.raises(grpc.RpcError):
            in_flight.result()

    restarted = Core(settings, encoder)  # opening the store repairs Milvus from SQL
    try:
        info = restarted.get_collection("big")
        assert info.document_count == 24
        vectors, repository = restarted.storage.vectors, restarted.storage.repository
        assert set(vectors.ids(info).tolist()) == set(repository.ids(info, "chunk").tolist())
        assert vectors.count(info, "document") == 24
        sample = restarted.get_document("big", "doc-0107").chunks[1]
        top = restarted.search("big", sample.text, k=1)[0]
        assert (top.document_id, top.chunk.id) == ("doc-0107", sample.id)
    finally:
        restarted.close()
