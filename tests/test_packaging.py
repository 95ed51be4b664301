"""A non-editable install carries everything it needs at run time (the migrations included)."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

from embedsvc.storage.sql.database import head_revision

ROOT = Path(__file__).resolve().parents[1]

PROBE = """
import sys
import embedsvc
from embedsvc.storage.sql.database import create_db_engine, migrate
print(embedsvc.__file__)
print(migrate(create_db_engine(sys.argv[1])))
"""


def test_a_built_wheel_migrates_from_its_own_files(tmp_path: Path):
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(tmp_path / "dist"), str(ROOT)],
        capture_output=True, text=True, timeout=300,
    )
    assert built.returncode == 0, built.stderr
    wheel = next((tmp_path / "dist").glob("embedsvc-*.whl"))
    installed = tmp_path / "site"
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        archive.extractall(installed)
    assert "embedsvc/storage/sql/migrations/script.py.mako" in names
    probe = subprocess.run(
        [sys.executable, "-P", "-c", PROBE, f"sqlite:///{tmp_path / 'store.db'}"],
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
        env={"PYTHONPATH": str(installed), "PATH": "/usr/bin:/bin"},
    )
    assert probe.returncode == 0, probe.stderr
    location, revision = probe.stdout.split()
    assert Path(location).is_relative_to(installed)
    assert revision == head_revision()
