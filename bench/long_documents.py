"""Long documents: which document-level score finds the document that answers a question?

Documents are runs of consecutive FAQ answers (Python FAQ, perlfaq) with the questions left
out, several model windows long, so most answers start past the first window; the query is
the question and the gold item is the document holding its answer. Every method ranks all
documents:

* first window: the whole document embedded as one text, truncated to the model window
  (what plain sentence-transformers gives);
* mean / token-weighted mean: cosine with the mean of the chunk vectors (the index vector);
* the chunk-similarity scorers of embedsvc.aggregation (max, max_mean, lse, top_m).

The Python FAQ is the tuning set for the scorers' parameters; perlfaq and the needle set (one
invented fact per Python FAQ document, asked for by name) check that the choice carries over.
The Python library pages (query: a page's title, gold: the page; the sample and the held-out
pages of bench/retrieval_quality.py) ask the other question: which document is about this.
Prints markdown tables, writes bench/results/long_documents.json.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import numpy as np
from _cache import EmbeddingCache
from _datasets import (
    LongDocumentSet,
    ensure_doc_packages,
    group_answers,
    library_set,
    perlfaq,
    python_faq,
    with_needles,
)
from _metrics import gold_ranks, markdown_table, mrr, recall, write_results

from embedsvc.aggregation import DEFAULT_METHOD, Method, document_scores, mean_vector
from embedsvc.chunking import chunk_document
from embedsvc.chunking.tokens import TokenCounter
from embedsvc.encoding.sentence_transformer import SentenceTransformerEncoder as Encoder

ANSWERS_PER_DOCUMENT = 6
FIRST_WINDOW = "first window (truncation)"
MEAN = "mean of chunk vectors"
SCORERS = [
    Method("max"),
    *(Method("max_mean", {"alpha": a}) for a in (0.5, 0.8, 0.9, 0.95)),
    Method("max_mean_first", {"alpha": 0.9, "first": 0.3}),
    *(Method("lse", {"temperature": t}) for t in (0.01, 0.02, 0.05)),
    *(Method("top_m", {"m": m}) for m in (2, 3)),
]


@dataclass
class Embedded:
    """A set's vectors: queries, whole documents (truncated), and chunks per document."""

    queries: np.ndarray
    documents: np.ndarray
    chunks: list[np.ndarray]
    chunk_tokens: list[np.ndarray]
    in_first_window: np.ndarray  # per query: its answer starts inside the first window


def label(method: Method) -> str:
    params = ", ".join(f"{k}={v}" for k, v in method.params.items())
    return f"{method.name}({params})"


def embed_set(data: LongDocumentSet, cache: EmbeddingCache, max_tokens: int) -> Embedded:
    tokenizer = cache.encoder.tokenizer
    chunked = [chunk_document(d, tokenizer, max_tokens) for d in data.documents]
    flat = [c.embed_input for chunks in chunked for c in chunks]
    vectors = cache.embed(flat, label=f"{data.name} chunks")
    bounds = np.cumsum([0] + [len(chunks) for chunks in chunked])
    prefixes = [data.documents[g][:start] for g, start in zip(data.gold, data.answer_starts,
                                                                     strict=True)]
    counter = TokenCounter(tokenizer)
    window = max_tokens - counter.special
    before = [count - counter.special for count in counter.count_many(prefixes)]
    return Embedded(
        queries=cache.embed(data.queries, label=f"{data.name} queries"),
        documents=cache.embed(data.documents, label=f"{data.name} documents"),
        chunks=np.split(vectors, bounds[1:-1]),
        chunk_tokens=[np.array([c.token_count for c in chunks]) for chunks in chunked],
        in_first_window=np.array(before) < window,
    )


def all_scores(e: Embedded) -> dict[str, np.ndarray]:
    """(queries x documents) scores of every method."""
    weighted = np.stack([mean_vector(v, w) for v, w in zip(e.chunks, e.chunk_tokens, strict=True)])
    scores = {
        FIRST_WINDOW: e.queries @ e.documents.T,
        MEAN: document_scores(e.queries, e.chunks, "mean"),
        "token-weighted mean": e.queries @ weighted.T,
    }
    scores.update((label(m), document_scores(e.queries, e.chunks, m)) for m in SCORERS)
    return scores


