"""The `embedsvc` maintenance commands, run as a user runs them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from embedsvc.config import Settings
from embedsvc.core import Core
from embedsvc.storage.sql.database import head_revision
from embedsvc.types import DocumentInput

EMBEDSVC = str(Path(sys.executable).parent / "embedsvc")


def run(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [EMBEDSVC, *args], capture_output=True, text=True, timeout=300,
        env={**os.environ, **env},
    )


def test_migrate_creates_the_schema(tmp_path: Path):
    result = run("migrate", "--data-dir", str(tmp_path / "d"))
    assert result.returncode == 0, result.stderr
    assert f"schema at revision {head_revision()}" in result.stdout
    assert (tmp_path / "d" / "embedsvc.db").exists()


def test_reindex_rebuilds_a_corrupt_index(tmp_path: Path, encoder):
    data = tmp_path / "d"
    core = Core(Settings(data_dir=data), encoder)
    info = core.create_collection("kb")
    core.upsert("kb", [DocumentInput("a", "alpha text"), DocumentInput("b", "beta text")])
    core.close()
    (data / "indexes" / str(info.id) / "chunks.faiss").write_bytes(b"garbage")
    result = run("reindex", "kb", EMBEDSVC_DATA_DIR=str(data))
    assert result.returncode == 0, result.stderr
    assert "collection kb: 2 vectors indexed" in result.stdout
    missing = run("reindex", "nope", "--data-dir", str(data))
    assert missing.returncode == 2 and "does not exist" in missing.stderr


def test_settings_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("EMBEDSVC_PORT", "6000")
    monkeypatch.setenv("EMBEDSVC_DATA_DIR", "/srv/embedsvc")
    settings = Settings()
    assert settings.port == 6000
    assert settings.resolved_database_url() == "sqlite:////srv/embedsvc/embedsvc.db"


def test_embed_reads_stdin_and_writes_json_lines_or_npy(tmp_path: Path):
    result = subprocess.run(
        [EMBEDSVC, "embed", "--layers", "3", "--dims", "16"], input="first text\nsecond\n",
        capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["text"] for r in rows] == ["first text", "second"]
    assert all(len(r["embedding"]) == 16 for r in rows)

    texts = tmp_path / "texts.txt"
    texts.write_text("short\n" + "long " * 400 + "\n")
    out = tmp_path / "v.npy"
    saved = run("embed", str(texts), "--out", str(out))
    assert saved.returncode == 0 and "1 of 2 texts were truncated" in saved.stderr
    assert np.load(out).shape == (2, 384)
    refused = run("embed", str(texts), "--on-overflow", "error")
    assert refused.returncode == 2 and "402 tokens" in refused.stderr


def test_train_2dmse_produces_a_model_the_service_loads(tmp_path: Path):
    pairs = tmp_path / "pairs.jsonl"
    with pairs.open("w") as handle:
        for i in range(16):
            handle.write(json.dumps({"anchor": f"how to sort list {i}",
                                     "positive": f"def sort_{i}(xs): return sorted(xs)"}) + "\n")
    trained = run("train", "2dmse", "--pairs", str(pairs), "--out", str(tmp_path / "m"),
                  "--batch-size", "8", "--max-steps", "2")
    assert trained.returncode == 0, trained.stderr
    result = subprocess.run(
        [EMBEDSVC, "embed", "--model", str(tmp_path / "m"), "--layers", "2"],
        input="sort a list\n", capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert len(json.loads(result.stdout)["embedding"]) == 384


def test_chunk_and_embed_refuse_unusable_input_without_a_traceback(tmp_path: Path):
    binary = tmp_path / "logo.png"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00data")
    for path, message in [(tmp_path / "missing.py", "cannot read"), (tmp_path, "cannot read"),
                          (binary, "binary")]:
        result = run("chunk", str(path))
        assert result.returncode == 2 and message in result.stderr, result.stderr
        assert "Traceback" not in result.stderr
    blank = subprocess.run(
        [EMBEDSVC, "embed", "--out", str(tmp_path / "v.npy")], input="one\n\nthree\n",
        capture_output=True, text=True, timeout=300,
    )
    assert blank.returncode == 2 and "line 2 is blank" in blank.stderr
    assert not (tmp_path / "v.npy").exists()
    nowhere = run("reindex", "kb", "--data-dir", str(tmp_path / "nowhere"))
    assert nowhere.returncode == 2 and "no data dir" in nowhere.stderr
    assert not (tmp_path / "nowhere").exists()
