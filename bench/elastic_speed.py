"""Elastic speed: how much faster are fewer layers and bf16 than the full fp32 model?

Goal: half the layers (3 of 6) at fp32 encodes at least 1.6x faster than all 6. Every profile
(layers 1, 2, 3, 4, 6 at fp32 and bf16) encodes the same texts through ``ElasticModel.encode``
(what the service runs per batch), with batches of 32. Profiles run interleaved, one after
another within each pass, and each keeps its best pass, so load from other processes hurts all
of them alike. Speeds are reported as ratios to the full fp32 model measured in the same run.

Texts: stdlib docstring passages cut to the 256-token window (``long``) and docstring first
sentences under 20 words, like search queries (``short``). bf16 is also checked for agreement:
the cosine between its vectors and fp32's at the same depth. Prints markdown tables, writes
bench/results/elastic_speed.json.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import numpy as np
import torch
from _metrics import markdown_table, write_results
from _texts import long_texts, short_texts, stdlib_docstrings

from embedsvc.encoding.elastic import ElasticModel
from embedsvc.encoding.sentence_transformer import SentenceTransformerEncoder as Encoder
from embedsvc.types import EncoderProfile

LAYERS = (1, 2, 3, 4, 6)
PRECISIONS = ("fp32", "bf16")
SET_SIZES = {"long": 64, "short": 384}
PASSES = 5
BATCH = 32
GOAL_LAYERS, GOAL_RATIO = 3, 1.6


@dataclass(frozen=True)
class Row:
    texts: str
    layers: int
    precision: str
    seconds: float
    texts_per_s: float
    ratio_vs_full_fp32: float
    bf16_vs_fp32: float | None  # this depth's fp32 time / bf16 time; None on fp32 rows


def window_fitter(encoder: Encoder) -> Callable[[str], str]:
    """Cut a text after its last token that fits the window, so the model truncates nothing."""
    tokenizer, limit = encoder.tokenizer, encoder.info.max_tokens

    def fit(text: str) -> str:
        encoded = tokenizer(text, truncation=True, max_length=limit, return_offsets_mapping=True)
        return text[: max(end for _, end in encoded["offset_mapping"])]

    return fit


def corpora(encoder: Encoder) -> dict[str, list[str]]:
    by_file = stdlib_docstrings()
    return {
        "long": long_texts(by_file, SET_SIZES["long"], window_fitter(encoder)),
        "short": short_texts(by_file, SET_SIZES["short"]),
    }


def profiles(encoder: Encoder) -> list[EncoderProfile]:
    return [encoder.profile(layers=n, precision=p) for p in PRECISIONS for n in LAYERS]


def measure(
    model: ElasticModel, texts: Sequence[str], grid: list[EncoderProfile], passes: int
) -> tuple[dict[EncoderProfile, float], dict[EncoderProfile, np.ndarray]]:
    """Best seconds per profile over interleaved passes, and each profile's vectors.

    A warm-up call per profile first builds its variant and lets torch pick kernels.
    """
    for profile in grid:
        model.encode(texts[:BATCH], profile, batch_size=BATCH)
    best = dict.fromkeys(grid, float("inf"))
    vectors: dict[EncoderProfile, np.ndarray] = {}
    for number in range(passes):
        order = grid[number % len(grid):] + grid[: number % len(grid)]  # rotate who goes first
        for profile in order:
            start = time.perf_counter()
            vectors[profile] = model.encode(texts, profile, batch_size=BATCH)
            best[profile] = min(best[profile], time.perf_counter() - start)
    return best, vectors


def speed_rows(name: str, count: int, best: dict[EncoderProfile, float]) -> list[Row]:
    full = best[next(p for p in best if p.layers == max(LAYERS) and p.precision == "fp32")]
    fp32 = {p.layers: s for p, s in best.items() if p.precision == "fp32"}
    return [
        Row(name, p.layers, p.precision, s, count / s, full / s,
            None if p.precision == "fp32" else fp32[p.layers] / s)
        for p, s in best.items()
    ]


def agreement(vectors: dict[EncoderProfile, np.ndarray]) -> dict[int, dict[str, float]]:
    """Per depth, mean and min cosine between bf16 and fp32 vectors of the same texts."""
    fp32 = {p.layers: v for p, v in vectors.items() if p.precision == "fp32"}
    out = {}
    for profile, bf16 in vectors.items():
        if profile.precision == "bf16":
            cosines = np.sum(bf16 * fp32[profile.layers], axis=1)
            out[profile.layers] = {"mean": float(cosines.mean()), "min": float(cosines.min())}
    return out


def speed_table(rows: list[Row]) -> str:
    headers = ["Texts", "Layers", "Precision", "Texts/s", "Speed vs 6 layers fp32",
               "bf16 vs fp32 (same layers)"]
    return markdown_table(headers, [
        [r.texts, r.layers, r.precision, f"{r.texts_per_s:.1f}", f"{r.ratio_vs_full_fp32:.2f}x",
         "" if r.bf16_vs_fp32 is None else f"{r.bf16_vs_fp32:.2f}x"]
        for r in rows
    ])


def agreement_table(cosines: dict[str, dict[int, dict[str, float]]]) -> str:
    headers = ["Texts", "Layers", "Mean cosine bf16 vs fp32", "Min cosine"]
    return markdown_table(headers, [
        [name, layers, f"{c['mean']:.6f}", f"{c['min']:.6f}"]
        for name, by_layers in cosines.items() for layers, c in sorted(by_layers.items())
    ])


def goal_verdicts(rows: list[Row]) -> dict[str, float]:
    """Speed-up of GOAL_LAYERS at fp32 per text set."""
    return {r.texts: r.ratio_vs_full_fp32 for r in rows
            if r.layers == GOAL_LAYERS and r.precision == "fp32"}


def environment() -> dict[str, object]:
    """What the numbers depend on; a load average above the core count means they are noisy."""
    return {
        "python": platform.python_version(), "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(), "cpus": os.cpu_count(),
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "load_average_1m": os.getloadavg()[0], "batch": BATCH,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--passes", type=int, default=PASSES)
    args = parser.parse_args()
    started = time.monotonic()
    load = os.getloadavg()[0]
    if load > (os.cpu_count() or 1) / 2:
        print(f"warning: load average {load:.1f}; ratios will be noisy", file=sys.stderr)
    encoder = Encoder.from_spec()
    model, grid = encoder.elastic, profiles(encoder)
    rows: list[Row] = []
    cosines: dict[str, dict[int, dict[str, float]]] = {}
    for name, texts in corpora(encoder).items():
        best, vectors = measure(model, texts, grid, args.passes)
        rows += speed_rows(name, len(texts), best)
        cosines[name] = agreement(vectors)
    print(f"\nElastic speed: {encoder.info.name}, batches of {BATCH}, best of {args.passes} "
          f"interleaved passes, {torch.get_num_threads()} torch threads, "
          f"load average {os.getloadavg()[0]:.1f}\n")
    print(speed_table(rows))
    print(f"\n{agreement_table(cosines)}")
    verdicts = goal_verdicts(rows)
    print(f"\nGoal: {GOAL_LAYERS} layers fp32 >= {GOAL_RATIO}x faster than {max(LAYERS)}: "
          + ", ".join(f"{name} {ratio:.2f}x {'met' if ratio >= GOAL_RATIO else 'NOT met'}"
                      for name, ratio in verdicts.items()))
    elapsed = time.monotonic() - started
    print(f"\n{elapsed:.0f} s")
    write_results("elastic_speed", {
        "model": encoder.info.name, "rows": [asdict(r) for r in rows],
        "bf16_cosine_vs_fp32": cosines, "goal": {"layers": GOAL_LAYERS, "ratio": GOAL_RATIO},
        "goal_ratios": verdicts, "passes": args.passes, "environment": environment(),
        "seconds": elapsed,
    })


if __name__ == "__main__":
    main()
