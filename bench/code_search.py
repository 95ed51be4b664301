"""Code search: do AST chunks (with or without context headers) beat plain line windows?

Queries are the first sentences of stdlib function docstrings; the indexed files have every
docstring and comment blanked out (line numbers kept), so a query can only be matched through
the code. Each strategy chunks every file, all chunks of all files form one index, and the top
10 chunks by cosine are judged: a chunk is a hit when it comes from the gold file and overlaps
the gold function by at least half of the shorter of the two line spans.

Strategies: fixed line windows bounded by the token budget (what a generic splitter gives), the
AST chunker's chunks embedded as bare text, and the same chunks embedded with their context
header (``Chunk.embed_input``). Prints a markdown table, writes bench/results/code_search.json.
"""

from __future__ import annotations

import argparse
import bisect
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import numpy as np
from _cache import EmbeddingCache
from _datasets import CodeFile, CodeQuery, code_search_set
from _metrics import first_hit_ranks, markdown_table, mrr, recall, top_k, write_results

from embedsvc.chunking import chunk_document
from embedsvc.encoding.sentence_transformer import SentenceTransformerEncoder as Encoder

MAX_FILES = 60
MAX_QUERIES = 400
WINDOW_LINES = 40  # LlamaIndex CodeSplitter's default chunk_lines
TOP_K = 10


@dataclass(frozen=True)
class Piece:
    """What one strategy indexes: the text embedded and the file lines it stands for."""

    path: str
    embedded: str
    start_line: int
    end_line: int
    tokens: int


Strategy = Callable[[CodeFile], list[Piece]]


def line_windows(file: CodeFile, tokenizer: Any, max_tokens: int) -> list[Piece]:
    """Consecutive windows of up to WINDOW_LINES whole lines and ``max_tokens`` tokens.

    The baseline: no syntax, just lines packed greedily; blank lines at a window's ends are
    dropped. A window still over budget (one huge line: rare in the stdlib) is cut to it.
    """
    source, special = file.source, tokenizer.num_special_tokens_to_add()
    encoded = tokenizer(source, add_special_tokens=False, return_offsets_mapping=True,
                        verbose=False)
    token_starts = [start for start, end in encoded["offset_mapping"] if end > start]
    lines = source.split("\n")
    line_starts = np.cumsum([0] + [len(line) + 1 for line in lines])
    per_line = np.diff([bisect.bisect_left(token_starts, s) for s in line_starts])
    budget = max_tokens - special
    windows: list[tuple[int, int]] = []
    first = 0
    while first < len(lines):
        last, used = first, int(per_line[first])
        while last + 1 < len(lines) and last + 1 - first < WINDOW_LINES and (
            used + per_line[last + 1] <= budget
        ):
            last += 1
            used += int(per_line[last])
        windows.append((first, last))
        first = last + 1
    return [p for a, b in windows if (p := _window(file.path, lines, a, b, tokenizer, max_tokens))]


def _window(
    path: str, lines: list[str], first: int, last: int, tokenizer: Any, max_tokens: int
) -> Piece | None:
    while first <= last and not lines[first].strip():
        first += 1
    while last >= first and not lines[last].strip():
        last -= 1
    if first > last:
        return None
    text = "\n".join(lines[first : last + 1])
    encoded = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True, verbose=False)
    budget = max_tokens - tokenizer.num_special_tokens_to_add()
    offsets = encoded["offset_mapping"]
    if len(offsets) > budget:  # estimates were off, or one line alone is over budget
        text = text[: offsets[budget - 1][1]]
        last = first + text.count("\n")
    tokens = min(len(offsets), budget) + tokenizer.num_special_tokens_to_add()
    return Piece(path, text, first + 1, last + 1, tokens)


