"""Serve a model's full-depth profiles on OpenVINO: tokenize -> run -> mean-pool, no torch.

Measured on this machine kind (2 cores, AVX-512 with BF16 and VNNI, all-MiniLM-L6-v2) against
torch fp32 (bench/backends.py, a shared machine): bf16 about 3.3x on 256-token texts and 3.2x on
short ones at cosine 0.99997, int8 (NNCF static) about 3.8x / 2.5x at cosine 0.99. Precisions
map to OpenVINO's inference precision hint: fp32 -> f32, bf16 -> bf16, int8 -> the int8 model
with bf16 (or f32) for what stays unquantized.

Models compile for throughput: OpenVINO runs several streams (2 on 2 cores, one thread each), and
a pass is split into one sub-batch per stream, run together on an asynchronous request queue,
so the next sub-batch is tokenized while the first one runs. One stream per core loses nothing
to the threads of one stream waiting for each other, which is what a latency-compiled model (one
stream over all cores) pays on every layer, and most when other work shares the cores.
A small pass (a query, or the few queued together) runs on one thread of a second compiled
model instead: more threads would only spin waiting for each other (``SMALL_PASS_TOKENS``).

Every precision is checked once per CPU kind against the exact f32 graph on local texts, and the
result is kept with the export: bf16 is the default only where it keeps cosine >= 0.9999, and
int8 is refused where its mean cosine falls below ``INT8_MIN_MEAN_COSINE``.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from pathlib import Path
from typing import Any

import numpy as np
import openvino as ov

from embedsvc.encoding.calibration import local_texts
from embedsvc.encoding.openvino_cache import (
    cosines,
    export_dir,
    locked,
    quantize_int8,
    read_meta,
    write_meta,
)
from embedsvc.encoding.pipeline import FastTokenizer, Pipeline
from embedsvc.encoding.profile import cpu_flags
from embedsvc.errors import FailedPrecondition

log = logging.getLogger(__name__)

BF16_MIN_COSINE = 0.9999  # the least cosine to fp32 that bf16 may cost to be the default
INT8_MIN_MEAN_COSINE = 0.98  # below this int8 is refused: retrieval quality would suffer
_CHECK_TEXTS = 32
_HINTS = {"fp32": "f32", "bf16": "bf16"}
# A pass of at most this many padded tokens (texts x longest) runs on one thread: a query, or
# the few that concurrent searchers queue together (8 of ~25 tokens), gains nothing from more,
# and every extra inference thread spins for the others between the layers' kernels: CPU that
# the server's own threads (gRPC, SQL, FAISS) need. Bulk passes (32 texts) stay above it.
SMALL_PASS_TOKENS = 256


class OpenVinoModel:
    """One exported model, compiled per precision on first use; one caller at a time."""

    def __init__(
        self, pipeline: Pipeline, tokenizer: FastTokenizer, fingerprint: str, cache_dir: Path,
    ) -> None:
        self.pipeline = pipeline
        self.tokenizer = tokenizer
        self.directory = export_dir(cache_dir, fingerprint)
        self.core = ov.Core()
        self.core.set_property({"CACHE_DIR": str(self.directory / "compiled")})
        self._cpu = _cpu_key(self.core)
        self._compiled: dict[tuple[str, bool], Any] = {}  # by (precision, small pass)
        self._requests: dict[str, ov.InferRequest] = {}  # small passes, per precision
        self._queues: dict[str, ov.AsyncInferQueue] = {}  # bulk passes, per precision
        self._checks: dict[str, dict[str, float]] = {}
        self._lock = threading.RLock()
        with locked(self.directory):
            if not self._xml("fp32").is_file():
                from embedsvc.encoding.export import export_fp32

                log.info("exporting %s to OpenVINO in %s (once)", pipeline.path, self.directory)
                cosine = export_fp32(pipeline, tokenizer, self._xml("fp32"))
                write_meta(self.directory, {**read_meta(self.directory), "torch_fp32": cosine})

    def default_precision(self) -> str:
        """bf16 where this CPU has it and it keeps cosine >= BF16_MIN_COSINE, else fp32."""
        if "BF16" not in self.core.get_property("CPU", "OPTIMIZATION_CAPABILITIES"):
            return "fp32"
        return "bf16" if self.check("bf16")["min"] >= BF16_MIN_COSINE else "fp32"

    def check(self, precision: str) -> dict[str, float]:
        """Cosine of ``precision`` to the exact f32 graph on local texts, on this CPU kind."""
        with self._lock:
            if precision in self._checks:
                return self._checks[precision]
            checks = read_meta(self.directory).get("checks", {}).get(self._cpu, {})
            if precision in checks:
                self._checks[precision] = checks[precision]
                return checks[precision]
            texts = list(local_texts()[:_CHECK_TEXTS])
            result = cosines(self._run("fp32", texts), self._run(precision, texts))
            with locked(self.directory):
                meta = read_meta(self.directory)
                meta.setdefault("checks", {}).setdefault(self._cpu, {})[precision] = result
                write_meta(self.directory, meta)
            log.info("OpenVINO %s vs fp32 on this CPU: cosine min %.5f mean %.5f",
                     precision, result["min"], result["mean"])
            self._checks[precision] = result
            return result

    def prepare(self, precision: str) -> None:
        """Make ``precision`` ready: int8 is quantized once, and refused where it is unfit."""
        if precision != "int8":
            return
        mean = self.check("int8")["mean"]
        if mean < INT8_MIN_MEAN_COSINE:
            raise FailedPrecondition(
                f"int8 keeps only cosine {mean:.4f} to fp32 for this model (at least "
                f"{INT8_MIN_MEAN_COSINE} is needed); use precision fp32 or bf16"
            )

    def encode(self, texts: list[str], precision: str) -> np.ndarray:
        """Mean-pooled float32 vectors (not normalized) for ``texts``, in one pass."""
        with self._lock:
            return self._run(precision, texts)

    def pass_threading(self, texts: list[str], precision: str) -> tuple[int, bool]:
        """How the pass for ``texts`` runs: its inference threads (one for a small pass, else
        the runtime's choice over all its streams) and whether they are pinned to cores."""
        with self._lock:
            small = self.tokenizer.batch(texts)["input_ids"].size <= SMALL_PASS_TOKENS
            compiled = self._compiled_for(precision, small)
            return (int(compiled.get_property("INFERENCE_NUM_THREADS")),
                    bool(compiled.get_property("ENABLE_CPU_PINNING")))

    @property
    def streams(self) -> int:
        """How many sub-batches the default precision runs at once: a pass should hold as many
        texts as that many sub-batches of the wanted size."""
        with self._lock:
            return len(self._queue_for(self.default_precision()))

    def _run(self, precision: str, texts: list[str]) -> np.ndarray:
        """A small pass on one thread; a bulk pass as one sub-batch per stream (neighbours in
        length stay together, each cut to its own longest text), run concurrently."""
        batch = self.tokenizer.batch(texts)
        small = batch["input_ids"].size <= SMALL_PASS_TOKENS  # padded: texts x longest
        compiled = self._compiled_for(precision, small)
        names = [port.get_any_name() for port in compiled.inputs]
        if small:
            request = self._requests.get(precision)
            if request is None:
                request = self._requests[precision] = compiled.create_infer_request()
            return np.array(request.infer({k: batch[k] for k in names})[0], dtype=np.float32)
        queue = self._queue_for(precision)
        parts = np.array_split(np.arange(len(texts)), min(len(queue), len(texts)))
        pooled: list[np.ndarray | None] = [None] * len(parts)
        for number, rows in enumerate(parts):
            queue.start_async(_rows(batch, names, rows), (pooled, number))
        queue.wait_all()
        return np.concatenate(pooled).astype(np.float32, copy=False)

    def _queue_for(self, precision: str) -> ov.AsyncInferQueue:
        queue = self._queues.get(precision)
        if queue is None:
            compiled = self._compiled_for(precision, small=False)
            queue = ov.AsyncInferQueue(
                compiled, compiled.get_property("OPTIMAL_NUMBER_OF_INFER_REQUESTS")
            )
            queue.set_callback(_keep_output)
            self._queues[precision] = queue
        return queue

    def _compiled_for(self, precision: str, small: bool) -> Any:
        compiled = self._compiled.get((precision, small))
        if compiled is None:
            if precision == "int8":
                self._quantize()
                hint = "bf16" if self.default_precision() == "bf16" else "f32"
            else:
                hint = _HINTS[precision]
            compiled = self.core.compile_model(
                self._xml(precision), "CPU", _properties(hint, small)
            )
            self._compiled[precision, small] = compiled
        return compiled

    def _quantize(self) -> None:
        """The int8 model, quantized once per export and kept with it."""
        if self._xml("int8").is_file():
            return
        with locked(self.directory):
            if not self._xml("int8").is_file():
                log.info("quantizing %s to int8 on local texts (once)", self.pipeline.path)
                quantize_int8(self._xml("fp32"), self._xml("int8"), self.tokenizer)

    def _xml(self, precision: str) -> Path:
        return self.directory / ("int8.xml" if precision == "int8" else "model.xml")


def _properties(hint: str, small: bool) -> dict[str, Any]:
    """Compile properties. Threads are not pinned to cores, since the cores are shared with the
    server's other threads (and other processes): a pinned thread waits for its own core while
    another is free, and its partners spin meanwhile. A small pass runs on one thread; bulk
    passes compile for throughput (one stream per core, see the module docstring)."""
    if small:
        return {"INFERENCE_PRECISION_HINT": hint, "PERFORMANCE_HINT": "LATENCY",
                "INFERENCE_NUM_THREADS": 1, "ENABLE_CPU_PINNING": False}
    return {"INFERENCE_PRECISION_HINT": hint, "PERFORMANCE_HINT": "THROUGHPUT",
            "ENABLE_CPU_PINNING": False}


def _rows(batch: dict[str, np.ndarray], names: list[str], rows: np.ndarray) -> dict[str, Any]:
    """The model inputs of some rows of a tokenized pass, without the columns that are padding
    in every one of those rows."""
    width = int(np.flatnonzero(batch["attention_mask"][rows].any(axis=0)).max()) + 1
    return {name: np.ascontiguousarray(batch[name][rows, :width]) for name in names}


def _keep_output(request: ov.InferRequest, slot: tuple[list[np.ndarray | None], int]) -> None:
    """Copy a finished sub-batch's pooled vectors out before its request is reused."""
    pooled, number = slot
    pooled[number] = request.get_output_tensor(0).data.copy()


def _cpu_key(core: ov.Core) -> str:
    """What a precision check depends on: the CPU model and its instruction set extensions."""
    name = core.get_property("CPU", "FULL_DEVICE_NAME")
    facts = [name, *core.get_property("CPU", "OPTIMIZATION_CAPABILITIES"), *sorted(cpu_flags())]
    return hashlib.sha256("\n".join(facts).encode()).hexdigest()[:16]
