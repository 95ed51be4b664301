"""The request fuzzer, longer than in the test suite: every RPC, random and adversarial fields,
against a live server on SQLite and on PostgreSQL. Prints the statuses seen per RPC and the
count that matters: INTERNAL/UNKNOWN answers and server deaths (goal: 0). Afterwards the server
must still be SERVING with its kept document intact.

    .venv/bin/python bench/fuzz.py [--examples N]   (N per RPC and store, default 200)
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from hypothesis import HealthCheck, given, settings

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the request strategies live with the tests

from _metrics import markdown_table, write_results  # noqa: E402
from _postgres import postgres_database  # noqa: E402

from tests.conftest import ServerProcess  # noqa: E402
from tests.fuzz_requests import FAILURES, REQUESTS, intact, seed, sendable, sender  # noqa: E402


def fuzz_method(send, store: str, method: str, examples: int, counts: Counter) -> int:
    """Send ``examples`` requests to ``method``; returns how many got INTERNAL/UNKNOWN."""
    failures = 0

    @settings(max_examples=examples, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(request=REQUESTS[method][2])
    def run(request):
        nonlocal failures
        if not sendable(request):
            return
        code = send(method, request)
        counts[(method, code.name)] += 1
        if code in FAILURES:
            failures += 1
            print(f"{store} {method}: {code.name} for {request!r}"[:500])

    run()
    return failures


def fuzz_store(store: str, database_url: str, examples: int) -> tuple[Counter, int, bool]:
    """Statuses by (rpc, code), failures, and whether the server came through intact."""
    counts: Counter = Counter()
    failures = 0
    with tempfile.TemporaryDirectory(prefix="embedsvc-fuzz-") as tmp:
        server = ServerProcess(Path(tmp) / "data", database_url,
                               EMBEDSVC_MAX_TEXT_CHARS="100000").start()
        try:
            with server.client() as client:
                seed(client)
                send = sender(client.channel)
                for method in sorted(REQUESTS):
                    failures += fuzz_method(send, store, method, examples, counts)
                    print(f"{store} {method}: done", file=sys.stderr, flush=True)
                survived = server.process.poll() is None and intact(client)
        finally:
            server.stop()
    return counts, failures, survived


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--examples", type=int, default=200)
    args = parser.parse_args()
    started = time.monotonic()
    results, table, ok = {}, {}, True
    with postgres_database() as postgres:
        for store, url in (("sqlite", ""), ("postgres", postgres)):
            counts, failures, survived = fuzz_store(store, url, args.examples)
            ok = ok and failures == 0 and survived
            for (method, code), n in counts.items():
                table.setdefault((store, method), Counter())[code] += n
            results[store] = {"requests": sum(counts.values()), "internal_or_unknown": failures,
                              "server_intact": survived,
                              "statuses": {f"{m} {c}": n for (m, c), n in counts.items()}}
            print(f"\n{store}: {sum(counts.values())} requests, {failures} INTERNAL/UNKNOWN, "
                  f"server {'intact' if survived else 'NOT intact'}")
    codes = sorted({code for row in table.values() for code in row})
    print(markdown_table(["store", "rpc", *codes],
                         [[store, method, *(row[code] for code in codes)]
                          for (store, method), row in sorted(table.items())]))
    print(f"\ntotal {time.monotonic() - started:.0f}s; goal: 0 INTERNAL/UNKNOWN, server intact: "
          f"{'met' if ok else 'NOT met'}")
    write_results("fuzz", results)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
