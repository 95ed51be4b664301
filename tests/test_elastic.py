"""Elastic encoders: profiles, depth truncation, TempScale, precision, and a shared model that
never changes under concurrent profiles. Uses the bundled all-MiniLM-L6-v2 (6 layers, 384 dims)."""

from __future__ import annotations

import importlib
import itertools
import threading
from collections.abc import Iterator

import numpy as np
import pytest
import torch

from embedsvc.encoding.elastic import ElasticModel, slice_dimensions
from embedsvc.encoding.models import resolve_model_path
from embedsvc.encoding.profile import default_precision, default_profile
from embedsvc.errors import InvalidArgument
from embedsvc.types import EncoderProfile

TEXTS = [
    "the quick brown fox jumps over the lazy dog",
    "How do I reset my password?",
    "def add(a, b):\n    return a + b",
    "Herzinfarkt",
    "Gradient descent minimizes a loss by following the negative gradient downhill, step by "
    "step, until the updates become too small to matter or the budget of steps runs out.",
]
# Long module docstrings (256+ tokens each) on unrelated topics, from the interpreter running this.
LONG_DOC_MODULES = [
    "argparse", "copy", "doctest", "gc", "inspect", "json", "plistlib", "re", "shelve",
    "socketserver", "statistics", "sys", "uuid",
]
_REFERENCE_TAU = [1.0]


def load(**model_kwargs):
    from sentence_transformers import SentenceTransformer

    path = str(resolve_model_path(""))
    return SentenceTransformer(path, device="cpu", model_kwargs=model_kwargs or None)


@pytest.fixture(scope="session")
def model():
    return load()


@pytest.fixture(scope="session")
def elastic(model) -> ElasticModel:
    return ElasticModel(model)


@pytest.fixture(scope="session")
def plain(model) -> np.ndarray:
    """What the plain model computes for TEXTS, before any profile has been used."""
    return model.encode(TEXTS, convert_to_numpy=True, normalize_embeddings=False)


def literal_tempscale_attention(module, query, key, value, attention_mask, scaling, **kwargs):
    """The paper's formula spelled out: softmax((Q K^T * scaling + mask) / tau) V."""
    scores = torch.matmul(query, key.transpose(2, 3)) * scaling
    if attention_mask is not None:
        scores = scores + attention_mask
    probs = torch.softmax(scores / _REFERENCE_TAU[0], dim=-1)
    return torch.matmul(probs, value).transpose(1, 2).contiguous(), probs


@pytest.fixture(scope="module")
def reference_model():
    """A separate copy whose attention is the literal TempScale formula (eager masks)."""
    from transformers import AttentionInterface
    from transformers.masking_utils import AttentionMaskInterface, eager_mask

    AttentionInterface.register("tempscale_reference", literal_tempscale_attention)
    AttentionMaskInterface.register("tempscale_reference", eager_mask)
    return load(attn_implementation="tempscale_reference")


@pytest.fixture
def reference_tau() -> Iterator[list[float]]:
    yield _REFERENCE_TAU
    _REFERENCE_TAU[0] = 1.0


def mean_pairwise_cosine(vectors: np.ndarray) -> float:
    n = len(vectors)
    return float(((vectors @ vectors.T).sum() - n) / (n * (n - 1)))


# --- profiles ------------------------------------------------------------------------------


def test_profile_resolves_keys_and_round_trips():
    profile = EncoderProfile(layers=3, tempscale=0.8)
    resolved = profile.resolved(6, 384)
    assert resolved == EncoderProfile(3, 384, 0.8, "fp32")
    assert resolved.key() == "L3-D384-T0.8-fp32"
    assert EncoderProfile().resolved(6, 384).key() == "L6-D384-T1.0-fp32"
    assert EncoderProfile(tempscale=1).key() == "L*-D*-T1.0-fp32"
    assert EncoderProfile.from_dict(resolved.to_dict()) == resolved
    with pytest.raises(InvalidArgument, match="unknown encoder profile fields: colour"):
        EncoderProfile.from_dict({"layers": 3, "colour": "red"})


