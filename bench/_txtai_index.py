"""txtai's side of bench/indexing.py; runs with the python of txtai's own venv, never ours.

Reads chunk exports (JSON lines of id, path, text: the exact texts embedsvc embedded), times
txtai on them and prints one JSON object on stdout: seconds to load (model, or saved index),
to do the work, and to save. Two commands:

* ``index CHUNKS INDEX MODEL``: a new Embeddings index (content, faiss, MODEL) over CHUNKS,
  saved to INDEX; the work is ``index()``.
* ``upsert CHUNKS INDEX [--path PATH --old OLD]``: loads INDEX and upserts every chunk of
  CHUNKS (re-running over the folder: txtai has no content-hash skip, so all are embedded
  again); with ``--path`` only that file's chunks, after deleting those of its chunks in OLD
  that are gone (the best case, when the caller itself knows which file changed).
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path
from typing import Any

from txtai import Embeddings

Row = dict[str, str]


def read_rows(path: Path) -> list[Row]:
    with path.open(encoding="utf-8") as lines:
        return [json.loads(line) for line in lines]


def timed(action: Callable[[], Any]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def index(chunks: Path, target: Path, model: str) -> dict[str, Any]:
    rows = read_rows(chunks)
    start = time.perf_counter()
    embeddings = Embeddings(path=model, content=True, backend="faiss", gpu=False)
    load_s = time.perf_counter() - start
    return {"chunks": len(rows), "load_s": load_s,
            "work_s": timed(lambda: embeddings.index(rows)),
            "save_s": timed(lambda: embeddings.save(str(target)))}


def upsert(chunks: Path, target: Path, path: str | None, old: Path | None) -> dict[str, Any]:
    rows = read_rows(chunks)
    stale: list[str] = []
    if path is not None:
        rows = [row for row in rows if row["path"] == path]
        kept = {row["id"] for row in rows}
        stale = [row["id"] for row in read_rows(old) if row["path"] == path
                 and row["id"] not in kept] if old else []
    embeddings = Embeddings()
    load_s = timed(lambda: embeddings.load(str(target)))

    def work() -> None:
        if stale:
            embeddings.delete(stale)
        embeddings.upsert(rows)

    return {"chunks": len(rows), "load_s": load_s, "work_s": timed(work),
            "save_s": timed(lambda: embeddings.save(str(target))), "count": embeddings.count()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    build = commands.add_parser("index")
    build.add_argument("chunks", type=Path)
    build.add_argument("index", type=Path)
    build.add_argument("model")
    redo = commands.add_parser("upsert")
    redo.add_argument("chunks", type=Path)
    redo.add_argument("index", type=Path)
    redo.add_argument("--path", help="only this file's chunks")
    redo.add_argument("--old", type=Path, help="the export before the change")
    args = parser.parse_args()
    if args.command == "index":
        result = index(args.chunks, args.index, args.model)
    else:
        result = upsert(args.chunks, args.index, args.path, args.old)
    print(json.dumps({"txtai": version("txtai"), **result}))


if __name__ == "__main__":
    main()
