"""SIGKILL a writing server at random moments, many times in a row, and check after each kill
that nothing acknowledged was lost and that the vector index agrees with SQL after the repair.

Each round: start `embedsvc serve` on the same data dir, write (upserts of 1-3 documents and
some deletes, one call at a time, each acknowledged write remembered) until a random moment
(0.2-3 s), SIGKILL the server, then open the store in-process (the repair a restart does) and
compare. The call in flight at the kill was not acknowledged: it may be applied or not, but
never in part. Not a test (it sleeps for random times); prints counts, exits 1 on any loss.

    .venv/bin/python bench/random_kills.py [--rounds 50] [--postgres]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import signal
import sys
import tempfile
import threading
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from _metrics import write_results  # noqa: E402
from _postgres import postgres_database  # noqa: E402

from embedsvc.config import Settings  # noqa: E402
from embedsvc.core import Core  # noqa: E402
from embedsvc.encoding.sentence_transformer import SentenceTransformerEncoder  # noqa: E402
from embedsvc.types import DocumentInput  # noqa: E402
from tests.conftest import ServerProcess  # noqa: E402

WORDS = ["river", "signal", "archive", "lantern", "harbor", "meadow", "circuit", "quartz",
         "velvet", "orbit", "canyon", "ember", "glacier", "pixel", "thunder", "mountain"]


def text_for(rng: random.Random) -> str:
    return ". ".join(" ".join(rng.choices(WORDS, k=12)) for _ in range(rng.randint(2, 12))) + "."


class Writer:
    """Writes until told to stop or until a call fails; remembers what was acknowledged."""

    def __init__(self, client, rng: random.Random, expected: dict[str, str]) -> None:
        self.client, self.rng, self.expected = client, rng, expected
        self.in_flight: dict[str, str | None] | None = None  # doc id -> hash (None: delete)
        self.acknowledged = 0
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                self._write_once()
            except Exception:
                return  # the server died under this call: it stays in flight, unacknowledged
            for doc_id, content_hash in self.in_flight.items():
                if content_hash is None:
                    self.expected.pop(doc_id, None)
                else:
                    self.expected[doc_id] = content_hash
            self.in_flight = None
            self.acknowledged += 1

    def _write_once(self) -> None:
        if self.expected and self.rng.random() < 0.2:
            victims = self.rng.sample(sorted(self.expected), k=1)
            self.in_flight = dict.fromkeys(victims)
            self.client.delete_documents("kb", victims)
            return
        documents = {}
        for _ in range(self.rng.randint(1, 3)):
            document = DocumentInput(f"d{self.rng.randint(0, 200)}", text_for(self.rng))
            documents[document.id] = document
        self.in_flight = {d.id: d.content_hash for d in documents.values()}
        self.client.upsert("kb", list(documents.values()))


def check(core: Core, expected: dict[str, str], in_flight: dict[str, str | None] | None
          ) -> tuple[int, int]:
    """(acknowledged writes lost, inconsistencies) of the store after a kill."""
    info = core.get_collection("kb")
    stored = {s.id: s.content_hash for s in core.document_summaries("kb")}
    pending = in_flight or {}
    lost = sum(1 for doc_id, content_hash in expected.items()
               if doc_id not in pending and stored.get(doc_id) != content_hash)
    unexpected = [doc_id for doc_id in stored
                  if doc_id not in pending and stored[doc_id] != expected.get(doc_id)]
    applied = {doc_id: stored.get(doc_id) == content_hash
               for doc_id, content_hash in pending.items()}
    partial = len(set(applied.values())) > 1  # the unacknowledged call half applied
    vectors = core.storage.vectors
    sql_chunks = set(core.storage.repository.ids(info, "chunk").tolist())
    inconsistent = (
        len(unexpected) + int(partial)
        + int(set(vectors.ids(info).tolist()) != sql_chunks)
        + int(vectors.count(info, "document") != len(stored))
    )
    for doc_id, was_applied in applied.items():  # what the kill left becomes the truth
        if was_applied:
            if pending[doc_id] is None:
                expected.pop(doc_id, None)
            else:
                expected[doc_id] = pending[doc_id]
    return lost, inconsistent


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=50)
    parser.add_argument("--postgres", action="store_true", help="PostgreSQL instead of SQLite")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    encoder = SentenceTransformerEncoder.from_spec()
    totals = {"rounds": 0, "acknowledged_writes": 0, "lost": 0, "inconsistencies": 0}
    expected: dict[str, str] = {}
    with contextlib.ExitStack() as stack:
        data = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="kills-"))) / "data"
        url = stack.enter_context(postgres_database()) if args.postgres else ""
        settings = Settings(data_dir=data, database_url=url)
        setup = Core(settings, encoder)
        setup.create_collection("kb", max_chunk_tokens=48)
        setup.close()
        started = time.monotonic()
        for number in range(args.rounds):
            server = ServerProcess(data, url, EMBEDSVC_FLUSH_INTERVAL="1").start()
            with server.client(timeout=60, attempts=1) as client:
                writer = Writer(client, rng, expected)
                thread = threading.Thread(target=writer.run)
                thread.start()
                time.sleep(rng.uniform(0.2, 3.0))
                server.process.send_signal(signal.SIGKILL)
                server.process.wait()
                writer.stop.set()
                thread.join()
            core = Core(settings, encoder)
            try:
                lost, inconsistent = check(core, expected, writer.in_flight)
            finally:
                core.close()
            totals["rounds"] += 1
            totals["acknowledged_writes"] += writer.acknowledged
            totals["lost"] += lost
            totals["inconsistencies"] += inconsistent
            print(f"round {number + 1}: {writer.acknowledged} acknowledged, {lost} lost, "
                  f"{inconsistent} inconsistent, {len(expected)} documents", flush=True)
    totals["seconds"] = round(time.monotonic() - started)
    store = "postgres" if args.postgres else "sqlite"
    print(f"\n{store}: {totals['rounds']} kills, {totals['acknowledged_writes']} acknowledged "
          f"writes, {totals['lost']} lost, {totals['inconsistencies']} inconsistencies "
          f"(goal 0 and 0), {totals['seconds']}s")
    write_results(f"random_kills_{store}", totals)
    return 0 if totals["lost"] == totals["inconsistencies"] == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
