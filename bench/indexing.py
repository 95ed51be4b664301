"""Indexing: `indexer index` on a stdlib folder, full, with nothing changed, after one edit;
and the same chunk texts indexed by txtai with the same model, for a throughput ratio.

Every embedsvc run is `.venv/bin/indexer index DIR -c bench --data-dir D --json` as a user
runs it, timed around the subprocess (wall) and by its own summary (seconds). txtai runs in a
venv of its own (bench/.cache/txtai-venv, made on first use; its install time is reported,
never timed) on the chunk texts embedsvc stored, context header included. Runs go one after
another, never in parallel. Prints markdown tables, writes bench/results/indexing.json.
"""

from __future__ import annotations

import ast
import json
import os
import platform
import shutil
import sqlite3
import subprocess
import sys
import sysconfig
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from _metrics import markdown_table, write_results

from embedsvc.encoding.models import resolve_model_path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
INDEXER = ROOT / ".venv" / "bin" / "indexer"
TXTAI_SCRIPT = BENCH / "_txtai_index.py"
TXTAI_VENV = BENCH / ".cache" / "txtai-venv"  # bench/.cache/ is gitignored
TXTAI_VERSION = "9.14.0"
TORCH_VERSION = "2.13.0"  # the CPU build on this machine's disk; unpinned pulls CUDA wheels
INSTALL_TIMEOUT_S = 1800

# Sorted .py files of these stdlib packages, test dirs skipped, files up to MAX_FILE_BYTES.
PACKAGES = ("json", "email", "http", "logging", "urllib", "xml", "concurrent", "importlib",
            "wsgiref", "html", "sqlite3", "collections", "asyncio", "unittest",
            "multiprocessing", "ctypes", "zoneinfo", "tomllib", "dbm", "curses", "distutils",
            "turtledemo")
MAX_FILE_BYTES = 8_000  # 150 files, about 135k tokens: a full pass takes ~2 min on 2 idle cores
MAX_FILES = 150
NO_CHANGE_GOAL = 0.05  # no-change wall time as a fraction of the full run's
ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}


@dataclass
class Run:
    """One `indexer index --json` run."""

    wall_s: float
    summary: dict[str, Any]

    @property
    def tokens_per_s(self) -> float:
        return self.summary["tokens"] / max(self.summary["seconds"], 1e-9)


@dataclass
class Edit:
    path: str  # document id, relative to the corpus root
    function: str
    line: int
    old: str
    new: str


@dataclass
class Install:
    python: Path | None  # None when txtai could not be installed
    seconds: float  # 0 when the venv was already there
    error: str = ""


# --- corpus and edit ---------------------------------------------------------------------------


def corpus_files() -> list[Path]:
    """The benchmark's files, relative to the stdlib directory, in a fixed order."""
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    files = []
    for package in PACKAGES:
        for path in sorted((stdlib / package).rglob("*.py")):
            relative = path.relative_to(stdlib)
            skipped = any(part.startswith("test") or part == "__pycache__"
                          for part in relative.parts[:-1])
            if not skipped and path.stat().st_size <= MAX_FILE_BYTES:
                files.append(relative)
    return files[:MAX_FILES]


def copy_corpus(target: Path) -> list[Path]:
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    files = corpus_files()
    for relative in files:
        (target / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(stdlib / relative, target / relative)
    return files


def int_constant(function: ast.FunctionDef | ast.AsyncFunctionDef, source: str) -> ast.Constant:
    """The first plain integer literal (``8``, not ``True`` or ``0x8``) in a function body."""
    nodes = [node for statement in function.body for node in ast.walk(statement)]
    literals = [
        node for node in nodes
        if isinstance(node, ast.Constant) and type(node.value) is int
        and ast.get_source_segment(source, node) == str(node.value)
    ]
    if not literals:
        raise LookupError(function.name)
    return min(literals, key=lambda node: (node.lineno, node.col_offset))


def edit_one_function(root: Path, files: list[Path]) -> Edit:
    """Change the last digit of one integer in one function of the corpus's largest file."""
    relative = max(files, key=lambda path: ((root / path).stat().st_size, str(path)))
    path = root / relative
    source = path.read_text(encoding="utf-8")
    functions = sorted(
        (node for node in ast.walk(ast.parse(source))
         if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)),
        key=lambda node: node.lineno,
    )
    for function in functions:
        try:
            literal = int_constant(function, source)
        except LookupError:
            continue
        old = str(literal.value)
        new = old[:-1] + str((int(old[-1]) + 1) % 10)
        lines = source.splitlines(keepends=True)
        line = lines[literal.lineno - 1].encode()  # AST columns are UTF-8 byte offsets
        edited = line[:literal.col_offset] + new.encode() + line[literal.end_col_offset:]
        lines[literal.lineno - 1] = edited.decode()
        path.write_text("".join(lines), encoding="utf-8")
        return Edit(relative.as_posix(), function.name, literal.lineno, old, new)
    raise LookupError(f"no function with an integer literal in {relative}")


