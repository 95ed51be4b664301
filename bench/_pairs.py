"""Training pairs for 2DMSE fine-tuning: a docstring's first sentence -> its function's code.

The pairs mirror the code-search benchmark (query = first docstring sentence, document = the
function with docstrings and comments blanked) but come from third-party packages installed in
the venv, never from the Python standard library that benchmark evaluates on. Pairs whose
sentence or code also occurs in the stdlib are dropped too (packages copy stdlib code), so no
evaluation query or answer is trained on. Selection is deterministic (sorted walks, fixed seed).

    .venv/bin/python bench/_pairs.py        # writes bench/.cache/pairs.jsonl
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import json
import random
import sysconfig
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from _datasets import SEED, SKIPPED_DIRS, blank_docs_and_comments, first_sentence, stdlib_files
from transformers import AutoTokenizer

from embedsvc.encoding.models import resolve_model_path

PAIRS_FILE = Path(__file__).parent / ".cache" / "pairs.jsonl"
# Libraries with many documented functions, none of them vendoring the stdlib (pip, setuptools
# and _pytest do, and would leak evaluation answers even after the exact-match filter).
PACKAGES = (
    "alembic", "click", "fsspec", "google/protobuf", "grpc", "huggingface_hub", "jinja2",
    "joblib", "markdown_it", "networkx", "numpy", "pydantic", "pygments", "rich", "scipy",
    "sentence_transformers", "sklearn", "sqlalchemy", "sympy", "torch", "transformers", "typer",
)
MAX_PAIRS = 4000
PER_PACKAGE = 400  # so the biggest packages (transformers, torch) do not drown the rest
MAX_FILE_BYTES = 200_000
# Positives are cut to this many tokens: a training step pads every text to the longest one, so
# this halves the cost of a CPU step, and code-search chunks average about 100 tokens anyway.
MAX_POSITIVE_TOKENS = 128
_DEF_NODES = (ast.FunctionDef, ast.AsyncFunctionDef)


@dataclass(frozen=True)
class Pair:
    anchor: str
    positive: str
    source: str  # package-relative path, for inspection only


def package_files(package: str) -> list[Path]:
    """A package's .py files in sorted order, without tests (they document little)."""
    root = Path(sysconfig.get_paths()["purelib"], package)
    return sorted(
        path for path in root.rglob("*.py")
        if not SKIPPED_DIRS.intersection(path.relative_to(root).parts[:-1])
        and path.stat().st_size <= MAX_FILE_BYTES
    )


def function_pairs(path: Path, name: str) -> Iterator[Pair]:
    """(first sentence, blanked code) of each function with a 3+ word sentence and 3+ lines."""
    try:
        source = path.read_text(encoding="utf-8")
    except (UnicodeDecodeError, OSError):
        return
    blanked = blank_docs_and_comments(source)
    if blanked is None:
        return
    lines = blanked.split("\n")
    for node in ast.walk(ast.parse(source)):
        doc = ast.get_docstring(node) if isinstance(node, _DEF_NODES) else None
        if not doc:
            continue
        start = min([node.lineno] + [d.lineno for d in node.decorator_list])
        code = [line for line in lines[start - 1 : node.end_lineno] if line.strip()]
        sentence = first_sentence(doc)
        if len(sentence.split()) >= 3 and len(code) >= 3:
            yield Pair(sentence, "\n".join(code), name)


def code_key(code: str) -> str:
    """Whitespace-insensitive identity of a function's code, as the tokenizer sees it."""
    return hashlib.sha256(" ".join(code.split()).encode()).hexdigest()


def stdlib_keys() -> tuple[set[str], set[str]]:
    """Sentences and code keys of every stdlib function the evaluation could draw from."""
    pairs = [p for path in stdlib_files() for p in function_pairs(path, str(path))]
    return {p.anchor for p in pairs}, {code_key(p.positive) for p in pairs}


def package_pairs(package: str, rng: random.Random) -> list[Pair]:
    """Up to PER_PACKAGE pairs from files taken in seeded order (parsing all of torch is slow)."""
    root = Path(sysconfig.get_paths()["purelib"])
    files = package_files(package)
    pairs: list[Pair] = []
    for path in rng.sample(files, len(files)):
        if len(pairs) >= PER_PACKAGE:
            break
        pairs += function_pairs(path, str(path.relative_to(root)))
    return pairs[:PER_PACKAGE]


def build_pairs(max_pairs: int, packages: Iterable[str] = PACKAGES) -> list[Pair]:
    """Up to ``max_pairs`` pairs with unique sentences, none shared with the stdlib.

    A sentence seen twice ("Return the name.") has no single right code and is dropped.
    """
    rng = random.Random(SEED)
    pairs = [pair for package in packages for pair in package_pairs(package, rng)]
    sentences, codes = stdlib_keys()
    counts = Counter(pair.anchor for pair in pairs)
    kept = [
        p for p in pairs
        if counts[p.anchor] == 1 and p.anchor not in sentences and code_key(p.positive) not in codes
    ]
    return rng.sample(kept, min(max_pairs, len(kept)))


def cut_to_tokens(pairs: list[Pair], tokenizer: Any, max_tokens: int) -> list[Pair]:
    """Positives cut to ``max_tokens`` (special tokens included) at a token boundary."""
    budget = max_tokens - tokenizer.num_special_tokens_to_add()
    encoded = tokenizer([p.positive for p in pairs], add_special_tokens=False,
                        return_offsets_mapping=True, verbose=False)
    return [
        replace(pair, positive=pair.positive[: offsets[budget - 1][1]])
        if len(offsets) > budget else pair
        for pair, offsets in zip(pairs, encoded["offset_mapping"], strict=True)
    ]


def write_pairs(pairs: list[Pair], path: Path = PAIRS_FILE) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [json.dumps(vars(pair), ensure_ascii=False) for pair in pairs]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--max-pairs", type=int, default=MAX_PAIRS)
    parser.add_argument("--max-tokens", type=int, default=MAX_POSITIVE_TOKENS)
    parser.add_argument("--out", type=Path, default=PAIRS_FILE)
    args = parser.parse_args()
    tokenizer = AutoTokenizer.from_pretrained(str(resolve_model_path("")))
    pairs = cut_to_tokens(build_pairs(args.max_pairs), tokenizer, args.max_tokens)
    by_package = Counter(pair.source.split("/")[0] for pair in pairs)
    print(f"{len(pairs)} pairs -> {write_pairs(pairs, args.out)}")
    print(", ".join(f"{name} {count}" for name, count in sorted(by_package.items())))


if __name__ == "__main__":
    main()
