"""Local texts for int8 calibration and precision checks: nothing is downloaded.

Static int8 needs activations from real inputs to set its ranges. The docstrings of the Python
standard library that runs us are real English prose about code, present on every machine
with this interpreter, and deterministic: the same texts give the same quantized model.
"""

from __future__ import annotations

import ast
import functools
import sysconfig
from pathlib import Path

from embedsvc.errors import FailedPrecondition

_MIN_WORDS = 5
_SHORT_WORDS = 12


@functools.cache
def local_texts(count: int = 256) -> tuple[str, ...]:
    """``count`` texts, alternately a whole docstring (long) and its first line (query-like)."""
    docstrings = _stdlib_docstrings(count)
    if len(docstrings) < count // 2:
        raise FailedPrecondition(
            "found too few local texts to calibrate int8 on (the Python standard library "
            "sources are missing); use precision fp32 or bf16"
        )
    texts: list[str] = []
    for doc in docstrings:
        texts.append(doc)
        texts.append(" ".join(doc.split()[:_SHORT_WORDS]))
    return tuple(texts[:count])


def _stdlib_docstrings(count: int) -> list[str]:
    """Docstrings of at least ``_MIN_WORDS`` words, spread over the standard library's modules."""
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    found: list[str] = []
    for file in sorted(stdlib.glob("*.py")):
        try:
            tree = ast.parse(file.read_text(encoding="utf-8"))
        except (OSError, SyntaxError, UnicodeDecodeError, ValueError):
            continue
        nodes = (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)
        docs = [
            " ".join(doc.split()) for node in ast.walk(tree) if isinstance(node, nodes)
            if (doc := ast.get_docstring(node)) and len(doc.split()) >= _MIN_WORDS
        ]
        found.extend(docs[:4])  # a few per module, so no single module dominates
        if len(found) >= count:
            break
    return found
