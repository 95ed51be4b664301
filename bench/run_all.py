"""Run every benchmark in bench/, one subprocess each, and fail if any of them fails.

A benchmark is any bench/*.py except this runner and `_`-prefixed helpers. Each runs with the
project's venv python from the repository root, in sorted order; output streams as it comes, so
a long run shows progress. One failure does not stop the others: all results get printed.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
PYTHON = ROOT / ".venv" / "bin" / "python"


def benchmarks() -> list[Path]:
    return sorted(
        path for path in BENCH.glob("*.py")
        if path.name != Path(__file__).name and not path.name.startswith("_")
    )


def run(script: Path) -> tuple[int, float]:
    """Exit status and wall seconds of one benchmark, its output going straight to ours."""
    print(f"\n=== {script.relative_to(ROOT)} ===", flush=True)
    start = time.perf_counter()
    status = subprocess.run([str(PYTHON), str(script)], cwd=ROOT, check=False).returncode
    return status, time.perf_counter() - start


def main() -> int:
    scripts = benchmarks()
    if not scripts:
        print(f"no benchmarks in {BENCH}", file=sys.stderr)
        return 1
    outcomes = {script.name: run(script) for script in scripts}
    print("\n=== summary ===")
    for name, (status, seconds) in outcomes.items():
        print(f"{'ok  ' if status == 0 else 'FAIL'} {name} ({seconds:.0f}s, exit {status})")
    return 1 if any(status for status, _ in outcomes.values()) else 0


if __name__ == "__main__":
    raise SystemExit(main())