@pytest.mark.parametrize(
    ("profile", "message"),
    [
        (EncoderProfile(layers=0), "layers must be between 1 and 6"),
        (EncoderProfile(layers=7), "layers must be between 1 and 6"),
        (EncoderProfile(layers=True), "layers must be between 1 and 6"),
        (EncoderProfile(dimensions=0), "dimensions must be between 1 and 384"),
        (EncoderProfile(dimensions=385), "dimensions must be between 1 and 384"),
        (EncoderProfile(tempscale=0), r"tempscale must be a number in \(0, 2\]"),
        (EncoderProfile(tempscale=2.5), r"tempscale must be a number in \(0, 2\]"),
        (EncoderProfile(tempscale=float("nan")), r"tempscale must be a number in \(0, 2\]"),
        (EncoderProfile(precision="fp16"), "precision must be one of fp32, bf16, int8, got"),
    ],
)
def test_out_of_range_profiles_are_refused(profile, message, elastic):
    with pytest.raises(InvalidArgument, match=message):
        profile.validate(6, 384)
    with pytest.raises(InvalidArgument, match=message):
        elastic.encode(["x"], profile)


def test_torch_refuses_int8_which_only_openvino_runs(elastic):
    with pytest.raises(InvalidArgument, match="precision int8 runs on the OpenVINO backend only"):
        elastic.encode(["x"], EncoderProfile(precision="int8"))


def test_query_compatibility_needs_same_width_only():
    collection = EncoderProfile(layers=6, dimensions=128).resolved(6, 384)
    assert EncoderProfile(layers=2, dimensions=128, tempscale=0.7, precision="bf16") \
        .query_compatible(collection, model_dims=384)
    assert not EncoderProfile(dimensions=256).query_compatible(collection, model_dims=384)
    assert not EncoderProfile().query_compatible(collection, model_dims=384)
    assert EncoderProfile().query_compatible(EncoderProfile(dimensions=384), model_dims=384)


def test_default_profile_is_the_plain_model_at_the_default_precision():
    assert default_precision() in ("fp32", "bf16")
    assert default_profile() == EncoderProfile(precision=default_precision())


# --- depth, width, tempscale ---------------------------------------------------------------


def test_full_profile_is_bit_identical_to_the_plain_model(elastic, plain):
    expected = slice_dimensions(plain, None, normalize=True)
    for profile in (EncoderProfile(), EncoderProfile(6, 384, 1.0, "fp32")):
        assert np.array_equal(elastic.encode(TEXTS, profile), expected)


def test_fewer_layers_match_a_truncated_copy(elastic):
    copy = load()
    layers = copy[0].auto_model.encoder.layer
    for n in (1, 3, 5):
        copy[0].auto_model.encoder.layer = layers[:n]
        expected = copy.encode(TEXTS, convert_to_numpy=True, normalize_embeddings=True)
        actual = elastic.encode(TEXTS, EncoderProfile(layers=n))
        np.testing.assert_allclose(actual, expected, atol=1e-6)


def test_tempscale_is_the_literal_formula(elastic, plain, reference_model, reference_tau):
    for tau in (0.7, 1.3):
        reference_tau[0] = tau
        expected = reference_model.encode(TEXTS, convert_to_numpy=True, normalize_embeddings=True)
        actual = elastic.encode(TEXTS, EncoderProfile(tempscale=tau))
        np.testing.assert_allclose(actual, expected, atol=1e-6)
    assert not np.allclose(actual, slice_dimensions(plain, None, normalize=True), atol=1e-3)


def test_profiles_leave_the_shared_model_untouched(model, elastic, plain):
    attention = [layer.attention.self for layer in model[0].auto_model.encoder.layer]
    scalings = [module.scaling for module in attention]
    elastic.encode(TEXTS, EncoderProfile(layers=2, dimensions=64, tempscale=0.6))
    elastic.encode(TEXTS, EncoderProfile(layers=4, tempscale=1.5, precision="bf16"))
    assert len(model[0].auto_model.encoder.layer) == 6
    assert [module.scaling for module in attention] == scalings
    after = model.encode(TEXTS, convert_to_numpy=True, normalize_embeddings=False)
    assert np.array_equal(after, plain)


