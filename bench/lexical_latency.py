"""PostgreSQL lexical query latency: BM25 (storage/sql/bm25.py) against plain `ts_rank`.

Chunks are 60-word windows of the Python library reference pages (python3.11-doc), every
``step`` words, written straight into a migrated PostgreSQL database of their own (no
vectors: only the lexical index is timed); queries are the pages' titles and the Python FAQ
questions. Per query, interleaved: `ts_rank` (the ranking PostgreSQL had before BM25, kept
here for comparison only), BM25 with its statistics cached ("warm", every later query over
words already seen) and BM25 right after a write ("cold": the cache emptied, so the chunk
count, mean length and each word's df are counted again). Prints p50 / p99 in ms per size.

Run: `.venv/bin/python bench/lexical_latency.py [--chunks 3000,100000] [--k 50]`.
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np
from _datasets import ensure_doc_packages, python_faq, python_library_pages
from _metrics import markdown_table, write_results
from _postgres import postgres_database
from sqlalchemy import text

from embedsvc.lexical import chunk_terms, query_terms
from embedsvc.storage.sql.bm25 import Bm25Statistics
from embedsvc.storage.sql.repository import SqlRepository
from embedsvc.types import CollectionInfo, EncoderProfile

WINDOW = 60
CHUNKS_PER_DOCUMENT = 20
# The ranking PostgreSQL used before BM25, for comparison: every term alike.
def ts_rank(terms: list[str]):
    """The ranked query as it was: one plainto_tsquery per term, OR-ed, ranked by ts_rank."""
    tsquery = " || ".join(f"plainto_tsquery('english', :t{i})" for i in range(len(terms)))
    return text(
        f"SELECT id, ts_rank(lexical, {tsquery}) AS score FROM chunks"
        f" WHERE collection_id = :collection AND lexical @@ ({tsquery})"
        " ORDER BY score DESC, id LIMIT :k"
    ).bindparams(**{f"t{i}": term for i, term in enumerate(terms)})


def windows(words: list[str], count: int) -> list[str]:
    """``count`` windows of WINDOW words, spread evenly (overlapping when words run short)."""
    step = max(1, (len(words) - WINDOW) // count)
    starts = ((i * step) % (len(words) - WINDOW) for i in range(count))
    return [" ".join(words[start:start + WINDOW]) for start in starts]


def load(repository: SqlRepository, texts: list[str]) -> CollectionInfo:
    info = repository.create_collection(CollectionInfo(
        "lexical", "none", "none", 4, "cosine", 256, EncoderProfile()))
    with repository.engine.begin() as connection:
        for start in range(0, len(texts), CHUNKS_PER_DOCUMENT):
            document = connection.execute(text(
                "INSERT INTO documents (collection_id, external_id, text, language, metadata,"
                " content_hash, updated_at) VALUES (:c, :e, '', '', '{}', '', now())"
                " RETURNING id"), {"c": info.id, "e": f"doc-{start}"}).scalar_one()
            connection.execute(text(
                "INSERT INTO chunks (collection_id, document_id, ordinal, text, start_char,"
                " end_char, start_line, end_line, token_count, content_hash, context, symbol,"
                " kind, vector, terms) VALUES (:c, :d, :o, :t, 0, 0, 0, 0, 0, '', '', '', '',"
                " '', :terms)"),
                [{"c": info.id, "d": document, "o": i, "t": chunk, "terms": chunk_terms(chunk)}
                 for i, chunk in enumerate(texts[start:start + CHUNKS_PER_DOCUMENT])])
        connection.execute(text("ANALYZE chunks"))
    return info


def timed(run) -> float:
    started = time.perf_counter()
    run()
    return (time.perf_counter() - started) * 1000


def measure(url: str, texts: list[str], queries: list[list[str]], k: int) -> dict[str, list]:
    repository = SqlRepository(url)
    try:
        info = load(repository, texts)
        times: dict[str, list[float]] = {"ts_rank": [], "BM25, statistics cached": [],
                                         "BM25 after a write (statistics counted)": []}
        with repository.engine.connect() as connection:
            for terms in queries:
                before = ts_rank(terms)
                times["ts_rank"].append(timed(lambda q=before: connection.execute(
                    q, {"collection": info.id, "k": k}).all()))
                repository._bm25 = Bm25Statistics()
                for name in ("BM25 after a write (statistics counted)",
                             "BM25, statistics cached"):
                    times[name].append(
                        timed(lambda t=terms: repository.lexical_chunks(info, t, k)))
        return times
    finally:
        repository.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--chunks", default="3000,100000")
    parser.add_argument("--k", type=int, default=50)
    parser.add_argument("--queries", type=int, default=200)
    args = parser.parse_args()
    ensure_doc_packages()
    pages = python_library_pages()
    words = " ".join(pages.documents).split()
    asked = pages.queries + [pair.question for pair in python_faq()]
    queries = [t for t in (query_terms(q) for q in asked) if t][:args.queries]
    rows, results = [], {}
    for count in (int(c) for c in args.chunks.split(",")):
        with postgres_database("embedsvc_lexical") as url:
            times = measure(url, windows(words, count), queries, args.k)
        results[count] = {name: {"p50": float(np.percentile(t, 50)),
                                 "p99": float(np.percentile(t, 99))}
                          for name, t in times.items()}
        for name, stats in results[count].items():
            rows.append([f"{count:,}", name, f"{stats['p50']:.1f}", f"{stats['p99']:.1f}"])
        print(f"{count} chunks done", flush=True)
    print(f"\nPostgreSQL lexical query latency, {len(queries)} queries, k = {args.k}, "
          f"load average {os.getloadavg()[0]:.1f}\n")
    print(markdown_table(["chunks", "ranking", "p50 ms", "p99 ms"], rows))
    write_results("lexical_latency", {"k": args.k, "queries": len(queries), "sizes": results})


if __name__ == "__main__":
    main()
