"""`indexer index --ray`: prepare on Ray encoder actors, commit through the store or a server.

One local Ray instance, started by the product's own local start in this process, serves the
module; every run under test is a CLI process that connects to it by address, as a driver on a
cluster's head would."""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

from embedsvc.config import Settings
from embedsvc.core import Core
from indexer.backends import open_backend
from indexer.cli import ray_flag
from tests.conftest import postgres_schema
from tests.test_indexer import (
    INDEXER,
    SHAPES,
    make_repo,
    run_indexer,
    small_email_repo,
    wait_for_marker,
)

if importlib.util.find_spec("ray") is None:  # not imported: the local start configures it first
    pytest.skip("Ray is not installed (the embedsvc[ray] extra)", allow_module_level=True)
pytestmark = pytest.mark.slow

QUERIES = ["area of a circle", "json decoding errors", "geometry library", "vertex count"]


@pytest.fixture(scope="module")
def ray_address() -> Iterator[str]:
    from indexer.ray_cluster import ray_session

    with ray_session("local", cpus=4) as ray:
        yield ray.get_runtime_context().gcs_address  # what another driver connects to


def index(repo: Path, *where: str) -> dict:
    result = run_indexer("index", str(repo), "-c", "code", "--json", *where)
    summary = json.loads(result.stdout)  # stdout holds the JSON summary and nothing else
    assert result.returncode == (1 if summary["files"]["failed"] else 0), result.stderr
    return summary


def stored_chunks(data: Path) -> dict[tuple[str, int], tuple[str, int, int, np.ndarray]]:
    """(document id, ordinal) -> (text, start, end, vector) of every chunk in a data dir."""
    core = open_backend(data, None)
    try:
        info = core.get_collection("code")
        vectors = {int(i): v for ids, block in core.storage.repository.vectors(info, "chunk")
                   for i, v in zip(ids, block, strict=True)}
        chunks = {}
        for summary in core.document_summaries("code"):
            for chunk in core.get_document("code", summary.id).chunks:
                chunks[summary.id, chunk.ordinal] = (
                    chunk.text, chunk.start_char, chunk.end_char, vectors[chunk.id])
        assert len(core.storage.vectors.ids(info, "chunk")) == info.chunk_count
        assert len(core.storage.vectors.ids(info, "document")) == info.document_count
        return chunks
    finally:
        core.close()


def answers(backend, mode: str = "") -> list[list[tuple[str, int, float]]]:
    return [[(hit.document_id, hit.chunk.start_char, hit.score)
             for hit in backend.search("code", query, 5, mode=mode)] for query in QUERIES]


@contextmanager
def store(data: Path, encoder) -> Iterator[Core]:
    """The data dir's core, with the test run's loaded model for the queries."""
    core = Core(Settings(data_dir=data), encoder)
    try:
        yield core
    finally:
        core.close()


def assert_same_answers(mine: list, theirs: list) -> None:
    for hits, others in zip(mine, theirs, strict=True):
        assert [h[:2] for h in hits] == [h[:2] for h in others]
        assert [h[2] for h in hits] == pytest.approx([h[2] for h in others], abs=2e-3)


def assert_same_chunks(plain: dict, ray: dict) -> None:
    assert plain.keys() == ray.keys()
    for key, (text, start, end, vector) in plain.items():
        assert ray[key][:3] == (text, start, end)
        assert float(vector @ ray[key][3]) > 0.999, key


def test_a_local_instance_listens_on_loopback_only(ray_address: str):
    assert ray_address.startswith("127.0.0.1:")
    listening = listening_addresses(descendants(os.getpid()) | {os.getpid()})
    assert int(ray_address.rsplit(":", 1)[1]) in {port for _, port in listening}
    assert {host for host, _ in listening} <= {"127.0.0.1", "::ffff:127.0.0.1"}


def test_a_ray_run_equals_a_plain_run_and_stays_incremental(
    tmp_path: Path, ray_address: str, server_factory, postgres_url: str, encoder
):
    repo = make_repo(tmp_path / "repo")
    plain_dir, ray_dir = tmp_path / "plain", tmp_path / "ray"
    ray = ["--ray", ray_address, "--ray-actors", "2"]
    plain = index(repo, "--data-dir", str(plain_dir))
    first = index(repo, "--data-dir", str(ray_dir), *ray)
    assert {k: first[k] for k in ("files", "chunks", "tokens", "problems")} == {
        k: plain[k] for k in ("files", "chunks", "tokens", "problems")}
    assert first["files"]["failed"] == 1, "notes.txt is not UTF-8, in both runs"
    assert first["workers"]["actors"] == 2
    assert sum(a["chunks_embedded"] for a in first["workers"]["per_actor"]) == (
        first["chunks"]["embedded"])
    assert_same_chunks(stored_chunks(plain_dir), stored_chunks(ray_dir))
    with store(plain_dir, encoder) as plain_core, store(ray_dir, encoder) as ray_core:
        assert_same_answers(answers(ray_core), answers(plain_core))

    # One function edited, one file gone: only the edited chunk is embedded, the others keep
    # their stored vectors, and the file's document is pruned, as in a plain run.
    (repo / "src" / "shapes.py").write_text(SHAPES.replace("return 4 * side", "return side * 4"))
    (repo / "README.md").unlink()
    plain_edit = index(repo, "--data-dir", str(plain_dir))
    ray_edit = index(repo, "--data-dir", str(ray_dir), *ray)
    for key in ("files", "chunks", "tokens", "pruned"):
        assert ray_edit[key] == plain_edit[key], key
    assert 1 <= ray_edit["chunks"]["embedded"] <= 2 and ray_edit["chunks"]["reused"] >= 2
    assert ray_edit["pruned"] == ["README.md"]
    assert_same_chunks(stored_chunks(plain_dir), stored_chunks(ray_dir))

    unchanged = index(repo, "--data-dir", str(ray_dir), *ray)
    assert unchanged["chunks"] == {"embedded": 0, "reused": 0, "deleted": 0}
    assert unchanged["files"]["unchanged"] == 3 and "workers" not in unchanged, (
        "nothing to embed: Ray is not even started")

    # Through a server on PostgreSQL: the same outcome as the plain run on the data dir.
    with postgres_schema(postgres_url) as url:
        server = server_factory(tmp_path / "served", url).start()
        served = index(repo, "--server", server.target, *ray)
        assert (served["files"]["new"], served["files"]["failed"]) == (3, 1)
        assert served["chunks"] == {"embedded": len(stored_chunks(plain_dir)), "reused": 0,
                                    "deleted": 0}
        # Dense only: the lexical scores of PostgreSQL and SQLite differ by design.
        with server.client() as client, store(plain_dir, encoder) as plain_core:
            assert_same_answers(answers(client, "dense"), answers(plain_core, "dense"))


