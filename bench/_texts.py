"""Texts for throughput benchmarks: docstrings of the Python standard library.

Docstrings are English prose mixed with code, like the service's documents, and need no download.
Selection is deterministic (the sorted stdlib walk of _datasets, a fixed seed).
"""

from __future__ import annotations

import ast
import random
from collections.abc import Callable
from pathlib import Path

from _datasets import SEED, first_sentence, stdlib_files

_DOC_NODES = (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)


def _docstrings(path: Path) -> list[str]:
    """Module, class and function docstrings of one file, in source order."""
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"))
    except (SyntaxError, UnicodeDecodeError, ValueError):
        return []
    found = [ast.get_docstring(node) for node in ast.walk(tree) if isinstance(node, _DOC_NODES)]
    return [doc for doc in found if doc]


def stdlib_docstrings() -> list[list[str]]:
    """Docstrings grouped by file, so a long text never mixes two modules."""
    return [docs for docs in map(_docstrings, stdlib_files()) if docs]


def long_texts(
    by_file: list[list[str]], count: int, fit: Callable[[str], str],
    words: tuple[int, int] = (150, 250),
) -> list[str]:
    """Passages of a random length in ``words`` cut from each file's docstrings run together,
    then ``fit`` to the model window."""
    rng = random.Random(SEED)
    low, high = words
    passages = []
    for docs in by_file:
        stream = " ".join(docs).split()
        start = 0
        while len(stream) - start >= low:
            size = rng.randint(low, high)
            passages.append(fit(" ".join(stream[start:start + size])))
            start += size
    return rng.sample(passages, count)


def short_texts(by_file: list[list[str]], count: int, max_words: int = 20) -> list[str]:
    """Docstring first sentences of 3 to ``max_words - 1`` words, like search queries."""
    firsts = {first_sentence(doc) for docs in by_file for doc in docs}
    candidates = sorted(s for s in firsts if 3 <= len(s.split()) < max_words)
    return random.Random(SEED).sample(candidates, count)
