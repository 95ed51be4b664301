"""Elastic quality: how much code-search quality do fewer layers and fewer dims cost?

The code-search set of code_search.py (stdlib files with docstrings and comments blanked, queried
by docstring first sentences; AST chunks with their context header) is scored by MRR@10 on a
grid of encoder profiles: layers {1, 2, 3, 4, 6} x leading dims {32, 64, 128, 256, 384}, fp32.
Every cell is compared with the same model's full (6, 384) profile, for the bundled model and,
when it exists, the 2DMSE fine-tune of bench/train_2dmse.sh, to see whether that training makes
truncation cheaper. A last table keeps the collection at the full profile and encodes only the
queries with fewer layers: the cheaper query encoder a collection may pick (same width).

Each depth is encoded once at full width and cached (bench/.cache) under the model fingerprint and
profile; narrower widths are its leading dims, re-normalized, exactly what the service serves.
Prints markdown tables, writes bench/results/elastic_quality.json.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import numpy as np
from _cache import EmbeddingCache
from _datasets import CodeQuery, code_search_set
from _metrics import first_hit_ranks, markdown_table, mrr, top_k, write_results
from code_search import TOP_K, Piece, ast_chunks, is_hit

from embedsvc.encoding.elastic import slice_dimensions
from embedsvc.encoding.sentence_transformer import SentenceTransformerEncoder as Encoder
from embedsvc.types import EncoderProfile

LAYERS = (1, 2, 3, 4, 6)
DIMS = (32, 64, 128, 256, 384)
MAX_FILES = 40
MAX_QUERIES = 300
TRAINED_MODEL = Path(__file__).parent / ".cache" / "model-2dmse"
TRAIN_HINT = "bench/train_2dmse.sh (about 20 minutes on 2 CPU cores)"

Grid = dict[tuple[int, int], float]  # (layers, dims) -> MRR@10


class ProfiledEncoder:
    """An Encoder pinned to one profile, shaped like the Encoder that EmbeddingCache calls."""

    def __init__(self, encoder: Encoder, profile: EncoderProfile) -> None:
        self.encoder, self.profile, self.info = encoder, profile, encoder.info

    def encode(self, texts: Sequence[str], normalize: bool = True) -> np.ndarray:
        return self.encoder.encode(texts, self.profile, normalize=normalize)


def profiled_cache(encoder: Encoder, profile: EncoderProfile) -> EmbeddingCache:
    """A cache whose vectors are computed, and keyed, under ``profile``."""
    return EmbeddingCache(ProfiledEncoder(encoder, profile), f"normalized-{profile.key()}")


def embed_by_depth(
    encoder: Encoder, texts: Sequence[str], label: str
) -> dict[int, np.ndarray]:
    """Full-width fp32 vectors of ``texts`` at every depth in LAYERS."""
    out = {}
    for layers in LAYERS:
        profile = encoder.profile(layers=layers, precision="fp32")
        out[layers] = profiled_cache(encoder, profile).embed(texts, f"{label}, {layers} layers")
    return out


def mrr_at_10(
    query_vectors: np.ndarray, chunk_vectors: np.ndarray, pieces: list[Piece],
    queries: list[CodeQuery], dims: int,
) -> float:
    """MRR@10 with both sides cut to their leading ``dims`` and re-normalized."""
    q = slice_dimensions(query_vectors, dims, normalize=True)
    c = slice_dimensions(chunk_vectors, dims, normalize=True)
    ranked = top_k(q @ c.T, TOP_K)
    hits = [[is_hit(pieces[i], query) for i in row]
            for row, query in zip(ranked, queries, strict=True)]
    return mrr(first_hit_ranks(hits), TOP_K)


def evaluate(
    encoder: Encoder, pieces: list[Piece], queries: list[CodeQuery]
) -> tuple[Grid, dict[int, float]]:
    """The (layers, dims) grid, and MRR per query depth against the full-profile collection."""
    chunks = embed_by_depth(encoder, [p.embedded for p in pieces], f"{encoder.name} chunks")
    asked = embed_by_depth(encoder, [q.text for q in queries], f"{encoder.name} queries")
    grid = {(n, d): mrr_at_10(asked[n], chunks[n], pieces, queries, d)
            for n in LAYERS for d in DIMS}
    full = max(LAYERS)
    cheap_queries = {n: mrr_at_10(asked[n], chunks[full], pieces, queries, max(DIMS))
                     for n in LAYERS}
    return grid, cheap_queries


def relative_loss(grid: Grid) -> Grid:
    """Share of the full profile's MRR lost in each cell (0.25 = a quarter lower)."""
    full = grid[max(LAYERS), max(DIMS)]
    return {cell: 1 - value / full for cell, value in grid.items()}


def mean_reduced(values: Grid) -> float:
    """Mean over every cell except the full profile itself."""
    full = (max(LAYERS), max(DIMS))
    return float(np.mean([v for cell, v in values.items() if cell != full]))


def grid_table(grid: Grid) -> str:
    """MRR@10 per cell with its change from the full profile, layers down, dims across."""
    full = grid[max(LAYERS), max(DIMS)]
    headers = ["Layers \\ dims", *map(str, DIMS)]
    return markdown_table(headers, [
        [n, *(f"{grid[n, d]:.3f} ({grid[n, d] / full - 1:+.0%})" for d in DIMS)] for n in LAYERS
    ])


