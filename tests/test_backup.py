"""Backups of a running server taken during writes restore into a store that serves with no
repair; an interrupted backup is never restored."""

from __future__ import annotations

import json
import logging
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from embedsvc.config import Settings
from embedsvc.core import Core
from embedsvc.errors import FailedPrecondition
from embedsvc.services.backup import restore
from embedsvc.types import DocumentInput
from embedsvc.v1 import admin_pb2

EMBEDSVC = str(Path(sys.executable).parent / "embedsvc")
WAIT = 300


def document(number: int) -> dict:
    return {"id": f"doc-{number:03d}",
            "text": f"Note {number}. " + " ".join(f"word{number}x{i}" for i in range(60)),
            "metadata": {"n": number}}


def wait_until(condition, what: str) -> None:
    deadline = time.monotonic() + WAIT
    while not condition():
        assert time.monotonic() < deadline, f"never: {what}"
        time.sleep(0.05)


@pytest.mark.slow
def test_backup_during_writes_restores_with_nothing_to_repair(
    server_factory, tmp_path: Path, encoder, caplog
):
    server = server_factory().start()
    acknowledged: list[str] = []
    stop = threading.Event()
    with server.client(timeout=WAIT) as client:
        client.create_collection("kb", max_chunk_tokens=48)

        def write() -> None:
            number = 0
            while not stop.is_set():
                client.upsert("kb", [document(number)])
                acknowledged.append(f"doc-{number:03d}")
                number += 1

        writer = threading.Thread(target=write)
        writer.start()
        try:
            wait_until(lambda: len(acknowledged) >= 3, "writes before the backup")
            before = list(acknowledged)
            backup = client.backup(str(tmp_path / "backup"))
            done_at_backup = len(acknowledged)
            wait_until(lambda: len(acknowledged) >= done_at_backup + 2, "writes after it")
        finally:
            stop.set()
            writer.join(WAIT)
    assert server.stop() == 0
    assert backup.database == "sqlite" and backup.note == ""
    (snapshot,) = backup.collections

    restored = tmp_path / "restored"
    result = subprocess.run([EMBEDSVC, "restore", str(tmp_path / "backup"), "--data-dir",
                             str(restored), "--json"], capture_output=True, text=True, timeout=WAIT)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["collections"][0]["name"] == "kb"

    with caplog.at_level(logging.WARNING):
        core = Core(Settings(data_dir=restored), encoder)
    try:
        assert not [r for r in caplog.records if "repaired" in r.getMessage()]
        info = core.get_collection("kb")
        stored = sorted(s.id for s in core.document_summaries("kb"))
        assert set(before) <= set(stored) <= set(acknowledged)
        assert (info.document_count, info.chunk_count) == (snapshot.documents, snapshot.chunks)
        assert stored == [f"doc-{n:03d}" for n in range(len(stored))]  # a prefix of the writes
        assert set(core.storage.vectors.ids(info).tolist()) == chunk_ids(core, "kb")
        last = core.get_document("kb", stored[-1]).chunks[0]
        assert core.search("kb", last.text, k=1)[0].chunk.id == last.id
    finally:
        core.close()


def chunk_ids(core: Core, name: str) -> set[int]:
    info = core.get_collection(name)
    return set(core.storage.repository.ids(info, "chunk").tolist())


@pytest.mark.slow
def test_a_backup_killed_midway_leaves_the_store_whole_and_is_never_restored(
    server_factory, tmp_path: Path, encoder
):
    marker = tmp_path / "paused"
    server = server_factory(EMBEDSVC_FAULT_PAUSE="backup", EMBEDSVC_FAULT_FILE=str(marker)).start()
    with server.client(timeout=WAIT) as client:
        client.create_collection("kb")
        client.upsert("kb", [document(n) for n in range(4)])
        pending = client.admin.Backup.future(
            admin_pb2.BackupRequest(directory=str(tmp_path / "backup")), timeout=WAIT)
        wait_until(marker.exists, "the backup pauses")
    server.stop(signal.SIGKILL)
    assert pending.exception() is not None
    core = Core(Settings(data_dir=server.data_dir), encoder)
    try:
        assert core.get_collection("kb").document_count == 4
        assert set(core.storage.vectors.ids(core.get_collection("kb")).tolist()) == chunk_ids(
            core, "kb")
    finally:
        core.close()
    with pytest.raises(FailedPrecondition, match="no complete backup"):
        restore(tmp_path / "backup", tmp_path / "restored")


def test_postgresql_backups_hold_the_index_and_say_how_to_dump_sql(make_core, tmp_path: Path,
                                                                    database_url: str):
    core = make_core()
    core.create_collection("kb")
    raw = document(1)
    core.upsert("kb", [DocumentInput(raw["id"], raw["text"], "", raw["metadata"])])
    backup = core.backup(tmp_path / "backup")
    info = core.get_collection("kb")
    assert (tmp_path / "backup" / "indexes" / str(info.id) / "chunks.faiss").exists()
    assert backup.collections[0].generation == core.storage.repository.generation(info.id)
    if database_url.startswith("postgresql"):
        assert backup.database == "postgresql" and "pg_dump" in backup.note
        assert not (tmp_path / "backup" / "embedsvc.db").exists()
    else:
        assert backup.database == "sqlite" and (tmp_path / "backup" / "embedsvc.db").exists()
    with pytest.raises(FailedPrecondition, match="not empty"):
        core.backup(tmp_path / "backup")



def test_a_milvus_backup_says_it_holds_no_vectors_and_its_restore_rebuilds_them(
    tmp_path: Path, encoder
):
    pytest.importorskip("milvus_lite")

    def milvus_core(data: Path) -> Core:
        return Core(Settings(data_dir=data, vector_backend="milvus"), encoder)

    core = milvus_core(tmp_path / "data")
    try:
        core.create_collection("kb")
        raw = document(7)
        core.upsert("kb", [DocumentInput(raw["id"], raw["text"], "", raw["metadata"])])
        backup = core.backup(tmp_path / "backup")
    finally:
        core.close()
    assert "not in this backup" in backup.note and "rebuilds" in backup.note
    assert not (tmp_path / "backup" / "indexes").exists()
    restore(tmp_path / "backup", tmp_path / "restored")
    restored = milvus_core(tmp_path / "restored")
    try:
        hits = restored.search("kb", "word7x3", k=1, mode="dense")
        assert [hit.document_id for hit in hits] == ["doc-007"]
    finally:
        restored.close()