# --- embedsvc ----------------------------------------------------------------------------------


def run_indexer(source: Path, data_dir: Path) -> Run:
    command = [str(INDEXER), "index", str(source), "-c", "bench", "--data-dir", str(data_dir),
               "--json"]
    start = time.perf_counter()
    done = subprocess.run(command, env=ENV, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"indexer exited {done.returncode}:\n{done.stderr[-3000:]}")
    return Run(wall, json.loads(done.stdout))


def export_chunks(data_dir: Path, target: Path) -> int:
    """embedsvc's stored chunks as JSON lines (id, path, text as embedded); returns the count."""
    query = """SELECT d.external_id, c.ordinal, c.context, c.text
               FROM chunks c JOIN documents d ON d.id = c.document_id
               ORDER BY d.external_id, c.ordinal"""
    with sqlite3.connect(data_dir / "embedsvc.db") as db:
        rows = db.execute(query).fetchall()
    with target.open("w", encoding="utf-8") as out:
        for path, ordinal, context, text in rows:
            embedded = f"{context}\n{text}" if context else text
            out.write(json.dumps({"id": f"{path}#{ordinal}", "path": path, "text": embedded})
                      + "\n")
    return len(rows)


# --- txtai -------------------------------------------------------------------------------------


def ensure_txtai() -> Install:
    """txtai's venv, made and filled on first use; torch first, so pip keeps the CPU build."""
    python, stamp = TXTAI_VENV / "bin" / "python", TXTAI_VENV / "installed"
    wanted = f"torch=={TORCH_VERSION} txtai=={TXTAI_VERSION}"
    if stamp.is_file() and stamp.read_text() == wanted:
        return Install(python, 0.0)
    constraints = TXTAI_VENV.parent / "txtai-constraints.txt"
    log = TXTAI_VENV.parent / "txtai-install.log"
    TXTAI_VENV.parent.mkdir(parents=True, exist_ok=True)
    constraints.write_text(f"torch=={TORCH_VERSION}\n")
    pip = [str(python), "-m", "pip", "install", "--quiet"]
    steps = [["python3", "-m", "venv", str(TXTAI_VENV)],
             [*pip, f"torch=={TORCH_VERSION}"],
             [*pip, "-c", str(constraints), f"txtai=={TXTAI_VERSION}"]]
    print(f"installing txtai {TXTAI_VERSION} into {TXTAI_VENV} (log: {log})", flush=True)
    start = time.perf_counter()
    with log.open("w") as out:
        for step in steps:
            try:
                status = subprocess.run(step, stdout=out, stderr=subprocess.STDOUT, check=False,
                                        timeout=INSTALL_TIMEOUT_S).returncode
            except (subprocess.TimeoutExpired, OSError) as error:
                print(error, file=out, flush=True)
                status = -1
            if status != 0:
                return Install(None, time.perf_counter() - start, _install_error(step, log))
    stamp.write_text(wanted)
    return Install(python, time.perf_counter() - start)


def _install_error(step: list[str], log: Path) -> str:
    lines = log.read_text(errors="replace").splitlines()
    errors = [line for line in lines if "ERROR" in line or "error:" in line.lower()] or lines
    detail = " / ".join(line[:300] for line in errors[-3:]) or "no output"
    return f"`{step[-1]}` failed: {detail} (log: {log})"


def run_txtai(python: Path, *args: str) -> tuple[float, dict[str, Any]]:
    """Wall seconds and the JSON that _txtai_index.py prints."""
    start = time.perf_counter()
    done = subprocess.run([str(python), str(TXTAI_SCRIPT), *args], env=ENV, capture_output=True,
                          text=True, check=False)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"txtai {args[0]} exited {done.returncode}:\n{done.stderr[-3000:]}")
    return wall, json.loads(done.stdout.splitlines()[-1])


# --- report ------------------------------------------------------------------------------------


