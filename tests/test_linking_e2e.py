"""Entity linking as users run it: LinkEntities over gRPC, and `embedsvc link` (remote and
embedded) with --json and --queries."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import grpc
import pytest

from embedsvc.config import Settings
from embedsvc.core import Core
from embedsvc.errors import InvalidArgument, NotFound
from embedsvc.linking.concepts import Mention
from embedsvc.v1 import linking_pb2
from tests.test_linking import CSV, JSONL, OBO

EMBEDSVC = str(Path(sys.executable).parent / "embedsvc")


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([EMBEDSVC, *args], capture_output=True, text=True, timeout=300,
                          env=os.environ.copy())


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    from tests.conftest import ServerProcess

    server = ServerProcess(tmp_path_factory.mktemp("linking-e2e") / "data").start()
    yield server
    server.stop()


@pytest.mark.slow
def test_each_format_over_grpc(server):
    with server.client() as client:
        for kb, content, source_format in (("j", JSONL, "jsonl"), ("o", OBO, "obo"),
                                           ("c", CSV, "")):
            info = client.load_knowledge_base(kb, content, source_format,
                                              filename=f"terms.{source_format or 'csv'}")
            assert info.version >= 1 and info.concepts > 0
        assert {"j", "o", "c"} <= {kb.name for kb in client.knowledge_bases()}
        context = "Seen for heart failure (HF) and a myocardial infarct."
        start = context.index("myocardial infarct")
        results = client.link_entities("j", [
            "heart atack", Mention("HF", context),
            Mention(context=context, start=start, end=start + len("myocardial infarct")),
        ], k=2)
        assert [r.candidates[0].concept_id for r in results] == ["C1", "C2", "C1"]
        assert results[1].expansion == "heart failure"
        assert results[2].mention == "myocardial infarct"
        assert client.link_entities("o", ["cardiac abnormality"], k=1)[0].candidates[0] \
            .concept_id == "T:1"
        assert client.link_entities("c", ["Deutschland"], k=1)[0].candidates[0].concept_id \
            == "D1"
        [nil] = client.link_entities("c", ["zzzz qqqq"], k=1, threshold=0.95)
        assert nil.nil


@pytest.mark.slow
def test_bad_input_over_grpc_gets_its_status(server):
    with server.client() as client:
        client.load_knowledge_base("bad", CSV, "csv")
        with pytest.raises(InvalidArgument, match="line 3") as refused:
            client.load_knowledge_base("bad", "concept_id,name\nA,alpha\nB,\n", "csv")
        assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert refused.value.field == "content:3"
        with pytest.raises(NotFound):
            client.link_entities("missing", ["x"])
        with pytest.raises(InvalidArgument, match="mentions is empty"):
            client.link_entities("bad", [])
        with pytest.raises(InvalidArgument, match="span"):
            client.link_entities("bad", [Mention(context="ab", start=1, end=5)])
        # The raw stub, as any gRPC client sends it.
        raw = client.linking.LinkEntities
        with pytest.raises(grpc.RpcError) as error:
            raw(linking_pb2.LinkEntitiesRequest(kb="bad", mentions=[
                linking_pb2.Mention(text="x" * 5000)
            ]), timeout=30)
        assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert client.health() == "SERVING"


@pytest.mark.slow
def test_cli_against_a_server_and_embedded(server, tmp_path: Path, encoder):
    terms = tmp_path / "terms.jsonl"
    terms.write_text(JSONL)
    loaded = run("link", "load", str(terms), "--kb", "cli", "--server", server.target, "--json")
    assert loaded.returncode == 0, loaded.stderr
    assert json.loads(loaded.stdout)["concepts"] == 4
    queries = tmp_path / "queries.txt"
    queries.write_text('heart atack\n\n{"mention": "HF", "context": "heart failure (HF)"}\n'
                       "diabetes\n")
    linked = run("link", "mentions", "--kb", "cli", "--queries", str(queries), "--k", "2",
                 "--json", "--server", server.target)
    assert linked.returncode == 0, linked.stderr
    lines = [json.loads(line) for line in linked.stdout.splitlines()]
    assert [line["mention"] for line in lines] == ["heart atack", "", "HF", "diabetes"]
    assert [line["candidates"][0]["concept_id"] if line["candidates"] else None
            for line in lines] == ["C1", None, "C2", "C3"]
    assert set(lines[0]["candidates"][0]) == {"concept_id", "name", "score", "sources"}
    assert lines[1]["nil"] and not lines[0]["nil"]

    bad = tmp_path / "bad.jsonl"
    bad.write_text(JSONL + "{oops\n")
    refused = run("link", "load", str(bad), "--kb", "cli", "--server", server.target)
    assert refused.returncode == 2 and "line 6" in refused.stderr

    data = tmp_path / "embedded"
    core = Core(Settings(data_dir=data), encoder)  # loaded in process: one CLI start fewer
    core.load_knowledge_base("med", JSONL, "jsonl")
    core.close()
    one = run("link", "mentions", "cardiac failure", "--kb", "med", "--k", "1",
              "--data-dir", str(data), "--json")
    assert one.returncode == 0, one.stderr
    assert json.loads(one.stdout)["candidates"][0]["concept_id"] == "C2"


@pytest.mark.slow
def test_a_crash_during_a_load_leaves_the_previous_version_serving(server_factory, tmp_path):
    marker = tmp_path / "paused"
    data = tmp_path / "crash"
    # The second upsert is the first (and only) alias batch of the second load.
    crashing = server_factory(data, EMBEDSVC_FAULT_PAUSE="upsert.committed@2",
                              EMBEDSVC_FAULT_FILE=str(marker)).start()
    with crashing.client() as client:
        client.load_knowledge_base("kb", CSV, "csv")
    def load_again() -> None:
        with contextlib.suppress(grpc.RpcError), crashing.client() as client:
            client.load_knowledge_base("kb", CSV.replace("D1,", "G1,"), "csv")

    loading = threading.Thread(target=load_again)
    loading.start()
    deadline = time.monotonic() + 120
    while not marker.exists():
        assert time.monotonic() < deadline, "the load never reached its alias upsert"
        time.sleep(0.05)
    crashing.stop(signal.SIGKILL)
    loading.join()
    marker.unlink()

    restarted = server_factory(data).start()
    with restarted.client() as client:
        [kb] = client.knowledge_bases()
        assert kb.version == 1
        [linked] = client.link_entities("kb", ["Deutschland"], k=1)
        assert (linked.kb_version, linked.candidates[0].concept_id) == (1, "D1")
        # The next load clears what the crashed one left (version 2 never served) and serves.
        assert client.load_knowledge_base("kb", CSV.replace("D1,", "G1,"), "csv").version == 2
        for kept in ("kb.kb.v1", "kb.kb.v2"):
            assert client.get_collection(kept).chunk_count > 0
        [linked] = client.link_entities("kb", ["Deutschland"], k=1)
        assert (linked.kb_version, linked.candidates[0].concept_id) == (2, "G1")
    assert sorted(p.name for p in (data / "linking" / "kb").glob("v*")) == ["v1", "v2"]