def comparison_table(losses: dict[str, Grid]) -> str:
    """Per cell, the bundled model's relative loss minus the trained model's."""
    bundled, trained = losses.values()
    headers = ["Layers \\ dims", *map(str, DIMS)]
    return markdown_table(headers, [
        [n, *(f"{(bundled[n, d] - trained[n, d]) * 100:+.1f}" for d in DIMS)] for n in LAYERS
    ])


def cheap_query_table(results: dict[str, dict[str, Any]]) -> str:
    headers = ["Query layers", *(f"{name} MRR@10 (vs full)" for name in results)]
    rows = []
    for n in LAYERS:
        cells = []
        for result in results.values():
            value, full = result["cheap_queries"][n], result["cheap_queries"][max(LAYERS)]
            cells.append(f"{value:.3f} ({value / full - 1:+.1%})")
        rows.append([n, *cells])
    return markdown_table(headers, rows)


def training_info(model_dir: Path) -> dict[str, Any] | None:
    """How bench/train_2dmse.sh made the model (steps, batch, seconds), when it says."""
    path = model_dir / "training.json"
    return json.loads(path.read_text()) if path.is_file() else None


def run_model(
    label: str, encoder: Encoder, pieces: list[Piece], queries: list[CodeQuery]
) -> dict[str, Any]:
    grid, cheap = evaluate(encoder, pieces, queries)
    loss = relative_loss(grid)
    print(f"\n### {label}: MRR@10 (change vs its own 6 layers x 384 dims)\n")
    print(grid_table(grid))
    return {"model": encoder.name, "fingerprint": encoder.fingerprint,
            "grid": grid, "relative_loss": loss, "mean_relative_loss": mean_reduced(loss),
            "cheap_queries": cheap}


def summarize(results: dict[str, dict[str, Any]]) -> None:
    for name, result in results.items():
        print(f"\n{name}: mean relative MRR loss over the {len(LAYERS) * len(DIMS) - 1} reduced "
              "profiles "
              f"{result['mean_relative_loss']:.1%}; (3 layers, 128 dims) "
              f"{result['relative_loss'][3, 128]:.1%}; (1 layer, 32 dims) "
              f"{result['relative_loss'][1, 32]:.1%}")
    if len(results) == 2:
        bundled, trained = (r["mean_relative_loss"] for r in results.values())
        verdict = "less" if trained < bundled else "MORE"
        print(f"\nThe trained model loses {verdict} than the bundled one: "
              f"{abs(bundled - trained) * 100:.1f} points of relative MRR on average. "
              "Per cell, bundled loss minus trained loss (points; positive = trained loses less):"
              f"\n\n{comparison_table({n: r['relative_loss'] for n, r in results.items()})}")
    print("\n### Cheaper query encoder: collection at 6 layers x 384 dims, queries at N layers\n")
    print(cheap_query_table(results))


def serializable(result: dict[str, Any]) -> dict[str, Any]:
    """Grid keys (layers, dims) as "L3-D128" strings, for JSON."""
    def keyed(grid: Grid) -> dict[str, float]:
        return {f"L{n}-D{d}": value for (n, d), value in grid.items()}

    return {**result, "grid": keyed(result["grid"]),
            "relative_loss": keyed(result["relative_loss"])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--files", type=int, default=MAX_FILES)
    parser.add_argument("--queries", type=int, default=MAX_QUERIES)
    parser.add_argument("--trained", type=Path, default=TRAINED_MODEL)
    args = parser.parse_args()
    started = time.monotonic()
    bundled = Encoder.from_spec()
    max_tokens = bundled.info.max_tokens
    data = code_search_set(args.files, args.queries)
    chunker = ast_chunks(bundled.tokenizer, max_tokens, with_context=True)
    pieces = [piece for file in data.files for piece in chunker(file)]
    print(f"\nElastic quality: code search, {len(data.files)} stdlib files, {len(pieces)} AST "
          f"chunks + context, {len(data.queries)} queries, fp32")
    models = {"bundled": bundled}
    trained = training_info(args.trained)
    if (args.trained / "modules.json").is_file():
        models["2DMSE-trained"] = Encoder.from_spec(str(args.trained))
        print(f"trained model {args.trained}: {trained or 'no training.json'}")
    else:
        print(f"no trained model at {args.trained}; train it with {TRAIN_HINT}")
    results = {name: run_model(name, encoder, pieces, data.queries)
               for name, encoder in models.items()}
    summarize(results)
    elapsed = time.monotonic() - started
    print(f"\n{elapsed:.0f} s")
    write_results("elastic_quality", {
        "files": len(data.files), "queries": len(data.queries), "chunks": len(pieces),
        "max_tokens": max_tokens, "precision": "fp32", "training": trained,
        "models": {name: serializable(r) for name, r in results.items()},
        "cheap_queries_note": "collection at full profile, queries at N layers (keys)",
        "seconds": elapsed,
    })


if __name__ == "__main__":
    main()
