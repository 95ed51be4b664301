"""Indexing on Ray: the tree of bench/indexing.py indexed plainly and with `--ray` (a local
instance on 127.0.0.1) with 1 and 2 encoder actors; the speed-up, the measured throughput per
actor, and what it implies for N machines.

Every run is `.venv/bin/indexer index DIR -c bench --data-dir D --json [--ray --ray-actors N]`
on a fresh data dir, timed around the process (wall). A Ray run's summary also says how long
the local Ray took to start, how long the driver spent committing, and each actor's busy time
and chunks embedded, from which the per-actor throughput (chunks per busy second) comes.
Configurations are interleaved round by round (`--rounds`, default 1); the fastest wall per
configuration counts. Prints markdown tables, writes bench/results/ray_indexing.json.

Scaling estimate: with one actor per machine, N machines prepare N times as fast as one, while
the driver still walks, reads and commits serially; prepare and commit overlap, so
wall(N) ~ fixed + chunks / min(N x actor rate, commit rate), where fixed is the wall of the
1-actor run minus its actors' busy time and its commit time (process and Ray start, actor
start and model load, walk, shutdown). Given for this tree and for a tree of 1M chunks.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from _metrics import markdown_table, write_results
from indexing import ENV, INDEXER, copy_corpus

CONFIGS = {"plain": [], "ray, 1 actor": ["--ray", "local", "--ray-actors", "1"],
           "ray, 2 actors": ["--ray", "local", "--ray-actors", "2"]}
MACHINES = (1, 2, 4, 8, 16, 64)
LARGE_TREE = 1_000_000  # chunks


def run(source: Path, data: Path, extra: list[str]) -> tuple[float, dict[str, Any]]:
    command = [str(INDEXER), "index", str(source), "-c", "bench", "--data-dir", str(data),
               "--json", *extra]
    start = time.perf_counter()
    done = subprocess.run(command, env=ENV, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"indexer exited {done.returncode}:\n{done.stderr[-3000:]}")
    return wall, json.loads(done.stdout)


def actor_rate(summary: dict[str, Any]) -> tuple[int, float]:
    """Chunks embedded and busy seconds, over all actors of a run."""
    actors = summary["workers"]["per_actor"]
    return (sum(a["chunks_embedded"] for a in actors), sum(a["busy_seconds"] for a in actors))


def scaling(wall: float, summary: dict[str, Any]) -> list[list[Any]]:
    """Estimated wall for N machines of one actor each, from the measured 1-actor run: for
    this tree, and for a tree of LARGE_TREE chunks (where the fixed cost no longer matters).
    Prepare and commit overlap (Ray streams), so the slower of the two sets the pace."""
    chunks, busy = actor_rate(summary)
    commit = summary["workers"]["commit_seconds"]
    fixed = max(wall - busy - commit, 0.0)
    rate, commit_rate = chunks / busy, chunks / max(commit, 1e-9)
    rows = []
    for machines in MACHINES:
        pace = min(rate * machines, commit_rate)
        this_tree = fixed + chunks / pace
        large = fixed + LARGE_TREE / pace
        rows.append([machines, f"{pace:.1f}", f"{this_tree:.0f}", f"{wall / this_tree:.2f}x",
                     f"{large / 3600:.1f}"])
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--files", type=int, default=0, help="only the first N files (0: all)")
    args = parser.parse_args()
    best: dict[str, tuple[float, dict[str, Any]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "corpus"
        files = copy_corpus(source)
        if args.files:
            for relative in files[args.files:]:
                (source / relative).unlink()
            files = files[:args.files]
        for round_number in range(args.rounds):
            for name, extra in CONFIGS.items():
                data = Path(tmp) / f"data-{round_number}-{len(best)}-{name.replace(' ', '')}"
                wall, summary = run(source, data, extra)
                print(f"round {round_number + 1}: {name}: {wall:.1f} s wall", flush=True)
                if name not in best or wall < best[name][0]:
                    best[name] = (wall, summary)

    plain_wall = best["plain"][0]
    rows, payload = [], {"files": len(files), "rounds": args.rounds, "runs": {}}
    for name, (wall, summary) in best.items():
        workers = summary.get("workers")
        busy = actor_rate(summary)[1] if workers else 0.0
        per_actor = ", ".join(f"{a['chunks_per_second']:.1f}"
                              for a in workers["per_actor"]) if workers else "-"
        rows.append([name, f"{wall:.1f}", f"{plain_wall / wall:.2f}x",
                     summary["chunks"]["embedded"],
                     f"{workers['start_seconds']:.1f}" if workers else "-",
                     f"{workers['first_result_seconds']:.1f}" if workers else "-",
                     f"{workers['shutdown_seconds']:.1f}" if workers else "-",
                     f"{workers['commit_seconds']:.1f}" if workers else "-",
                     f"{busy:.1f}" if workers else "-", per_actor,
                     f"{summary['chunks']['embedded'] / wall:.1f}"])
        payload["runs"][name] = {"wall_s": wall, "summary": summary}
    print(f"\n{len(files)} files; fastest wall of {args.rounds} round(s) per configuration\n")
    print(markdown_table(
        ["run", "wall s", "speed-up vs plain", "chunks", "Ray start s", "first result s",
         "Ray shutdown s", "commit s",
         "actor busy s (sum)", "chunks/s per actor", "chunks/s overall"], rows))
    one_wall, one_summary = best["ray, 1 actor"]
    estimate = scaling(one_wall, one_summary)
    payload["scaling_estimate"] = [
        dict(zip(["machines", "chunks_per_s", "wall_s", "speed_up", "large_tree_hours"], row,
                 strict=True)) for row in estimate]
    chunks, busy = actor_rate(one_summary)
    commit = one_summary["workers"]["commit_seconds"]
    print(f"\nEstimate for N machines of one actor each, from the 1-actor run: "
          f"{chunks / busy:.1f} chunks per busy second per actor, commits at "
          f"{chunks / max(commit, 1e-9):.0f} chunks/s, fixed cost "
          f"{max(one_wall - busy - commit, 0):.0f} s (wall = fixed + chunks / min(N x actor "
          "rate, commit rate)):\n")
    print(markdown_table(["machines", "chunks/s", "est. wall s, this tree",
                          "est. speed-up vs 1 actor, this tree",
                          f"est. hours, {LARGE_TREE:,} chunks"], estimate))
    write_results("ray_indexing", payload)


if __name__ == "__main__":
    main()
