"""2DMSE fine-tuning: a few steps on tiny pairs give a different model that loads by path."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from embedsvc.encoding.elastic import ElasticModel
from embedsvc.encoding.models import resolve_model_path
from embedsvc.encoding.training import read_pairs, train_2dmse
from embedsvc.errors import InvalidArgument
from embedsvc.types import EncoderProfile

TOPICS = ["python", "cooking", "football", "astronomy", "gardening", "music", "finance", "chess"]
PROBES = ["how do I sort a list in python", "best way to grow tomatoes"]


def write_pairs(path: Path) -> Path:
    lines = [
        json.dumps({"anchor": f"question {i} about {topic}",
                    "positive": f"an answer on {topic}, number {i}"})
        for topic in TOPICS for i in range(8)
    ]
    path.write_text("\n".join(lines) + "\n\n", encoding="utf-8")
    return path


def test_train_2dmse_saves_a_different_loadable_model(tmp_path):
    from sentence_transformers import SentenceTransformer

    pairs = write_pairs(tmp_path / "pairs.jsonl")
    out = train_2dmse(pairs, "", tmp_path / "trained", batch_size=8, max_steps=2,
                      learning_rate=1e-4, show_progress_bar=False)
    assert out == tmp_path / "trained"
    trained = ElasticModel(SentenceTransformer(str(out), device="cpu"))
    base = ElasticModel(SentenceTransformer(str(resolve_model_path("")), device="cpu"))
    for profile in (EncoderProfile(), EncoderProfile(layers=2, dimensions=64)):
        after = trained.encode(PROBES, profile)
        before = base.encode(PROBES, profile)
        assert after.shape == before.shape
        assert np.isfinite(after).all()
        assert not np.allclose(after, before, atol=1e-4)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"anchor": "a", "positive": "b"}\nnot json\n', r"pairs.jsonl:2: expected"),
        ('{"anchor": "a", "positive": "b"}\n{"anchor": "a"}\n', r"pairs.jsonl:2: expected"),
        ('{"anchor": "a", "positive": "b"}\n{"anchor": "", "positive": "b"}\n', "non-empty"),
        ('{"anchor": "a", "positive": "b"}\n', "at least 2"),
    ],
)
def test_bad_pairs_files_are_refused(tmp_path, content, message):
    path = tmp_path / "pairs.jsonl"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(InvalidArgument, match=message):
        read_pairs(path)


def test_bad_settings_are_refused(tmp_path):
    pairs = write_pairs(tmp_path / "pairs.jsonl")
    with pytest.raises(InvalidArgument, match="matryoshka dims must be between 1 and 384"):
        train_2dmse(pairs, "", tmp_path / "out", matryoshka_dims=[512, 64], max_steps=1)
    with pytest.raises(InvalidArgument, match="batch_size at least 2"):
        train_2dmse(pairs, "", tmp_path / "out", batch_size=1)
    with pytest.raises(InvalidArgument, match="cannot read"):
        train_2dmse(tmp_path / "missing.jsonl", "", tmp_path / "out")
    assert not (tmp_path / "out").exists()
