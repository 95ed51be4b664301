"""Inference backends and precisions against torch fp32, in one run: speed, cosine, dev MRR.

Variants: sentence-transformers fp32 `encode` (the baseline, batch 32), and the product encoder
(`SentenceTransformerEncoder`, its batcher included) on torch bf16 and on OpenVINO fp32, bf16
(the default on a CPU with BF16) and int8. Long texts are 512 standard-library docstring
passages cut to the 256-token window, short ones 2,000 docstring first sentences. Rounds are
interleaved (every variant once per round) and each time is the median over ROUNDS, because
the machine is shared. Cosines are per text against the baseline's vectors; dev MRR@10 is
question -> answer retrieval on the Python FAQ and perlfaq pairs (482 questions).

Also `embedsvc embed` on 1,500 long texts (100-200 word passages) as a user runs it (process
start, model load and export cache included, default profile) against the baseline's in-process
time for the same texts. Prints markdown tables; writes bench/results/backends.json.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import numpy as np
from _datasets import ensure_doc_packages, perlfaq, python_faq
from _metrics import gold_ranks, markdown_table, mrr, write_results
from _texts import long_texts, short_texts, stdlib_docstrings
from sentence_transformers import SentenceTransformer

from embedsvc.encoding.sentence_transformer import SentenceTransformerEncoder, default_cache_dir
from embedsvc.types import EncoderProfile

ROUNDS = 3
SIZES = {"long": 512, "short": 2000}
CLI_TEXTS = 1500
BASELINE = "torch fp32 (sentence-transformers)"
Embed = Callable[[Sequence[str]], np.ndarray]


def variants(
    model: SentenceTransformer, openvino: SentenceTransformerEncoder,
    torch: SentenceTransformerEncoder,
) -> dict[str, Embed]:
    def product(encoder: SentenceTransformerEncoder, precision: str) -> Embed:
        profile = encoder.profile(EncoderProfile(precision=precision))
        return lambda texts: encoder.encode(list(texts), profile)

    return {
        BASELINE: lambda texts: model.encode(
            list(texts), batch_size=32, normalize_embeddings=True, show_progress_bar=False
        ),
        "torch bf16 autocast": product(torch, "bf16"),
        "OpenVINO fp32": product(openvino, "fp32"),
        "OpenVINO bf16 (default)": product(openvino, "bf16"),
        "OpenVINO int8 (static, NNCF)": product(openvino, "int8"),
    }


def fitter(model: SentenceTransformer) -> Callable[[str], str]:
    tokenizer, limit = model.tokenizer, model.max_seq_length

    def fit(text: str) -> str:
        encoded = tokenizer(text, truncation=True, max_length=limit, return_offsets_mapping=True)
        return text[: max(end for _, end in encoded["offset_mapping"])]

    return fit


def timed(embed: Embed, texts: Sequence[str]) -> tuple[float, np.ndarray]:
    start = time.perf_counter()
    vectors = embed(texts)
    return time.perf_counter() - start, vectors


def dev_mrr(embed: Embed) -> float:
    """MRR@10 of each FAQ question's own answer among all answers of its FAQ."""
    scores = []
    for pairs in (python_faq(), perlfaq()):
        questions = embed([qa.question for qa in pairs])
        answers = embed([qa.answer for qa in pairs])
        ranks = gold_ranks(questions @ answers.T, list(range(len(pairs))))
        scores.append((mrr(ranks), len(pairs)))
    return sum(value * n for value, n in scores) / sum(n for _, n in scores)


