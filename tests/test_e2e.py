"""The service as a user runs it: `embedsvc serve` in its own process, gRPC over a real socket."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import grpc
import pytest
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from embedsvc import convert
from embedsvc.errors import FailedPrecondition, InvalidArgument
from embedsvc.services.documents import prepare
from embedsvc.types import DocumentInput, PreparedChunk, PreparedDocument
from embedsvc.v1 import embedding_pb2, index_pb2, types_pb2

DOCS = [
    {"id": "guide/cats.md", "text": "Cats sleep most of the day and love to chase mice.",
     "metadata": {"section": "pets", "stars": 4}},
    {"id": "src/app.py", "language": "python",
     "text": 'def connect(url):\n    """Open a database connection."""\n    return db.open(url)\n',
     "metadata": {"section": "code", "stars": 5}},
    {"id": "news/rain.txt", "text": "Heavy rain is expected in Hamburg over the weekend.",
     "metadata": {"section": "news", "stars": 4}},
]


@pytest.mark.slow
def test_full_lifecycle_survives_restart(server_factory, database_url):
    server = server_factory(database_url=database_url).start()
    with server.client() as client:
        assert client.health() == "SERVING"
        created = client.create_collection("kb", profile={"precision": "fp32"})
        assert (created.model, created.dimensions) == ("all-MiniLM-L6-v2", 384)
        assert (created.profile.layers, created.profile.precision) == (6, "fp32")
        results = client.upsert("kb", DOCS)
        assert [r.created for r in results] == [True, True, True]

        hits = client.search("kb", "how do I open a connection to the database", k=3)
        assert hits[0].document_id == "src/app.py"
        assert hits[0].chunk.start_line == 1 and hits[0].chunk.end_line == 3
        assert hits[0].metadata["section"] == "code"

        filtered = client.search("kb", "database connection", k=3, where={"stars": 4})
        assert {h.document_id for h in filtered} == {"guide/cats.md", "news/rain.txt"}
        only_news = client.search("kb", "database", k=3, where={"stars": 4, "section": "news"})
        assert [h.document_id for h in only_news] == ["news/rain.txt"]

        lexical = client.search("kb", "open connection", k=3, mode="lexical",
                                where={"stars": {"gte": 1, "lt": 10}})
        assert [h.document_id for h in lexical][:1] == ["src/app.py"]
        for mode in ("dense", "hybrid"):
            assert client.search("kb", "open a database", k=1, mode=mode)[0].document_id == (
                "src/app.py")

        documents = client.search("kb", "weather forecast", k=2, level="document")
        assert [h.document_id for h in documents][:1] == ["news/rain.txt"]
        assert documents[0].evidence[0].text == documents[0].chunk.text

        deleted = client.delete_documents("kb", ["guide/cats.md", "nope"])
        assert list(deleted.deleted) == ["guide/cats.md"] and list(deleted.not_found) == ["nope"]
        assert deleted.chunks_deleted == 1
        assert "guide/cats.md" not in {h.document_id for h in client.search("kb", "cats", k=3)}

    assert server.stop() == 0
    server.start()
    with server.client() as client:
        collection = client.get_collection("kb")
        assert (collection.document_count, collection.chunk_count) == (2, 2)
        assert client.search("kb", "rain in Hamburg", k=1)[0].document_id == "news/rain.txt"
        document = client.get_document("kb", "src/app.py")
        assert document.document.text == DOCS[1]["text"]
        assert document.document.language == "python"
        chunk = document.chunks[0]
        assert document.document.text[chunk.start_char:chunk.end_char] == chunk.text
        stored = client.document_summaries("kb", page_size=1)
        assert sorted(s.id for s in stored) == ["news/rain.txt", "src/app.py"]
        client.delete_collection("kb")
        assert client.all_collections() == []


@pytest.mark.slow
def test_embed_health_and_reflection(server_factory):
    server = server_factory().start()
    with server.client() as client:
        response = client.embed_full(["a short text", "word " * 400], dimensions=32)
        assert response.vectors.shape == (2, 32) and not response.truncated[0]
        assert response.truncated[1] and response.token_counts[1] == 402
        assert float(response.vectors[0] @ response.vectors[0]) == pytest.approx(1.0, abs=1e-4)
        # The bundled model normalizes itself; unnormalized leading dims keep a partial norm.
        raw = client.embed(["a short text"], normalize=False, dimensions=32)
        assert float((raw**2).sum()) < 0.99

        shallow = client.embed(["a short text"], profile={"layers": 2, "precision": "fp32"})
        full = client.embed(["a short text"], profile={"precision": "fp32"})
        assert shallow.shape == full.shape == (1, 384)
        assert float(shallow[0] @ full[0]) < 0.999

        info = client.info()
        model = info.model
        assert model.default_profile.layers == 6 and model.default_profile.dimensions == 384
        assert (model.name, model.max_tokens, model.dimensions, model.layers) == (
            "all-MiniLM-L6-v2", 256, 384, 6)
        assert info.limits.max_batch_texts > 0

        chunked = client.chunk(
            "class Greeter:\n    def hello(self):\n        return 'hi'\n", path="greet.py"
        )
        assert chunked.language == "python"
        assert chunked.chunks[0].start_line == 1 and chunked.chunks[-1].end_line == 3
        assert "Greeter" in " ".join(c.symbol for c in chunked.chunks)

        stub = reflection_pb2_grpc.ServerReflectionStub(client.channel)
        request = reflection_pb2.ServerReflectionRequest(list_services="")
        services = {
            s.name for r in stub.ServerReflectionInfo(iter([request]))
            for s in r.list_services_response.service
        }
        assert {"embedsvc.v1.EmbeddingService", "embedsvc.v1.IndexService",
                "embedsvc.v1.SearchService", "embedsvc.v1.ChunkingService",
                "grpc.health.v1.Health"} <= services


@pytest.mark.slow
def test_second_writer_on_a_data_dir_is_pointed_to_the_server(server_factory, tmp_path: Path):
    server = server_factory().start()
    second = subprocess.run(
        [str(Path(sys.executable).parent / "embedsvc"), "serve", "--data-dir",
         str(server.data_dir), "--port", "0"],
        capture_output=True, text=True, timeout=120,
    )
    assert second.returncode == 2
    assert "in use by another embedsvc process" in second.stderr and "--server" in second.stderr
    indexer = subprocess.run(
        [str(Path(sys.executable).parent / "indexer"), "collections", "--data-dir",
         str(server.data_dir)],
        capture_output=True, text=True, timeout=120,
    )
    assert indexer.returncode == 2 and "--server" in indexer.stderr
    for maintenance in (["migrate"], ["reindex", "kb"]):  # they need the store to themselves
        refused = subprocess.run(
            [str(Path(sys.executable).parent / "embedsvc"), *maintenance, "--data-dir",
             str(server.data_dir)], capture_output=True, text=True, timeout=120,
        )
        assert refused.returncode == 2 and "stop it first" in refused.stderr
        assert "--server" not in refused.stderr
    with server.client() as client:
        client.create_collection("kb")
    remote = subprocess.run(
        [str(Path(sys.executable).parent / "indexer"), "collections", "--server", server.target,
         "--json"],
        capture_output=True, text=True, timeout=120,
    )
    assert remote.returncode == 0, remote.stderr
    assert '"name": "kb"' in remote.stdout


@pytest.mark.slow
def test_api_key_guards_everything_but_health(server_factory):
    server = server_factory(EMBEDSVC_API_KEY="s3cret").start()
    with server.client() as anonymous:
        assert anonymous.health() == "SERVING"
        with pytest.raises(grpc.RpcError) as error:
            anonymous.info()
        assert error.value.code() == grpc.StatusCode.UNAUTHENTICATED
    with server.client(api_key="wrong") as wrong, pytest.raises(grpc.RpcError) as error:
        wrong.list_collections()
    assert error.value.code() == grpc.StatusCode.UNAUTHENTICATED
    with server.client(api_key="s3cret") as client:
        assert client.info().model.name == "all-MiniLM-L6-v2"
    with server.client() as raw:
        for header, allowed in [(("authorization", "s3cret"), False),
                                (("authorization", "Bearer s3cret"), True),
                                (("x-api-key", "s3cret"), True)]:
            def call(header=header):
                return raw.embedding.Info(embedding_pb2.InfoRequest(), metadata=(header,),
                                          timeout=30)
            if allowed:
                assert call().model == "all-MiniLM-L6-v2"
                continue
            with pytest.raises(grpc.RpcError) as error:
                call()
            assert error.value.code() == grpc.StatusCode.UNAUTHENTICATED


@pytest.mark.slow
def test_sigterm_drains_in_flight_requests_and_saves(server_factory, tmp_path: Path):
    marker = tmp_path / "paused"
    # The second upsert pauses once its vectors are computed, until the test lets it go on.
    server = server_factory(  # a grace no machine reaches: the drain waits for the upsert
        EMBEDSVC_FAULT_PAUSE="upsert.prepared@2", EMBEDSVC_FAULT_FILE=str(marker),
        EMBEDSVC_SHUTDOWN_GRACE="600",
    ).start()
    many = [{"id": f"d{i}", "text": f"Paragraph {i}. " + "Some words to embed here. " * 60}
            for i in range(48)]
    with server.client(timeout=300) as client:
        client.create_collection("kb")
        client.upsert("kb", DOCS)
        in_flight = client.index.UpsertDocuments.future(
            index_pb2.UpsertDocumentsRequest(
                collection="kb",
                documents=[types_pb2.Document(id=d["id"], text=d["text"]) for d in many],
            ),
            timeout=300,
        )
        wait_for(marker.exists, server)
        server.process.send_signal(signal.SIGTERM)
        wait_for(lambda: "shutting down" in server.log.read_text(), server)
        assert not in_flight.done()
        marker.unlink()  # let the paused upsert finish: the drain must wait for it
        assert len(in_flight.result().results) == 48
    assert server.process.wait(120) == 0
    state = next((server.data_dir / "indexes").glob("*/state.json")).read_text()
    assert '"generation": 2' in state


def wait_for(condition, server, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert server.process.poll() is None, server.log.read_text()[-3000:]
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.05)


@pytest.mark.slow
def test_precomputed_vectors_and_named_models_over_grpc(server_factory, encoder,
                                                        small_model_dir: Path):
    server = server_factory(EMBEDSVC_MODELS=json.dumps({"mini": str(small_model_dir)})).start()
    with server.client() as client:
        names = {(m.name, m.is_default) for m in client.info().models}
        assert names == {("all-MiniLM-L6-v2", True), ("mini", False)}
        assert client.info("mini").model.layers == 2
        mini = client.embed(["a sentence"], model="mini")
        assert mini.shape == (1, 384)
        with pytest.raises(InvalidArgument, match="not served"):
            client.embed(["a sentence"], model="nope")

        # A worker prepares (chunks and embeds) with the collection's settings; the server
        # checks and commits.
        info = client.create_collection("kb", max_chunk_tokens=32)
        documents = [DocumentInput(d["id"], d["text"], d.get("language", ""), d["metadata"])
                     for d in DOCS]
        prepared = prepare(info, encoder, documents)
        results = client.upsert_prepared("kb", prepared, info.model_fingerprint)
        assert [r.created for r in results] == [True, True, True]
        hits = client.search("kb", "how do I open a connection to the database", k=1)
        assert hits[0].document_id == "src/app.py" and hits[0].chunk.start_line == 1
        stored = client.get_document("kb", "src/app.py")
        assert stored.content_hash == documents[1].content_hash
        with pytest.raises(FailedPrecondition):
            client.upsert_prepared("kb", prepared, "0" * 32)
        narrow = [PreparedDocument(p.document, [PreparedChunk(c.chunk, c.vector[:100])
                                                for c in p.chunks], p.vector) for p in prepared]
        with pytest.raises(InvalidArgument, match="384 dimensions"):
            client.upsert_prepared("kb", narrow, info.model_fingerprint)
        both = index_pb2.UpsertDocumentsRequest(
            collection="kb", documents=[types_pb2.Document(id="x", text="x")],
            prepared=[convert.prepared_out(prepared[0])], model_fingerprint=info.model_fingerprint,
        )
        with pytest.raises(grpc.RpcError) as error:
            client.index.UpsertDocuments(both)
        assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
