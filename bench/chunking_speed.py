"""Chunking speed: MB of source per second on one core, for the code and the text chunker.

Chunking runs on the indexing path before any embedding, so it must stay far cheaper than the
model. Everything runs on one thread (tokenizers' Rayon pool and torch limited to one), and
both wall time and process CPU time are reported: on a shared machine CPU time is the steadier
per-core figure. Tokenizing the same inputs once (with offsets, as every chunker here must)
shows the floor set by the tokenizer alone. Each figure is the best of REPEATS passes.
Prints a markdown table, writes bench/results/chunking_speed.json.
"""

from __future__ import annotations

import os

os.environ["TOKENIZERS_PARALLELISM"] = "false"
os.environ["RAYON_NUM_THREADS"] = "1"
os.environ["OMP_NUM_THREADS"] = "1"
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from _datasets import SEED, ensure_doc_packages, perl_faq_files, python_faq_files, stdlib_files
from _metrics import markdown_table, write_results
from transformers import AutoTokenizer

from embedsvc.chunking import Chunk, chunk_document
from embedsvc.encoding.models import resolve_model_path

REPEATS = 3
CODE_BYTES = 3_000_000  # a seeded sample of stdlib files up to this size
MAX_TOKENS = 256  # the bundled model's window

Chunker = Callable[[str, str], list[Any]]


@dataclass
class Timing:
    wall_s: float
    cpu_s: float
    chunks: int


def code_corpus() -> list[tuple[str, str]]:
    """(path, source) of stdlib files in seeded order, up to CODE_BYTES of UTF-8."""
    paths = list(stdlib_files())
    random.Random(SEED).shuffle(paths)
    corpus, size = [], 0
    for path in paths:
        source = path.read_text(encoding="utf-8", errors="replace")
        if size + len(source.encode()) > CODE_BYTES:
            break
        corpus.append((str(path), source))
        size += len(source.encode())
    return corpus


def text_corpus() -> list[tuple[str, str]]:
    """The Python FAQ (reStructuredText) and perlfaq (POD) files, each one document."""
    return [(str(p), Path(p).read_text(encoding="utf-8"))
            for p in [*python_faq_files(), *perl_faq_files()]]


def measure(chunker: Chunker, corpus: list[tuple[str, str]]) -> Timing:
    """Best of REPEATS passes (after a warm-up on the first file)."""
    chunker(*corpus[0])
    best = None
    for _ in range(REPEATS):
        wall, cpu = time.perf_counter(), time.process_time()
        chunks = sum(len(chunker(path, source)) for path, source in corpus)
        timing = Timing(time.perf_counter() - wall, time.process_time() - cpu, chunks)
        best = timing if best is None or timing.wall_s < best.wall_s else best
    assert best is not None
    return best


def main() -> None:
    ensure_doc_packages()
    tokenizer: Any = AutoTokenizer.from_pretrained(str(resolve_model_path("")))

    def chunk(path: str, source: str) -> list[Chunk]:
        return chunk_document(source, tokenizer, MAX_TOKENS, path=path)

    def tokenize(path: str, source: str) -> list[Any]:
        return tokenizer(source, return_offsets_mapping=True, verbose=False)["input_ids"]

    corpora = {"stdlib .py": code_corpus(), "FAQ rst/pod": text_corpus()}
    cases = [("code chunker (AST)", "stdlib .py", chunk),
             ("text chunker (sentences)", "FAQ rst/pod", chunk),
             ("tokenize only (floor)", "stdlib .py", tokenize),
             ("tokenize only (floor)", "FAQ rst/pod", tokenize)]
    rows = []
    for name, corpus_name, chunker in cases:
        corpus = corpora[corpus_name]
        megabytes = sum(len(source.encode()) for _, source in corpus) / 1e6
        timing = measure(chunker, corpus)
        rows.append({
            "chunker": name, "corpus": corpus_name, "files": len(corpus), "mb": megabytes,
            "chunks": timing.chunks, "wall_s": timing.wall_s, "cpu_s": timing.cpu_s,
            "mb_per_s": megabytes / timing.wall_s, "mb_per_cpu_s": megabytes / timing.cpu_s,
        })
    headers = ["Chunker", "Corpus", "Files", "MB", "Chunks / tokens", "MB/s (wall)", "MB/CPU-s"]
    keys = ["chunker", "corpus", "files", "mb", "chunks", "mb_per_s", "mb_per_cpu_s"]
    print(f"\nChunking speed, one thread, budget {MAX_TOKENS} tokens, best of {REPEATS}\n")
    print(markdown_table(headers, [[r[k] for k in keys] for r in rows]))
    write_results("chunking_speed", {"max_tokens": MAX_TOKENS, "repeats": REPEATS, "rows": rows})


if __name__ == "__main__":
    main()
