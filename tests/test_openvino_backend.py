"""The OpenVINO backend: same vectors as torch, torch-free once exported, int8 guarded."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import openvino as ov
import pytest

from embedsvc.encoding.elastic import ElasticModel
from embedsvc.encoding.openvino_backend import SMALL_PASS_TOKENS
from embedsvc.encoding.pipeline import FastTokenizer, read_pipeline
from embedsvc.encoding.profile import cpu_flags
from embedsvc.encoding.sentence_transformer import SentenceTransformerEncoder
from embedsvc.errors import InvalidArgument
from embedsvc.types import EncoderProfile

TEXTS = [
    "hello world",
    "How do I open a database connection from Python?",
    "Der Herzinfarkt ist eine akute Erkrankung des Herzens. " * 3,
    "naïve café — 東京 emoji 🙂 and CamelCaseIdentifiers_with_snake",
    " ".join(f"word{i} and some more prose about sentence number {i}." for i in range(80)),
]


def cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


@pytest.fixture(scope="module")
def torch_model(encoder) -> ElasticModel:
    return encoder.elastic


def test_the_bundled_model_is_served_on_openvino(encoder):
    assert encoder.info.backend == "openvino"
    bf16 = {"avx512_bf16", "amx_bf16"} & cpu_flags()
    assert encoder.info.default_profile.precision == ("bf16" if bf16 else "fp32")


def test_tokenizer_without_transformers_matches_the_models_own(encoder, torch_model):
    ours = FastTokenizer(encoder.path, encoder.info.max_tokens)
    theirs = torch_model.model.tokenizer
    expected = theirs(TEXTS, padding=True, truncation=True, max_length=256, return_tensors="np")
    batch = ours.batch(TEXTS)
    for name in ("input_ids", "attention_mask", "token_type_ids"):
        np.testing.assert_array_equal(batch[name], expected[name])
    assert ours.counts(TEXTS) == torch_model.token_counts(TEXTS)
    assert ours.get_added_vocab() == theirs.get_added_vocab()


@pytest.mark.parametrize("precision, least", [("fp32", 0.99999), ("bf16", 0.9999)])
def test_vectors_match_torch_fp32(encoder, torch_model, precision, least):
    fp32 = EncoderProfile(precision="fp32")
    for prompt, dims in (("", None), ("query: ", 128)):
        reference = torch_model.encode(TEXTS, replace_dims(fp32, dims), prompt=prompt)
        profile = encoder.profile(precision=precision, dimensions=dims)
        vectors = encoder.encode(TEXTS, profile, prompt=prompt)
        assert vectors.shape == reference.shape
        assert cosine(vectors, reference).min() >= least
        np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)


def test_a_pass_split_over_streams_keeps_each_texts_vector_in_its_row(encoder):
    model = encoder._openvino
    assert model.streams >= 1
    assert encoder._batcher.max_pass_texts == encoder.max_pass_texts * model.streams
    together = model.encode(TEXTS, "fp32")
    alone = np.concatenate([model.encode([text], "fp32") for text in TEXTS])
    np.testing.assert_allclose(together, alone, atol=1e-5)
    reordered = model.encode(TEXTS[::-1], "fp32")
    np.testing.assert_allclose(reordered[::-1], together, atol=1e-5)


def replace_dims(profile: EncoderProfile, dims: int | None) -> EncoderProfile:
    return EncoderProfile(dimensions=dims, precision=profile.precision)


def test_fewer_layers_and_tempscale_run_on_torch(encoder, torch_model):
    for profile in (EncoderProfile(layers=3, precision="fp32"),
                    EncoderProfile(tempscale=0.9, precision="fp32")):
        expected = torch_model.encode(TEXTS, profile)
        np.testing.assert_allclose(encoder.encode(TEXTS, encoder.profile(profile)), expected,
                                   atol=1e-6)


def test_int8_is_close_to_fp32_and_only_where_it_can_run(encoder):
    reference = encoder.encode(TEXTS, encoder.profile(precision="fp32"))
    int8 = encoder.encode(TEXTS, encoder.profile(precision="int8"))
    assert cosine(int8, reference).mean() >= 0.98
    with pytest.raises(InvalidArgument, match="int8 runs on the OpenVINO backend only"):
        encoder.profile(precision="int8", layers=3)
    with pytest.raises(InvalidArgument, match="int8 runs on the OpenVINO backend only"):
        encoder.profile(precision="int8", tempscale=0.8)


def test_torch_backend_serves_the_same_vectors_and_refuses_int8(encoder):
    on_torch = SentenceTransformerEncoder(encoder.path, backend="torch")
    try:
        assert on_torch.info.backend == "torch"
        fp32 = EncoderProfile(precision="fp32")
        assert cosine(on_torch.encode(TEXTS, fp32), encoder.encode(TEXTS, fp32)).min() >= 0.99999
        with pytest.raises(InvalidArgument, match="int8 runs on the OpenVINO backend only"):
            on_torch.profile(precision="int8")
    finally:
        on_torch.close()


def test_a_cached_export_serves_without_importing_torch(encoder, tmp_path):
    encoder.encode(["make sure the export exists"])
    script = (
        "import json, sys\n"
        "from embedsvc.encoding.sentence_transformer import SentenceTransformerEncoder\n"
        "e = SentenceTransformerEncoder.from_spec()\n"
        "v = e.encode(['hello world'], e.profile(precision='fp32'))\n"
        "e.close()\n"
        "print(json.dumps({'backend': e.info.backend, 'vector': v[0].tolist(),\n"
        "                  'torch': 'torch' in sys.modules,\n"
        "                  'transformers': 'transformers' in sys.modules}))\n"
    )
    env = {**os.environ, "EMBEDSVC_CACHE_DIR": str(encoder.cache_dir)}
    result = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                            text=True, check=True, timeout=120)
    report = json.loads(result.stdout)
    assert report["backend"] == "openvino"
    assert not report["torch"] and not report["transformers"]
    expected = encoder.encode(["hello world"], encoder.profile(precision="fp32"))[0]
    np.testing.assert_allclose(report["vector"], expected, atol=1e-6)


def test_pipelines_with_more_than_mean_pooling_are_left_to_torch(encoder, tmp_path):
    for name in ("modules.json", "sentence_bert_config.json", "config.json", "tokenizer.json"):
        (tmp_path / name).write_bytes((encoder.path / name).read_bytes())
    (tmp_path / "1_Pooling").mkdir()
    pooling = json.loads((encoder.path / "1_Pooling" / "config.json").read_text())
    (tmp_path / "1_Pooling" / "config.json").write_text(json.dumps(pooling))
    assert read_pipeline(tmp_path) is not None
    cls = {**pooling, "pooling_mode_mean_tokens": False, "pooling_mode_cls_token": True}
    (tmp_path / "1_Pooling" / "config.json").write_text(json.dumps(cls))
    assert read_pipeline(tmp_path) is None


def test_a_query_runs_on_one_unpinned_thread_and_a_large_pass_on_every_core(encoder):
    model = encoder._openvino
    precision = encoder.info.default_profile.precision
    assert model.pass_threading(["how do I open a database connection?"], precision) == (1, False)
    large = [TEXTS[-1]] * (SMALL_PASS_TOKENS // 128)
    runtimes_choice = ov.Core().compile_model(
        model.directory / "model.xml", "CPU", {"PERFORMANCE_HINT": "THROUGHPUT"}
    ).get_property("INFERENCE_NUM_THREADS")
    assert model.pass_threading(large, precision) == (runtimes_choice, False)


def test_a_text_has_the_same_vector_alone_and_in_a_large_pass(encoder):
    model, precision = encoder._openvino, encoder.info.default_profile.precision
    alone = np.concatenate([model.encode([text], precision) for text in TEXTS])
    large = model.encode(TEXTS * 4, precision)[: len(TEXTS)]  # 20 texts x 256 tokens: one pass
    assert model.pass_threading(TEXTS * 4, precision)[0] != 1 or os.cpu_count() == 1
    assert cosine(alone, large).min() >= 0.9999
