"""The `embedsvc` maintenance commands, run as a user runs them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from embedsvc.config import Settings
from embedsvc.core import Core
from embedsvc.indexing import DocumentInput
from embedsvc.storage.database import head_revision

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