def ast_chunks(tokenizer: Any, max_tokens: int, with_context: bool) -> Strategy:
    def chunk(file: CodeFile) -> list[Piece]:
        chunks = chunk_document(file.source, tokenizer, max_tokens, path=file.path)
        texts = [c.embed_input if with_context else c.text for c in chunks]
        counts = [len(ids) for ids in tokenizer(texts, verbose=False)["input_ids"]] if texts else []
        return [
            Piece(file.path, text, c.start_line, c.end_line, n)
            for c, text, n in zip(chunks, texts, counts, strict=True)
        ]

    return chunk


def is_hit(piece: Piece, query: CodeQuery) -> bool:
    """Same file, and overlapping the function by half of the shorter line span."""
    if piece.path != query.path:
        return False
    overlap = min(piece.end_line, query.end_line) - max(piece.start_line, query.start_line) + 1
    shorter = min(piece.end_line - piece.start_line, query.end_line - query.start_line) + 1
    return overlap >= shorter / 2


def evaluate(
    name: str, pieces: list[Piece], queries: list[CodeQuery], query_vectors: np.ndarray,
    cache: EmbeddingCache,
) -> dict[str, Any]:
    vectors = cache.embed([p.embedded for p in pieces], label=f"{name} chunks")
    ranked = top_k(query_vectors @ vectors.T, TOP_K)
    hits = [[is_hit(pieces[i], q) for i in row] for row, q in zip(ranked, queries, strict=True)]
    ranks = first_hit_ranks(hits)
    by_file: dict[str, list[Piece]] = {}
    for piece in pieces:
        by_file.setdefault(piece.path, []).append(piece)
    reachable = np.mean([any(is_hit(p, q) for p in by_file.get(q.path, [])) for q in queries])
    return {
        "strategy": name,
        "mrr@10": mrr(ranks, TOP_K),
        "recall@1": recall(ranks, 1),
        "recall@10": recall(ranks, TOP_K),
        "hit_reachable": float(reachable),
        "chunks": len(pieces),
        "mean_tokens": float(np.mean([p.tokens for p in pieces])),
        "ranks": ranks.tolist(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--files", type=int, default=MAX_FILES)
    parser.add_argument("--queries", type=int, default=MAX_QUERIES)
    parser.add_argument("--max-tokens", type=int, default=0, help="default: the model's window")
    args = parser.parse_args()
    started = time.monotonic()
    encoder = Encoder.from_spec()
    tokenizer, max_tokens = encoder.tokenizer, args.max_tokens or encoder.info.max_tokens
    cache = EmbeddingCache(encoder)
    data = code_search_set(args.files, args.queries)
    query_vectors = cache.embed([q.text for q in data.queries], label="queries")
    strategies: dict[str, Strategy] = {
        "line windows": lambda f: line_windows(f, tokenizer, max_tokens),
        "AST chunks, text only": ast_chunks(tokenizer, max_tokens, with_context=False),
        "AST chunks + context": ast_chunks(tokenizer, max_tokens, with_context=True),
    }
    results = []
    for name, strategy in strategies.items():
        pieces = [piece for file in data.files for piece in strategy(file)]
        results.append(evaluate(name, pieces, data.queries, query_vectors, cache))
    headers = ["Strategy", "MRR@10", "Recall@1", "Recall@10", "Hit reachable", "#chunks",
               "Mean tokens"]
    keys = ["strategy", "mrr@10", "recall@1", "recall@10", "hit_reachable", "chunks",
            "mean_tokens"]
    print(f"\nCode search: {len(data.files)} stdlib files, {len(data.queries)} queries, "
          f"budget {max_tokens} tokens, model {encoder.info.name}\n")
    print(markdown_table(headers, [[r[k] for k in keys] for r in results]))
    elapsed = time.monotonic() - started
    print(f"\n{elapsed:.0f} s, {cache.encoded} texts embedded (the rest from bench/.cache)")
    write_results("code_search", {
        "model": encoder.info.name, "max_tokens": max_tokens, "window_lines": WINDOW_LINES,
        "files": [f.path for f in data.files],
        "queries": [vars(q) for q in data.queries],
        "results": results, "seconds": elapsed,
    })


if __name__ == "__main__":
    main()
