"""TempScale: does a lower attention temperature undo length collapse on long documents?

Long inputs collapse: the embeddings of unrelated long texts sit closer together than those of
short texts, which blurs retrieval. TempScale divides the attention logits by tau < 1 to sharpen
attention. The documents are long_documents.py's (runs of consecutive FAQ answers, Python FAQ
and perlfaq), each embedded as its first window, a full 256 tokens: the input where collapse
shows. For tau in {1.0, 0.95, 0.9, 0.8, 0.7}, fp32:

* document retrieval MRR@10, with documents encoded at tau and queries at tau 1 (a collection's
  tempscale with the default query profile) or at tau too;
* collapse: the mean cosine between unrelated documents (every Python FAQ document against every
  perlfaq document), for the 256-token windows and, as the short-text reference, for the first
  32 tokens of the same documents.

Prints a markdown table, writes bench/results/tempscale.json.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import numpy as np
from _datasets import LongDocumentSet, ensure_doc_packages, group_answers, perlfaq, python_faq
from _metrics import gold_ranks, markdown_table, mrr, write_results
from elastic_quality import profiled_cache
from long_documents import ANSWERS_PER_DOCUMENT

from embedsvc.encoding.sentence_transformer import SentenceTransformerEncoder as Encoder

TAUS = (1.0, 0.95, 0.9, 0.8, 0.7)
SHORT_TOKENS = 32


def head(texts: Sequence[str], encoder: Encoder, tokens: int) -> list[str]:
    """Each text cut after its first ``tokens`` tokens (special tokens included)."""
    tokenizer = encoder.tokenizer
    budget = tokens - tokenizer.num_special_tokens_to_add()
    encoded = tokenizer(list(texts), add_special_tokens=False, return_offsets_mapping=True,
                        verbose=False)
    return [text[: offsets[min(budget, len(offsets)) - 1][1]]
            for text, offsets in zip(texts, encoded["offset_mapping"], strict=True)]


def mean_cross_cosine(a: np.ndarray, b: np.ndarray) -> float:
    """Mean cosine over every (row of a, row of b) pair; rows are normalized."""
    return float((a @ b.T).mean())


def evaluate_tau(
    encoder: Encoder, tau: float, sets: list[LongDocumentSet], shorts: list[list[str]]
) -> dict[str, Any]:
    """MRR@10 per set (queries at tau 1 and at tau) and the collapse of both input lengths."""
    at_tau = profiled_cache(encoder, encoder.profile(tempscale=tau, precision="fp32"))
    plain = profiled_cache(encoder, encoder.profile(precision="fp32"))
    result: dict[str, Any] = {"tau": tau}
    documents = []
    for data in sets:
        docs = at_tau.embed(data.documents, f"{data.name} documents, tau {tau}")
        documents.append(docs)
        for queries, cache in (("queries tau 1", plain), ("queries at tau", at_tau)):
            vectors = cache.embed(data.queries, f"{data.name} queries")
            ranks = gold_ranks(vectors @ docs.T, data.gold)
            result[f"{data.name} mrr@10, {queries}"] = mrr(ranks, 10)
    short = [at_tau.embed(texts, f"short heads, tau {tau}") for texts in shorts]
    result["collapse 256 tokens"] = mean_cross_cosine(*documents)
    result[f"collapse {SHORT_TOKENS} tokens"] = mean_cross_cosine(*short)
    return result


def table(results: list[dict[str, Any]], sets: list[LongDocumentSet]) -> str:
    mrr_keys = [f"{d.name} mrr@10, {q}" for d in sets for q in ("queries tau 1", "queries at tau")]
    collapse = ["collapse 256 tokens", f"collapse {SHORT_TOKENS} tokens"]
    headers = ["tau", *(key.replace(" mrr@10,", " MRR@10,") for key in mrr_keys),
               "mean cos unrelated, 256 tokens", f"mean cos unrelated, {SHORT_TOKENS} tokens"]
    return markdown_table(headers, [[f"{r['tau']:g}", *(r[k] for k in mrr_keys + collapse)]
                                    for r in results])


def main() -> None:
    ensure_doc_packages()
    started = time.monotonic()
    encoder = Encoder.from_spec()
    sets = [group_answers("Python FAQ", python_faq(), ANSWERS_PER_DOCUMENT),
            group_answers("perlfaq", perlfaq(), ANSWERS_PER_DOCUMENT)]
    shorts = [head(data.documents, encoder, SHORT_TOKENS) for data in sets]
    results = [evaluate_tau(encoder, tau, sets, shorts) for tau in TAUS]
    described = " and ".join(f"{d.name} ({len(d.documents)} documents, {len(d.queries)} queries)"
                             for d in sets)
    print(f"\nTempScale: documents as their first {encoder.info.max_tokens}-token window, "
          f"{described}, model {encoder.info.name}, fp32\n")
    print(table(results, sets))
    base = results[0]
    best = min(results, key=lambda r: r["collapse 256 tokens"])
    print(f"\nCollapse at tau 1: long {base['collapse 256 tokens']:.3f} vs short "
          f"{base[f'collapse {SHORT_TOKENS} tokens']:.3f}; lowest long collapse at tau "
          f"{best['tau']}: {best['collapse 256 tokens']:.3f}")
    elapsed = time.monotonic() - started
    print(f"\n{elapsed:.0f} s")
    write_results("tempscale", {
        "model": encoder.info.name, "max_tokens": encoder.info.max_tokens,
        "short_tokens": SHORT_TOKENS, "precision": "fp32",
        "sets": {d.name: {"documents": len(d.documents), "queries": len(d.queries)}
                 for d in sets},
        "results": results, "seconds": elapsed,
    })


if __name__ == "__main__":
    main()