def cli_seconds(texts: Sequence[str], cache_dir: Path) -> float:
    """Wall time of `embedsvc embed FILE --out x.npy`, process start included."""
    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / "texts.txt"
        source.write_text("\n".join(" ".join(text.split()) for text in texts) + "\n")
        env = {**os.environ, "EMBEDSVC_CACHE_DIR": str(cache_dir)}
        command = [str(Path(sys.executable).parent / "embedsvc"), "embed", str(source),
                   "--out", str(Path(folder) / "x.npy")]
        start = time.perf_counter()
        subprocess.run(command, env=env, check=True, capture_output=True)
        return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    parser.add_argument("--long", type=int, default=SIZES["long"], help="long texts")
    parser.add_argument("--short", type=int, default=SIZES["short"], help="short texts")
    parser.add_argument("--cli-texts", type=int, default=CLI_TEXTS)
    parser.add_argument("--cache-dir", type=Path, default=default_cache_dir(),
                        help="export cache (default: the product's); exports are made once")
    args = parser.parse_args()
    ensure_doc_packages()
    cache_dir = args.cache_dir
    openvino = SentenceTransformerEncoder.from_spec(cache_dir=cache_dir)
    torch = SentenceTransformerEncoder.from_spec(backend="torch")
    model = torch.elastic.model
    fit = fitter(model)
    by_file = stdlib_docstrings()
    sizes = {"long": args.long, "short": args.short}
    texts = {
        "long": long_texts(by_file, sizes["long"], fit),
        "short": short_texts(by_file, sizes["short"]),
    }
    cli_texts = long_texts(by_file, args.cli_texts, fit, words=(100, 200))
    modes = variants(model, openvino, torch)
    for embed in modes.values():  # warm up: exports, int8 calibration, compiled kernels
        embed(texts["short"][:64])
        embed(texts["long"][:64])
    times: dict[tuple[str, str], list[float]] = {}
    vectors: dict[tuple[str, str], np.ndarray] = {}
    cli: dict[str, list[float]] = {"embedsvc embed": [], BASELINE: []}
    for round_number in range(args.rounds):
        for name, embed in modes.items():
            for kind, batch in texts.items():
                seconds, vectors[name, kind] = timed(embed, batch)
                times.setdefault((name, kind), []).append(seconds)
        cli["embedsvc embed"].append(cli_seconds(cli_texts, cache_dir))
        cli[BASELINE].append(timed(modes[BASELINE], cli_texts)[0])
        print(f"round {round_number + 1}/{args.rounds} done", file=sys.stderr)
    median = {key: statistics.median(values) for key, values in times.items()}
    rows, results = [], []
    for name, embed in modes.items():
        ratio = {k: median[BASELINE, k] / median[name, k] for k in texts}
        cos = (vectors[name, "long"] * vectors[BASELINE, "long"]).sum(axis=1)
        short_cos = (vectors[name, "short"] * vectors[BASELINE, "short"]).sum(axis=1)
        quality = dev_mrr(embed)
        results.append({
            "variant": name, "long_ratio": ratio["long"], "short_ratio": ratio["short"],
            "long_texts_per_s": sizes["long"] / median[name, "long"],
            "short_texts_per_s": sizes["short"] / median[name, "short"],
            "cosine_long_min": float(cos.min()), "cosine_long_mean": float(cos.mean()),
            "cosine_short_min": float(short_cos.min()), "dev_mrr10": quality,
        })
        rows.append([
            name, f"{ratio['long']:.2f}x", f"{ratio['short']:.2f}x",
            f"{cos.min():.4f} / {cos.mean():.5f}", f"{short_cos.min():.4f}", f"{quality:.3f}",
        ])
    print(markdown_table(
        ["runtime", "long texts", "short texts", "cosine to fp32 (min / mean, long)",
         "cosine min, short", "dev MRR@10"], rows,
    ))
    cli_median = {name: statistics.median(values) for name, values in cli.items()}
    cli_ratio = cli_median[BASELINE] / cli_median["embedsvc embed"]
    print()
    print(markdown_table(
        [f"{len(cli_texts):,} long texts", "seconds (median)", "ratio"],
        [["torch fp32 in-process encode (no start, model loaded)",
          f"{cli_median[BASELINE]:.1f}", "1.00x"],
         ["`embedsvc embed --out x.npy` incl. process start", f"{cli_median['embedsvc embed']:.1f}",
          f"{cli_ratio:.2f}x"]],
    ))
    write_results("backends", {
        "rounds": args.rounds, "sizes": sizes, "variants": results,
        "embed_cli": {"texts": len(cli_texts), "seconds": cli, "ratio": cli_ratio},
    })
    openvino.close()
    torch.close()


if __name__ == "__main__":
    main()