def counts(run: Run) -> tuple[str, str]:
    files, chunks = run.summary["files"], run.summary["chunks"]
    return (f"{files['new']} / {files['changed']} / {files['unchanged']}",
            f"{chunks['embedded']} / {chunks['reused']}")


def embedsvc_table(runs: dict[str, Run]) -> str:
    """One row per run; tokens/s only for the full run (the others are mostly start-up)."""
    full = runs["full"].wall_s
    rows = [[name, run.wall_s, run.summary["seconds"], f"{run.wall_s / full:.1%}", *counts(run),
             run.summary["tokens"], f"{run.tokens_per_s:,.0f}" if name == "full" else "-"]
            for name, run in runs.items()]
    headers = ["run", "wall s", "summary s", "% of full (wall)", "files new / changed / same",
               "chunks embedded / reused", "tokens", "tokens/s"]
    return markdown_table(headers, rows)


def comparison(runs: dict[str, Run], txtai: dict[str, Any]) -> dict[str, float]:
    """txtai's throughput and embedsvc's speed relative to it (above 1: embedsvc faster).

    In-process, txtai's model load counts too, as it does in embedsvc's summary seconds.
    """
    full, edit = runs["full"], runs["one edit"]
    index = txtai["index"]
    return {
        "txtai_tokens_per_s": full.summary["tokens"] / index["work_s"],
        "full_wall": index["wall_s"] / full.wall_s,
        "full_in_process": (index["load_s"] + index["work_s"]) / full.summary["seconds"],
        "edit_wall_vs_upsert_file": txtai["upsert file"]["wall_s"] / edit.wall_s,
        "edit_wall_vs_upsert_all": txtai["upsert all"]["wall_s"] / edit.wall_s,
    }


def txtai_table(runs: dict[str, Run], txtai: dict[str, Any]) -> str:
    full, edit = runs["full"], runs["one edit"]
    index, one, every = txtai["index"], txtai["upsert file"], txtai["upsert all"]
    tokens_per_s = txtai["comparison"]["txtai_tokens_per_s"]
    rows = [
        ["full", "embedsvc `indexer index`", full.wall_s, "(in work)", full.summary["seconds"],
         f"{full.tokens_per_s:,.0f}"],
        ["full", "txtai `Embeddings()`, `index()`", index["wall_s"], index["load_s"],
         index["work_s"], f"{tokens_per_s:,.0f}"],
        ["one edit", "embedsvc `indexer index`", edit.wall_s, "(in work)",
         edit.summary["seconds"], "-"],
        ["one edit", f"txtai `load()`, `delete()` + `upsert()` of that file ({one['chunks']} "
         "chunks)", one["wall_s"], one["load_s"], one["work_s"], "-"],
        ["one edit", f"txtai `load()`, `upsert()` of all {every['chunks']} chunks (a re-run)",
         every["wall_s"], every["load_s"], every["work_s"], "-"],
    ]
    headers = ["run", "what", "wall s", "load s", "work s", "tokens/s"]
    return markdown_table(headers, rows)


def environment(load_before: float) -> dict[str, Any]:
    """Where the numbers come from; the load averages tell how shared the cores were."""
    return {"python": platform.python_version(), "cpus": os.cpu_count(),
            "load_average_1m_before": load_before, "load_average_1m_after": os.getloadavg()[0],
            "model": str(resolve_model_path(""))}


def check(runs: dict[str, Run], edit: Edit) -> list[str]:
    """Correctness failures: work done when nothing changed, or more than one file changed."""
    same, edited = runs["no change"].summary, runs["one edit"].summary
    failures = []
    if same["chunks"]["embedded"] or same["files"]["changed"] or same["files"]["new"]:
        failures.append(f"no-change run did work: {same['files']} {same['chunks']}")
    if edited["files"]["changed"] != 1 or edited["files"]["new"]:
        failures.append(f"edit of {edit.path} changed other files: {edited['files']}")
    embedded, reused = edited["chunks"]["embedded"], edited["chunks"]["reused"]
    if not 0 < embedded <= 2 or not reused:  # one literal lies in one chunk (two if split)
        failures.append(f"edit of one function: {embedded} chunks embedded, {reused} reused")
    return failures


# --- main --------------------------------------------------------------------------------------


