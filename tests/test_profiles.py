"""Encoder profiles through the core: collections keep theirs, queries may run cheaper."""

from __future__ import annotations

import numpy as np
import pytest
from sqlalchemy import select

from embedsvc.errors import FailedPrecondition, InvalidArgument
from embedsvc.storage.sql.schema import ChunkRow
from embedsvc.types import DocumentInput, EncoderProfile

DOCS = [
    DocumentInput("py", "Python is a dynamically typed programming language."),
    DocumentInput("rain", "Heavy rain is expected in Hamburg over the weekend."),
]


def test_collection_profile_is_stored_and_used(make_core):
    core = make_core()
    info = core.create_collection(
        "shallow", dimensions=128, profile={"layers": 3, "tempscale": 0.9, "precision": "fp32"}
    )
    assert info.profile == EncoderProfile(layers=3, dimensions=128, tempscale=0.9,
                                          precision="fp32")
    core.upsert("shallow", DOCS)
    assert info.dimensions == 128
    expected = core.models.get().encode([DOCS[0].text], info.profile)
    with core.storage.repository.sessions() as session:
        raw = session.scalars(select(ChunkRow.vector).order_by(ChunkRow.id)).first()
    np.testing.assert_allclose(np.frombuffer(raw, dtype="<f4"), expected[0], atol=1e-6)

    assert core.search("shallow", "weather in Hamburg", k=1)[0].document_id == "rain"
    cheap = core.search("shallow", "weather in Hamburg", k=1, query_profile={"layers": 1})
    assert cheap[0].document_id == "rain"
    assert core.get_collection("shallow").profile.layers == 3


def test_query_profile_must_keep_the_width(make_core):
    core = make_core()
    core.create_collection("full")
    core.upsert("full", DOCS)
    with pytest.raises(FailedPrecondition, match="width"):
        core.search("full", "python", query_profile={"dimensions": 64})
    with pytest.raises(InvalidArgument, match="layers"):
        core.search("full", "python", query_profile={"layers": 9})
    with pytest.raises(InvalidArgument, match="precision"):
        core.create_collection("bad", profile={"precision": "int4"})
    with pytest.raises(InvalidArgument, match="tempscale"):
        core.embed(["x"], profile={"tempscale": -1.0})


def test_embed_profiles(make_core):
    core = make_core()
    full = core.embed(["a sentence about cats"], profile={"precision": "fp32"}).vectors
    shallow = core.embed(["a sentence about cats"], profile={"layers": 2, "precision": "fp32"})
    assert shallow.vectors.shape == full.shape == (1, 384)
    assert not np.allclose(shallow.vectors, full)
    bf16 = core.embed(["a sentence about cats"], profile={"precision": "bf16"}).vectors
    assert float(bf16[0] @ full[0]) > 0.999
    small = core.embed(["a sentence about cats"], dimensions=32).vectors
    assert small.shape == (1, 32) and np.linalg.norm(small) == pytest.approx(1.0, abs=1e-5)
