"""The `indexer` CLI as a platform team runs it: incremental, resumable, embedded or remote."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

import pytest

from indexer.backends import open_backend
from indexer.job import IndexOptions, run_index

INDEXER = str(Path(sys.executable).parent / "indexer")
STDLIB = Path(sysconfig.get_paths()["stdlib"])

SHAPES = '''"""Geometry helpers."""


def area_of_circle(radius):
    """Area of a circle."""
    return 3.14159 * radius * radius


def perimeter_of_square(side):
    return 4 * side


class Polygon:
    def __init__(self, points):
        self.points = points

    def vertex_count(self):
        return len(self.points)
'''


def run_indexer(*args: str, timeout: float = 600, cwd: Path | None = None
                ) -> subprocess.CompletedProcess:
    return subprocess.run([INDEXER, *args], capture_output=True, text=True, timeout=timeout,
                          cwd=cwd, env={**os.environ, "COLUMNS": "400"})  # one-line errors


def make_repo(root: Path) -> Path:
    (root / "src").mkdir(parents=True)
    (root / "build").mkdir()
    (root / ".gitignore").write_text("build/\n*.log\n")
    (root / "src" / "shapes.py").write_text(SHAPES)
    shutil.copy(STDLIB / "json" / "decoder.py", root / "src" / "decoder.py")
    (root / "README.md").write_text("# Shapes\n\nA tiny geometry library. It measures things.\n")
    (root / "build" / "generated.py").write_text("print('ignored')\n")
    (root / "debug.log").write_text("ignored\n")
    (root / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00binary")
    (root / "notes.txt").write_bytes(b"caf\xe9 latin-1 text\n")
    return root


def index_json(repo: Path, data: Path, *extra: str) -> dict:
    result = run_indexer("index", str(repo), "--collection", "code", "--data-dir", str(data),
                         "--json", *extra)
    summary = json.loads(result.stdout)  # stdout holds the JSON summary and nothing else
    # Exit 1 says some files failed (the others are indexed).
    assert result.returncode == (1 if summary["files"]["failed"] else 0), result.stderr
    return summary


@pytest.mark.slow
def test_incremental_runs_add_change_delete(tmp_path: Path):
    repo, data = make_repo(tmp_path / "repo"), tmp_path / "data"
    first = index_json(repo, data)
    # .gitignore, README.md and the two sources; build/ and *.log are ignored.
    assert first["files"] == {"seen": 5, "new": 4, "changed": 0, "unchanged": 0, "deleted": 0,
                              "failed": 1, "skipped": 1}
    assert first["chunks"]["embedded"] > 5 and first["chunks"]["reused"] == 0
    problems = {p["path"]: p for p in first["problems"]}
    assert problems["logo.png"]["skipped"] == "binary"
    assert "UTF-8" in problems["notes.txt"]["error"]
    assert "build/generated.py" not in problems

    (repo / "src" / "shapes.py").write_text(SHAPES.replace("return 4 * side", "return side * 4"))
    (repo / "README.md").unlink()
    second = index_json(repo, data)
    assert second["files"]["changed"] == 1 and second["files"]["unchanged"] == 2
    assert second["files"]["deleted"] == 1 and second["files"]["new"] == 0
    assert 1 <= second["chunks"]["embedded"] <= 2, "only the edited function is re-embedded"
    assert second["chunks"]["reused"] >= 2

    hits = run_indexer("search", "--collection", "code", "--data-dir", str(data), "--k", "3",
                       "--filter", "language=python", "--json", "perimeter of a square")
    assert hits.returncode == 0, hits.stderr
    answer = json.loads(hits.stdout)
    top = answer["hits"][0]
    assert (top["document_id"], top["metadata"]["ext"]) == ("src/shapes.py", "py")
    assert top["start_line"] <= 10 <= top["end_line"]
    assert set(top) >= {"document_id", "score", "start_line", "end_line", "start_char",
                        "end_char", "symbol", "text", "metadata"}

    stats = json.loads(run_indexer("stats", "-c", "code", "--data-dir", str(data), "--json")
                       .stdout)
    assert stats["documents"] == 3  # .gitignore, decoder.py, shapes.py


def test_a_run_with_nothing_to_embed_never_loads_the_model(tmp_path: Path):
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "a.py").write_text("def one():\n    return 1\n")
    backend = open_backend(tmp_path / "data", None)
    try:
        run_index(backend, [repo], "code", IndexOptions())
    finally:
        backend.close()
    backend = open_backend(tmp_path / "data", None)
    try:
        summary = run_index(backend, [repo], "code", IndexOptions())
        assert summary.unchanged == 1 and summary.embedded == 0
        assert not backend.models.get().loaded
    finally:
        backend.close()


def small_email_repo(root: Path) -> list[Path]:
    """The ten smallest email modules: two indexer batches (of 8 documents), quick to embed."""
    root.mkdir()
    for source in sorted((STDLIB / "email").glob("*.py"), key=lambda p: p.stat().st_size)[:10]:
        shutil.copy(source, root / source.name)
    return sorted(root.glob("*.py"))


def wait_for_marker(marker: Path, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 600  # reached only when the run is broken
    while not marker.exists():
        assert process.poll() is None, "the run ended before it reached its fault point"
        assert time.monotonic() < deadline, "the run never reached its fault point"
        time.sleep(0.05)


@pytest.mark.slow
def test_killed_run_resumes_without_duplicates(tmp_path: Path):
    repo, data, marker = tmp_path / "repo", tmp_path / "data", tmp_path / "paused"
    files = small_email_repo(repo)
    process = subprocess.Popen(  # paused while its second batch is embedded, then killed there
        [INDEXER, "index", str(repo), "-c", "code", "--data-dir", str(data), "--json"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        env={**os.environ, "EMBEDSVC_FAULT_PAUSE": "upsert.prepared@2",
             "EMBEDSVC_FAULT_FILE": str(marker)},
    )
    try:
        wait_for_marker(marker, process)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()

    resumed = index_json(repo, data)
    assert resumed["files"]["seen"] == len(files)
    assert resumed["files"]["unchanged"] == 8, "the batch committed before the kill is kept"
    assert resumed["files"]["new"] == len(files) - 8

    backend = open_backend(data, None)
    try:
        stored = [summary.id for summary in backend.document_summaries("code")]
        assert sorted(stored) == sorted(p.relative_to(repo).as_posix() for p in files)
        info = backend.get_collection("code")
        assert len(backend.storage.vectors.ids(info, "chunk")) == info.chunk_count
        assert len(backend.storage.vectors.ids(info, "document")) == info.document_count
        assert info.document_count == len(files)
    finally:
        backend.close()


@pytest.mark.slow
def test_embedded_and_remote_give_the_same_results(tmp_path: Path, server_factory):
    repo = make_repo(tmp_path / "repo")
    embedded = index_json(repo, tmp_path / "embedded")
    server = server_factory(tmp_path / "served").start()
    remote = run_indexer("index", str(repo), "-c", "code", "--server", server.target, "--json")
    assert remote.returncode == 1, remote.stderr  # notes.txt is not UTF-8, as embedded
    remote_summary = json.loads(remote.stdout)
    assert remote_summary["files"] == embedded["files"]
    assert remote_summary["chunks"] == embedded["chunks"]

    queries = tmp_path / "queries.txt"
    queries.write_text("area of a circle\njson decoding errors\n\ngeometry library\n")
    outputs = []
    for mode in (["--data-dir", str(tmp_path / "embedded")], ["--server", server.target]):
        result = run_indexer("search", "--queries", str(queries), "-c", "code", "--k", "3",
                             "--level", "document", "--json", *mode)
        assert result.returncode == 0, result.stderr
        outputs.append([json.loads(line) for line in result.stdout.splitlines()])
    embedded_answers, remote_answers = outputs
    assert [a["query"] for a in embedded_answers] == [
        "area of a circle", "json decoding errors", "geometry library"]
    for mine, theirs in zip(embedded_answers, remote_answers, strict=True):
        ids = [h["document_id"] for h in mine["hits"]]
        assert ids == [h["document_id"] for h in theirs["hits"]]
        assert [h["start_line"] for h in mine["hits"]] == [h["start_line"] for h in theirs["hits"]]
        for a, b in zip(mine["hits"], theirs["hits"], strict=True):
            assert a["score"] == pytest.approx(b["score"], abs=1e-4)


def test_errors_are_clear(tmp_path: Path):
    (tmp_path / "d").mkdir()
    missing = run_indexer("stats", "-c", "nope", "--data-dir", str(tmp_path / "d"))
    assert missing.returncode == 2 and "does not exist" in missing.stderr
    unreachable = run_indexer("collections", "--server", "127.0.0.1:9", "--json")
    assert unreachable.returncode == 2 and "UNAVAILABLE" in unreachable.stderr
    assert unreachable.stdout == ""
    assert os.path.exists(tmp_path / "d" / "LOCK")
    (tmp_path / "env-dir").mkdir()
    from_env = subprocess.run(
        [INDEXER, "stats", "-c", "nope"], capture_output=True, text=True, timeout=600,
        cwd=tmp_path, env={**os.environ, "EMBEDSVC_DATA_DIR": str(tmp_path / "env-dir")},
    )
    assert from_env.returncode == 2 and "does not exist" in from_env.stderr
    assert (tmp_path / "env-dir" / "LOCK").exists() and not (tmp_path / "data").exists()


def test_ids_stay_stable_and_only_indexed_roots_are_pruned(tmp_path: Path):
    """Indexing `a` after `a b` keeps b's documents and a's ids; a gone file is named."""
    tree, data = tmp_path / "tree", tmp_path / "data"
    for folder in ("a", "b"):
        (tree / folder).mkdir(parents=True)
        for name in ("one", "two"):
            (tree / folder / f"{name}.py").write_text(f"def {name}_{folder}():\n    return 1\n")

    def index(*roots: str) -> dict:
        result = run_indexer("index", *roots, "-c", "code", "--data-dir", str(data), "--json",
                             cwd=tree)
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)

    assert index("a", "b")["files"]["new"] == 4
    again = index("a")
    assert (again["files"]["unchanged"], again["files"]["new"], again["files"]["deleted"]) == (
        2, 0, 0)
    (tree / "a" / "two.py").unlink()
    pruned = index("a")
    assert pruned["files"]["deleted"] == 1 and pruned["pruned"] == ["a/two.py"]
    listed = run_indexer("stats", "-c", "code", "--data-dir", str(data), "--json")
    assert json.loads(listed.stdout)["documents"] == 3
    hits = run_indexer("search", "one b", "-c", "code", "--data-dir", str(data), "--json",
                       "--k", "3")
    assert {h["document_id"] for h in json.loads(hits.stdout)["hits"]} >= {"b/one.py"}
    lexical = run_indexer("search", "one", "-c", "code", "--data-dir", str(data), "--json",
                          "--mode", "lexical", "--where", '{"path": {"prefix": "b/"}}')
    assert [h["document_id"] for h in json.loads(lexical.stdout)["hits"]] == ["b/one.py"]
    assert run_indexer("search", "x", "-c", "code", "--data-dir", str(data),
                       "--mode", "fuzzy").returncode == 2
    assert run_indexer("search", "x", "-c", "code", "--data-dir", str(data),
                       "--k", "-5").returncode == 2
    outside = run_indexer("index", "a", "-c", "code", "--data-dir", str(data),
                          "--base", str(tree / "b"), cwd=tree)
    assert outside.returncode == 2 and "not inside" in outside.stderr


def test_read_only_commands_never_create_a_data_dir(tmp_path: Path):
    result = run_indexer("collections", "--data-dir", str(tmp_path / "nowhere"))
    assert result.returncode == 2 and "no data dir" in result.stderr
    assert not (tmp_path / "nowhere").exists()


@pytest.mark.slow
def test_a_remote_run_survives_a_server_restart(tmp_path: Path, server_factory):
    """The server dies in the middle of a run; the indexer retries until it is back and the
    run ends complete, with no duplicates."""
    repo, marker = tmp_path / "repo", tmp_path / "paused"
    files = small_email_repo(repo)
    first = server_factory(tmp_path / "served", EMBEDSVC_FAULT_PAUSE="upsert.prepared@2",
                           EMBEDSVC_FAULT_FILE=str(marker)).start()
    run = subprocess.Popen(
        [INDEXER, "index", str(repo), "-c", "code", "--server", first.target, "--json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    wait_for_marker(marker, run)  # the second batch is being embedded
    first.stop(signal.SIGKILL)
    second = server_factory(tmp_path / "served")
    second.port = first.port
    second.start()
    out, err = run.communicate(timeout=600)
    assert run.returncode == 0, err
    summary = json.loads(out)
    assert (summary["files"]["new"], summary["files"]["failed"]) == (len(files), 0)
    with second.client() as client:
        stored = [doc.id for doc in client.document_summaries("code")]
        assert sorted(stored) == sorted(p.name for p in files)
        assert client.get_collection("code").document_count == len(files)


def test_excludes_match_folders_by_name_and_bytecode_is_never_walked(tmp_path: Path):
    from indexer.walk import SourceFile, walk

    for name in ("src/a.py", "src/vendor/b.py", "vendor/c.py", "src/__pycache__/a.py",
                 "docs/vendor.md"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x = 1\n")

    def ids(*exclude: str) -> list[str]:
        found = walk([tmp_path], exclude=exclude, base=tmp_path)
        return [f.doc_id for f in found if isinstance(f, SourceFile)]

    assert ids() == ["docs/vendor.md", "src/a.py", "src/vendor/b.py", "vendor/c.py"]
    assert ids("vendor") == ["docs/vendor.md", "src/a.py"]
    assert ids("src/*") == ["docs/vendor.md", "vendor/c.py"]
    assert ids("*.md") == ["src/a.py", "src/vendor/b.py", "vendor/c.py"]