def test_variants_share_weights_and_are_cached(model, elastic):
    variant = elastic.variant(3, 0.8)
    assert elastic.variant(3, 0.8) is variant
    assert elastic.variant(6, 1.0) is model
    shared = {id(p) for p in model.parameters()}
    assert {id(p) for p in variant.parameters()} <= shared


def test_leading_dims_are_unit_norm_slices(elastic, plain):
    full = slice_dimensions(plain, None, normalize=True)
    small = elastic.encode(TEXTS, EncoderProfile(dimensions=64))
    assert small.shape == (len(TEXTS), 64) and small.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(small, axis=1), 1.0, atol=1e-5)
    expected = full[:, :64] / np.linalg.norm(full[:, :64], axis=1, keepdims=True)
    np.testing.assert_allclose(small, expected, atol=1e-6)
    raw = elastic.encode(TEXTS, EncoderProfile(dimensions=64), normalize=False)
    np.testing.assert_allclose(raw, full[:, :64], atol=1e-6)
    assert elastic.encode([], EncoderProfile(dimensions=32)).shape == (0, 32)


def test_lower_tempscale_reduces_length_collapse(elastic):
    docs = [importlib.import_module(name).__doc__ for name in LONG_DOC_MODULES]
    assert min(len(tokens) for tokens in elastic.model.tokenizer(docs)["input_ids"]) >= 256
    plain = mean_pairwise_cosine(elastic.encode(docs, EncoderProfile()))
    sharp = mean_pairwise_cosine(elastic.encode(docs, EncoderProfile(tempscale=0.8)))
    # Unrelated long documents sit closer together than they should; tau < 1 spreads them.
    assert sharp < plain - 0.003, (plain, sharp)


def test_bf16_agrees_with_fp32(elastic, plain):
    fp32 = slice_dimensions(plain, None, normalize=True)
    bf16 = elastic.encode(TEXTS, EncoderProfile(precision="bf16"))
    assert bf16.dtype == np.float32
    assert np.sum(fp32 * bf16, axis=1).min() >= 0.999


def test_token_counts_include_special_tokens(elastic):
    assert elastic.token_counts(["hello world", "", "word " * 300]) == [4, 2, 302]
    assert elastic.token_counts([]) == []


def test_counting_tokens_while_encoding_is_safe(elastic):
    """Counting (untruncated) must not flip the encoding tokenizer's truncation and padding."""
    stop = threading.Event()
    errors: list[Exception] = []

    def count() -> None:
        while not stop.is_set():
            try:
                elastic.token_counts(["word " * 300, "hi"])
            except Exception as error:  # pragma: no cover - the failure being tested for
                errors.append(error)
                return

    counter = threading.Thread(target=count)
    counter.start()
    try:
        for _ in range(10):
            elastic.encode(["hello there", "word " * 40], EncoderProfile(layers=1))
    finally:
        stop.set()
        counter.join(30)
    assert not errors


def test_concurrent_profiles_match_sequential(elastic):
    profiles = [EncoderProfile(layers=2, tempscale=0.7), EncoderProfile(dimensions=128),
                EncoderProfile(layers=4, precision="bf16")]
    sequential = [elastic.encode(TEXTS, profile) for profile in profiles]
    results: dict[tuple[int, int], np.ndarray] = {}
    start = threading.Barrier(len(profiles))

    def run(index: int) -> None:
        start.wait(30)
        for round_ in range(3):
            results[index, round_] = elastic.encode(TEXTS, profiles[index])

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(profiles))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert len(results) == 3 * len(profiles)
    for index, round_ in itertools.product(range(len(profiles)), range(3)):
        np.testing.assert_allclose(results[index, round_], sequential[index], rtol=0, atol=1e-6)