def test_a_killed_ray_run_resumes_to_a_consistent_store(tmp_path: Path, ray_address: str):
    repo, data, marker = tmp_path / "repo", tmp_path / "data", tmp_path / "paused"
    files = small_email_repo(repo)
    process = subprocess.Popen(  # paused after its first commit reached SQL, not the index
        [INDEXER, "index", str(repo), "-c", "code", "--data-dir", str(data), "--json",
         "--ray", ray_address, "--ray-actors", "1"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        env={**os.environ, "EMBEDSVC_FAULT_PAUSE": "upsert.committed@1",
             "EMBEDSVC_FAULT_FILE": str(marker)},
    )
    try:
        wait_for_marker(marker, process)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()

    resumed = index(repo, "--data-dir", str(data), "--ray", ray_address, "--ray-actors", "1")
    assert resumed["files"]["unchanged"] == 8, "the batch committed before the kill is kept"
    assert resumed["files"]["new"] == len(files) - 8
    chunks = stored_chunks(data)  # also checks the vector index holds every stored chunk
    assert {doc_id for doc_id, _ in chunks} == {path.name for path in files}
    again = index(repo, "--data-dir", str(data), "--ray", ray_address)
    assert again["files"]["unchanged"] == len(files) and again["chunks"]["embedded"] == 0


def test_an_actor_reports_a_model_mismatch_once_and_a_bad_file_alone(make_core, encoder):
    from embedsvc import convert
    from embedsvc.types import DocumentInput
    from embedsvc.v1 import index_pb2
    from indexer.ray_job import EncoderActor

    info = make_core().create_collection("code")
    good, bad = DocumentInput("a.py", SHAPES, "python"), DocumentInput("b.py", "x\x00y")
    unit = {"index": np.array([[0, 1]]), "stored": np.array([[[], []]], dtype=object),
            "document": np.array([[convert.document_out(d).SerializeToString()
                                   for d in (good, bad)]], dtype=object)}
    rows = EncoderActor(info)(unit)
    assert list(rows["index"]) == [0, 1] and not rows["fatal"].any()
    assert "NUL" in rows["error"][1] and rows["prepared"][1] == b""
    sent = convert.prepared_in(index_pb2.PreparedDocument.FromString(rows["prepared"][0]))
    assert rows["embedded"][0] == len(sent.chunks) > 1

    other = EncoderActor(dataclasses.replace(info, model_fingerprint="f" * 32))(unit)
    assert other["fatal"].all() and "fingerprint" in other["error"][0]
    assert other["error"][0] == other["error"][1]


def test_without_ray_the_flag_says_what_to_install(tmp_path: Path):
    (tmp_path / "a.py").write_text("x = 1\n")
    hidden = ("import sys; sys.modules['ray'] = None; sys.argv[0] = 'indexer'; "
              "from indexer.cli import main; main()")
    result = subprocess.run(
        [sys.executable, "-c", hidden, "index", str(tmp_path / "a.py"), "-c", "code",
         "--data-dir", str(tmp_path / "data"), "--ray", "--json"],
        capture_output=True, text=True, timeout=600, env={**os.environ, "COLUMNS": "400"},
    )
    assert result.returncode == 2 and result.stdout == ""
    assert "pip install 'embedsvc[ray]'" in result.stderr


def test_ray_without_a_value_means_a_local_instance():
    assert ray_flag(["index", "src", "--ray"]) == ["index", "src", "--ray", "local"]
    assert ray_flag(["index", "--ray", "--json", "src"]) == [
        "index", "--ray", "local", "--json", "src"]
    assert ray_flag(["index", "src", "--ray", "10.0.0.5:6379"]) == [
        "index", "src", "--ray", "10.0.0.5:6379"]


def descendants(pid: int) -> set[int]:
    children: dict[int, set[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, set()).add(int(entry.name))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), ()):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def listening_addresses(pids: set[int]) -> set[tuple[str, int]]:
    """(host, port) of every listening TCP socket these processes hold."""
    inodes = set()
    for pid in pids:
        try:
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                target = os.readlink(fd)
                if target.startswith("socket:["):
                    inodes.add(target[8:-1])
        except OSError:
            continue
    found = set()
    for table in ("tcp", "tcp6"):
        for line in Path(f"/proc/net/{table}").read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A" and fields[9] in inodes:  # 0A: LISTEN
                host, port = fields[1].split(":")
                found.add((_host(host), int(port, 16)))
    return found


def _host(hexed: str) -> str:
    import ipaddress

    raw = bytes.fromhex(hexed)
    # /proc/net writes each 32-bit word in host (little-endian) order.
    words = b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))
    address = ipaddress.ip_address(words)
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return f"::ffff:{address.ipv4_mapped}"
    return str(address)
