"""Start-up costs what the run needs: no torch once the model is exported, no model at all
when nothing changed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

# Runs the indexer CLI and reports, at exit, which heavy runtimes the process imported.
_REPORTING_INDEXER = (
    "import atexit, json, sys\n"
    "heavy = ('torch', 'transformers', 'sentence_transformers', 'openvino')\n"
    "atexit.register(lambda: print('IMPORTED ' + json.dumps(\n"
    "    [name for name in heavy if name in sys.modules]), file=sys.stderr))\n"
    "from indexer.cli import main\n"
    "sys.argv = ['indexer', *sys.argv[1:]]\n"
    "main()\n"
)


def index(repo: Path, data: Path) -> tuple[dict, list[str]]:
    result = subprocess.run(
        [sys.executable, "-c", _REPORTING_INDEXER, "index", str(repo), "--collection", "docs",
         "--data-dir", str(data), "--json"],
        capture_output=True, text=True, timeout=600, env=os.environ.copy(),
    )
    assert result.returncode == 0, result.stderr
    imported = next(line for line in result.stderr.splitlines() if line.startswith("IMPORTED "))
    return json.loads(result.stdout), json.loads(imported.removeprefix("IMPORTED "))


def test_indexer_runs_import_only_what_they_need(tmp_path: Path, encoder):
    encoder.encode(["the export exists once any model has run in this cache"])
    repo, data = tmp_path / "repo", tmp_path / "data"
    repo.mkdir()
    (repo / "a.md").write_text("# Cats\n\nCats sleep most of the day. They purr.\n")
    (repo / "b.py").write_text("def one():\n    return 1\n")
    first, _ = index(repo, data)
    assert first["files"]["new"] == 2

    (repo / "a.md").write_text("# Cats\n\nCats sleep most of the day. They hunt at night.\n")
    changed, imported = index(repo, data)
    assert changed["files"]["changed"] == 1 and changed["chunks"]["embedded"] >= 1
    assert imported == ["openvino"], "a cached export embeds without torch or transformers"

    unchanged, imported = index(repo, data)
    assert unchanged["files"]["unchanged"] == 2 and unchanged["chunks"]["embedded"] == 0
    assert imported == [], "nothing to embed: no model runtime is imported at all"