def embedsvc_runs(work: Path) -> tuple[list[Path], Edit, dict[str, Run], int]:
    """Full, no-change and one-edit runs; exports the chunks after the first and the last."""
    source, data = work / "src", work / "data"
    files = copy_corpus(source)
    runs = {"full": run_indexer(source, data)}
    chunks = export_chunks(data, work / "chunks-full.jsonl")
    runs["no change"] = run_indexer(source, data)
    edit = edit_one_function(source, files)
    runs["one edit"] = run_indexer(source, data)
    export_chunks(data, work / "chunks-edit.jsonl")
    return files, edit, runs, chunks


def txtai_runs(install: Install, work: Path, edit: Edit) -> dict[str, Any]:
    """txtai's figures per step (wall seconds added), or why there are none ("error")."""
    if install.python is None:
        return {"error": f"could not be installed: {install.error}"}
    full, edited, target = (str(work / name) for name in
                            ("chunks-full.jsonl", "chunks-edit.jsonl", "txtai"))
    steps = {
        "index": ["index", full, target, str(resolve_model_path(""))],
        "upsert file": ["upsert", edited, target, "--path", edit.path, "--old", full],
        "upsert all": ["upsert", edited, target],
    }
    results: dict[str, Any] = {}
    for name, args in steps.items():
        try:
            wall, result = run_txtai(install.python, *args)
        except RuntimeError as error:
            return {"error": f"its run failed: {error}"}
        results[name] = {**result, "wall_s": wall}
    return results


def report_embedsvc(files: list[Path], chunks: int, runs: dict[str, Run], edit: Edit) -> None:
    full = runs["full"]
    print(f"\nIndexing {len(files)} stdlib files ({len(PACKAGES)} packages, "
          f"each <= {MAX_FILE_BYTES} bytes): {chunks} chunks, {full.summary['tokens']} tokens\n")
    print(embedsvc_table(runs))
    share = runs["no change"].wall_s / full.wall_s
    print(f"\nno-change run: {share:.1%} of the full run's wall time, goal < "
          f"{NO_CHANGE_GOAL:.0%}: {'met' if share < NO_CHANGE_GOAL else 'NOT met'}")
    print(f"one edit: {edit.path}, function `{edit.function}`, line {edit.line}: "
          f"{edit.old} -> {edit.new}")


def report_txtai(runs: dict[str, Run], txtai: dict[str, Any], chunks: int) -> None:
    if "error" in txtai:
        print(f"\ntxtai {TXTAI_VERSION}: NOT compared: {txtai['error']}")
        return
    ratios = txtai["comparison"]
    print(f"\nvs txtai {txtai['index']['txtai']} (same {chunks} chunk texts, same model, faiss, "
          "content=True); wall = whole process\n")
    print(txtai_table(runs, txtai))
    print(f"\nfull-run speed embedsvc / txtai: {ratios['full_wall']:.2f} wall, "
          f"{ratios['full_in_process']:.2f} in-process (load + index() vs summary seconds); "
          "above 1: embedsvc faster")
    print(f"after one edit, wall txtai / embedsvc: {ratios['edit_wall_vs_upsert_file']:.1f}x "
          f"upserting only the changed file, {ratios['edit_wall_vs_upsert_all']:.1f}x "
          "re-running over all chunks")


def main() -> int:
    load_before = os.getloadavg()[0]
    install = ensure_txtai()
    if install.python:
        print(f"txtai {TXTAI_VERSION} ready (install took {install.seconds:.0f}s, not timed)")
    with tempfile.TemporaryDirectory(prefix="embedsvc-bench-indexing-") as tmp:
        files, edit, runs, chunks = embedsvc_runs(Path(tmp))
        txtai = txtai_runs(install, Path(tmp), edit)
    if "error" not in txtai:
        txtai["comparison"] = comparison(runs, txtai)
    report_embedsvc(files, chunks, runs, edit)
    report_txtai(runs, txtai, chunks)
    path = write_results("indexing", {
        "files": len(files), "chunks": chunks, "packages": list(PACKAGES),
        "max_file_bytes": MAX_FILE_BYTES, "edit": asdict(edit),
        "no_change_share": runs["no change"].wall_s / runs["full"].wall_s,
        "runs": {name: asdict(run) for name, run in runs.items()},
        "txtai": {"version": TXTAI_VERSION, "torch": TORCH_VERSION,
                  "install_s": install.seconds, **txtai},
        "environment": environment(load_before),
    })
    print(f"\nwrote {path.relative_to(ROOT)}")
    failures = check(runs, edit)
    if install.python and "error" in txtai:  # installed but broken: the bench itself is wrong
        failures.append(txtai["error"])
    for failure in failures:
        print(f"FAIL: {failure}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