def metrics(scores: np.ndarray, gold: list[int], in_first: np.ndarray
            ) -> dict[str, float | None]:
    """The answer-position splits are None where no query falls in them (whole pages)."""
    ranks = gold_ranks(scores, gold)
    return {
        "mrr@10": mrr(ranks, 10),
        "recall@1": recall(ranks, 1),
        "recall@10": recall(ranks, 10),
        "recall@1 answer in first window": recall(ranks[in_first], 1) if in_first.any()
        else None,
        "recall@1 answer past first window": recall(ranks[~in_first], 1)
        if (~in_first).any() else None,
    }


def evaluate(data: LongDocumentSet, cache: EmbeddingCache, max_tokens: int) -> dict[str, Any]:
    embedded = embed_set(data, cache, max_tokens)
    rows = {name: metrics(s, data.gold, embedded.in_first_window)
            for name, s in all_scores(embedded).items()}
    windows = [len(c) for c in embedded.chunks]
    return {
        "name": data.name,
        "documents": len(data.documents),
        "queries": len(data.queries),
        "chunks_per_document": {"mean": float(np.mean(windows)), "max": int(max(windows))},
        "answers_past_first_window": float((~embedded.in_first_window).mean()),
        "methods": rows,
    }


def report(result: dict[str, Any]) -> str:
    columns = ["mrr@10", "recall@1", "recall@10", "recall@1 answer in first window",
               "recall@1 answer past first window"]
    headers = ["Method", "MRR@10", "R@1", "R@10", "R@1 (answer in window 1)",
               "R@1 (answer later)"]
    default = label(DEFAULT_METHOD)
    rows = [[f"**{name} (default)**" if name == default else name,
             *("—" if m[c] is None else m[c] for c in columns)]
            for name, m in result["methods"].items()]
    chunks = result["chunks_per_document"]
    title = (f"### {result['name']}: {result['documents']} documents, {result['queries']} queries,"
             f" {chunks['mean']:.1f} chunks per document (max {chunks['max']}),"
             f" {result['answers_past_first_window']:.0%} of answers start past window 1")
    return f"{title}\n\n{markdown_table(headers, rows)}"


def default_beats_baselines(result: dict[str, Any]) -> bool:
    """The default's MRR@10 and Recall@1 are above both first-window and plain mean's."""
    methods = result["methods"]
    default = methods[label(DEFAULT_METHOD)]
    return all(default[k] > methods[b][k] for b in (FIRST_WINDOW, MEAN)
               for k in ("mrr@10", "recall@1"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--max-tokens", type=int, default=0, help="default: the model's window")
    args = parser.parse_args()
    ensure_doc_packages()
    started = time.monotonic()
    encoder = Encoder.from_spec()
    max_tokens = args.max_tokens or encoder.info.max_tokens
    cache = EmbeddingCache(encoder)
    python = group_answers("Python FAQ", python_faq(), ANSWERS_PER_DOCUMENT)
    sets: list[Callable[[], LongDocumentSet]] = [
        lambda: python,
        lambda: group_answers("perlfaq", perlfaq(), ANSWERS_PER_DOCUMENT),
        lambda: with_needles(python),
        library_set,
        lambda: library_set(held_out=True),
    ]
    results = [evaluate(make(), cache, max_tokens) for make in sets]
    print(f"\nLong documents: {ANSWERS_PER_DOCUMENT} consecutive answers per document, "
          f"budget {max_tokens} tokens, model {encoder.info.name}")
    for result in results:
        print(f"\n{report(result)}")
    verdicts = {r["name"]: default_beats_baselines(r) for r in results}
    print(f"\nDefault {label(DEFAULT_METHOD)} beats first window and mean on MRR@10 and R@1: "
          + ", ".join(f"{name}: {'yes' if ok else 'NO'}" for name, ok in verdicts.items()))
    elapsed = time.monotonic() - started
    print(f"\n{elapsed:.0f} s, {cache.encoded} texts embedded (the rest from bench/.cache)")
    write_results("long_documents", {
        "model": encoder.info.name, "max_tokens": max_tokens,
        "answers_per_document": ANSWERS_PER_DOCUMENT,
        "default_method": {"name": DEFAULT_METHOD.name, "params": dict(DEFAULT_METHOD.params)},
        "default_beats_baselines": verdicts, "sets": results, "seconds": elapsed,
    })


if __name__ == "__main__":
    main()
