"""Soak: 8 concurrent searchers, 1 writer and 1 remote indexer against one server for a while,
on SQLite and on PostgreSQL. Reports throughput, p50/p99 latency per kind of call, errors by
status code, `database is locked` lines in the server log, and the server's RSS over time.
Goal: no errors, no `database is locked`, RSS flat once warm.

    .venv/bin/python bench/soak.py [--seconds 300] [--stores sqlite,postgres] [--searchers 8]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from _metrics import markdown_table, write_results  # noqa: E402
from _postgres import postgres_database  # noqa: E402

from tests.conftest import ServerProcess  # noqa: E402

INDEXER = ROOT / ".venv" / "bin" / "indexer"
STDLIB = Path(sysconfig.get_paths()["stdlib"])
WORDS = [
    "json", "decoder", "error", "message", "stream", "header", "parse", "encode", "value",
    "list", "dictionary", "file", "buffer", "socket", "timeout", "retry", "cache", "thread",
    "lock", "queue",
]


class Recorder:
    """Latencies and status codes per kind of call, safe from many threads."""

    def __init__(self) -> None:
        self.latencies: dict[str, list[float]] = defaultdict(list)
        self.codes: dict[str, Counter] = defaultdict(Counter)
        self._lock = threading.Lock()

    def call(self, kind: str, function) -> None:
        started = time.perf_counter()
        try:
            function()
            code = "OK"
        except Exception as error:  # a status from the server, or a failed subprocess
            code = error.code().name if hasattr(error, "code") else type(error).__name__
        with self._lock:
            self.latencies[kind].append(time.perf_counter() - started)
            self.codes[kind][code] += 1


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def seed(client, rng: random.Random) -> None:
    client.create_collection("kb", max_chunk_tokens=128)
    sources = sorted((STDLIB / "email").glob("*.py"))[:30]
    for start in range(0, len(sources), 6):
        client.upsert("kb", [{"id": p.name, "text": p.read_text(), "language": "python",
                              "metadata": {"n": rng.randint(0, 3)}}
                             for p in sources[start:start + 6]])


def soak(store: str, url: str, seconds: float, searchers: int) -> dict:
    rng = random.Random(7)
    recorder = Recorder()
    stop = threading.Event()
    rss: list[tuple[float, float]] = []
    with tempfile.TemporaryDirectory(prefix="embedsvc-soak-") as tmp:
        tree = Path(tmp) / "tree"
        tree.mkdir()
        for source in sorted((STDLIB / "json").glob("*.py")):
            shutil.copy(source, tree / source.name)
        server = ServerProcess(Path(tmp) / "data", url).start()
        try:
            with server.client(timeout=120) as client:
                seed(client, rng)

                def search(worker: int) -> None:
                    local = random.Random(worker)
                    while not stop.is_set():
                        query = " ".join(local.sample(WORDS, 3))
                        where = {"n": local.randint(0, 3)} if local.random() < 0.3 else None
                        recorder.call("search", lambda q=query, w=where: client.search(
                            "kb", q, k=10, where=w))

                def write() -> None:
                    local = random.Random(99)
                    while not stop.is_set():
                        text = " ".join(local.choices(WORDS, k=200))
                        doc = {"id": f"w{local.randint(0, 300)}", "text": text,
                               "metadata": {"n": local.randint(0, 3)}}
                        recorder.call("upsert", lambda d=doc: client.upsert("kb", [d]))

                def index() -> None:
                    turn = 0
                    while not stop.is_set():
                        (tree / "scanner.py").write_text(
                            (STDLIB / "json" / "scanner.py").read_text() + f"\n# turn {turn}\n")
                        turn += 1
                        recorder.call("indexer run", lambda: subprocess.run(
                            [str(INDEXER), "index", str(tree), "-c", "tree", "--server",
                             server.target, "--json"],
                            check=True, capture_output=True, timeout=600))

                threads = [threading.Thread(target=search, args=(i,)) for i in range(searchers)]
                threads += [threading.Thread(target=write), threading.Thread(target=index)]
                started = time.monotonic()
                for thread in threads:
                    thread.start()
                while time.monotonic() - started < seconds:
                    rss.append((time.monotonic() - started, rss_mb(server.process.pid)))
                    time.sleep(5)
                stop.set()
                for thread in threads:
                    thread.join()
                elapsed = time.monotonic() - started
        finally:
            server.stop()
        locked = server.log.read_text().count("database is locked")
    warm = [mb for at, mb in rss if at >= seconds / 4] or [mb for _, mb in rss]
    return {
        "store": store, "seconds": round(elapsed, 1),
        "calls": {kind: {
            "count": len(values), "per_s": round(len(values) / elapsed, 2),
            "p50_ms": round(float(np.percentile(values, 50)) * 1000, 1),
            "p99_ms": round(float(np.percentile(values, 99)) * 1000, 1),
            "codes": dict(recorder.codes[kind]),
        } for kind, values in recorder.latencies.items()},
        "database_is_locked": locked,
        "rss_mb": {"first": round(rss[0][1]), "warm_min": round(min(warm)),
                   "warm_max": round(max(warm)), "last": round(rss[-1][1])},
    }


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=300)
    parser.add_argument("--stores", default="sqlite,postgres")
    parser.add_argument("--searchers", type=int, default=8)
    args = parser.parse_args()
    results = []
    with contextlib.ExitStack() as stack:
        for store in args.stores.split(","):
            url = stack.enter_context(postgres_database("embedsvc_soak")) \
                if store == "postgres" else ""
            results.append(soak(store, url, args.seconds, args.searchers))
            print(json.dumps(results[-1]), file=sys.stderr, flush=True)
    rows = []
    for result in results:
        for kind, call in result["calls"].items():
            errors = {code: n for code, n in call["codes"].items() if code != "OK"}
            rows.append([result["store"], kind, call["count"], call["per_s"], call["p50_ms"],
                         call["p99_ms"], json.dumps(errors) if errors else "0"])
    print(markdown_table(["store", "call", "count", "per s", "p50 ms", "p99 ms", "errors"], rows))
    ok = True
    for result in results:
        rss = result["rss_mb"]
        errors = sum(n for call in result["calls"].values()
                     for code, n in call["codes"].items() if code != "OK")
        ok = ok and errors == 0 and result["database_is_locked"] == 0
        print(f"{result['store']}: {errors} errors, {result['database_is_locked']} 'database is "
              f"locked', RSS MB first {rss['first']}, warm {rss['warm_min']}-{rss['warm_max']}, "
              f"last {rss['last']} ({result['seconds']}s)")
    write_results("soak", {"results": results})
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
