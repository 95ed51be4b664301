"""The on-disk cache of OpenVINO models: one folder per model fingerprint and runtime version.

``model.xml`` is the exact f32 export (`export.py`), ``int8.xml`` its NNCF static quantization
calibrated on local texts, ``meta.json`` the precision checks measured on each CPU kind. Every
file is written aside and renamed into place, and a lock file serializes the processes that
would create the same files, so a crash or a second server never sees half an export.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from embedsvc.encoding.calibration import local_texts
from embedsvc.encoding.pipeline import FastTokenizer

# Bump when what an export contains changes, so old caches are not reused.
EXPORT_VERSION = 1


def export_dir(cache_dir: Path, fingerprint: str) -> Path:
    """Where the exports of one model for the installed OpenVINO live."""
    import openvino

    version = openvino.__version__.split("-")[0]
    return cache_dir / "openvino" / f"{fingerprint}-ov{version}-e{EXPORT_VERSION}"


@contextlib.contextmanager
def locked(directory: Path) -> Iterator[None]:
    """One process at a time creates files in ``directory``; the others wait, then reuse them."""
    directory.mkdir(parents=True, exist_ok=True)
    with (directory / ".lock").open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def quantize_int8(source: Path, target: Path, tokenizer: FastTokenizer) -> None:
    """Static int8 (NNCF) of the f32 IR at ``source``, calibrated on local texts."""
    import nncf
    import openvino as ov

    model = ov.Core().read_model(source)
    names = {port.get_any_name() for port in model.inputs}
    samples = [
        {name: value for name, value in tokenizer.batch([text]).items() if name in names}
        for text in local_texts()
    ]
    with contextlib.redirect_stdout(sys.stderr):  # NNCF's progress bars; stdout may be data
        quantized = nncf.quantize(
            model, nncf.Dataset(samples), model_type=nncf.ModelType.TRANSFORMER,
            subset_size=len(samples),
        )
    save_ir(quantized, target)


def run_model(xml: Path, hint: str, tokenizer: FastTokenizer, texts: list[str]) -> np.ndarray:
    """Pooled vectors of ``texts`` from the IR at ``xml`` at precision ``hint`` (one batch)."""
    import openvino as ov

    compiled = ov.Core().compile_model(xml, "CPU", {"INFERENCE_PRECISION_HINT": hint})
    names = {port.get_any_name() for port in compiled.inputs}
    inputs = {k: v for k, v in tokenizer.batch(texts).items() if k in names}
    return np.asarray(compiled.create_infer_request().infer(inputs)[0], dtype=np.float32)


def cosines(reference: np.ndarray, other: np.ndarray) -> dict[str, float]:
    """Min and mean cosine between matching rows."""
    a = reference / np.linalg.norm(reference, axis=1, keepdims=True)
    b = other / np.linalg.norm(other, axis=1, keepdims=True)
    values = (a * b).sum(axis=1)
    return {"min": float(values.min()), "mean": float(values.mean())}


def read_meta(directory: Path) -> dict[str, Any]:
    try:
        return json.loads((directory / "meta.json").read_text())
    except (OSError, ValueError):
        return {}


def write_meta(directory: Path, meta: dict[str, Any]) -> None:
    """Replace ``meta.json`` atomically (write, fsync, rename)."""
    with tempfile.NamedTemporaryFile("w", dir=directory, delete=False, suffix=".tmp") as handle:
        json.dump(meta, handle, indent=1, sort_keys=True)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(handle.name, directory / "meta.json")


def save_ir(model: Any, target: Path) -> None:
    """Write ``target`` (.xml and .bin) so that a reader never sees half of it."""
    import openvino as ov

    partial = target.with_name(f".{target.stem}.partial.xml")
    ov.save_model(model, partial, compress_to_fp16=False)
    os.replace(partial.with_suffix(".bin"), target.with_suffix(".bin"))
    os.replace(partial, target)
