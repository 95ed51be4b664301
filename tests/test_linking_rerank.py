"""The cross-encoder re-ranker: `embedsvc train linker` on a tiny mentions file, a KB that names
the result, LinkEntities rerank=true in process, over gRPC and through the CLI; bad input."""

from __future__ import annotations

import json
import math
from pathlib import Path

import grpc
import pytest

from embedsvc.config import Settings
from embedsvc.core import Core
from embedsvc.errors import InvalidArgument, NotFound
from embedsvc.linking.concepts import Mention
from embedsvc.linking.training import train_linker
from tests.test_linking import JSONL
from tests.test_linking_e2e import run

MENTIONS = [
    {"mention": "heart attack", "concept_id": "C1", "context": "He had a heart attack in May."},
    {"mention": "cardiac failure", "concept_id": "C2"},
    {"mention": "sugar disease", "concept_id": "C3"},
    {"mention": "femur fracture", "concept_id": "C4", "context": "X-ray: femur fracture, left."},
]


@pytest.fixture(scope="module")
def trained(tmp_path_factory, encoder) -> tuple[Path, Path]:
    """A data dir with the KB `med`, and a re-ranker trained on it by the CLI (a few steps)."""
    folder = tmp_path_factory.mktemp("rerank")
    data = folder / "data"
    core = Core(Settings(data_dir=data), encoder)
    core.load_knowledge_base("med", JSONL, "jsonl")
    core.close()
    mentions = folder / "mentions.jsonl"
    mentions.write_text("".join(json.dumps(m) + "\n" for m in MENTIONS))
    out = folder / "reranker"
    done = run("train", "linker", "--kb", "med", "--mentions", str(mentions), "--out", str(out),
               "--data-dir", str(data), "--steps", "3", "--negatives", "3",
               "--mentions-per-step", "2", "--train-layers", "1")
    assert done.returncode == 0, done.stderr
    assert "re-ranker saved" in done.stderr
    return data, out


@pytest.fixture(scope="module")
def core(trained, encoder, tmp_path_factory):
    """A data dir of its own (the trained one stays free for CLI runs): `med` without a
    re-ranker, `ranked` with the trained one."""
    _, reranker = trained
    core = Core(Settings(data_dir=tmp_path_factory.mktemp("ranked") / "data"), encoder)
    core.load_knowledge_base("med", JSONL, "jsonl")
    core.load_knowledge_base("ranked", JSONL, "jsonl", reranker=str(reranker))
    yield core
    core.close()


def test_training_writes_a_model_dir_that_says_how_it_was_trained(trained):
    _, reranker = trained
    about = json.loads((reranker / "linker.json").read_text())
    assert about["kb"] == "med" and about["mentions"] == 4 and about["steps"] == 3
    assert about["negatives"] == 3 and about["lists"] == 4 and about["train_layers"] == 1
    assert (reranker / "config.json").is_file()


def test_reranked_scores_are_a_softmax_over_the_list(core: Core):
    [plain] = core.link_entities("ranked", ["heart atack"], k=10)
    [ranked] = core.link_entities("ranked", [
        Mention("heart atack", "Admitted after a heart atack.")], k=10, rerank=True)
    assert core.linking.get("ranked").reranker
    assert {c.concept_id for c in ranked.candidates} == {c.concept_id for c in plain.candidates}
    scores = [c.score for c in ranked.candidates]
    assert scores == sorted(scores, reverse=True)
    assert all(0.0 <= s <= 1.0 for s in scores)
    assert math.isclose(sum(scores), 1.0, rel_tol=1e-5)  # the KB has fewer concepts than k
    # k cuts the re-ranked list: the best candidates keep their probabilities.
    [top] = core.link_entities("ranked", [
        Mention("heart atack", "Admitted after a heart atack.")], k=2, rerank=True)
    assert [(c.concept_id, round(c.score, 5)) for c in top.candidates] == [
        (c.concept_id, round(c.score, 5)) for c in ranked.candidates[:2]]


def test_nil_below_the_threshold_on_reranked_scores(core: Core):
    mentions = ["quantum chromodynamics", "diabetes"]
    # The best of n probabilities is at least 1/n: never NIL at 0.2 with 4 candidates.
    for linked in core.link_entities("ranked", mentions, k=4, threshold=0.2, rerank=True):
        assert not linked.nil
    for linked in core.link_entities("ranked", mentions, k=4, threshold=1.0, rerank=True):
        assert linked.nil == (linked.candidates[0].score < 1.0)
        assert linked.candidates  # shown, though NIL


def test_rerank_without_a_reranker_says_how_to_add_one(core: Core):
    with pytest.raises(InvalidArgument, match="train linker --kb med") as raised:
        core.link_entities("med", ["x"], rerank=True)
    assert "--reranker DIR" in str(raised.value)


@pytest.mark.parametrize(("lines", "message"), [
    (['{"mention": "heart attack", "concept_id": "C1"}', "{oops"], "line 2: not JSON"),
    (['{"mention": "a", "concept_id": "C1"}', "", '{"mention": "b", "concept_id": "C9"}'],
     "line 3: concept_id 'C9' is not in the terminology"),
    (['{"mention": "", "concept_id": "C1"}'], 'line 1: "mention" must be a non-empty string'),
    (['{"mention": "x", "concept_id": "C1", "context": 3}'], 'line 1: "context" must be'),
    (["[1, 2]"], "line 1: expected a JSON object"),
    ([""], "has no mentions"),
])
def test_a_bad_mentions_file_is_named_by_line(core: Core, tmp_path: Path, lines, message):
    mentions = tmp_path / "m.jsonl"
    mentions.write_text("\n".join(lines) + "\n")
    with pytest.raises(InvalidArgument, match=message):
        train_linker(core.linking, "med", mentions, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_bad_training_and_loading_input(core: Core, tmp_path: Path):
    mentions = tmp_path / "m.jsonl"
    mentions.write_text(json.dumps(MENTIONS[0]) + "\n")
    with pytest.raises(NotFound, match="no terminology 'nope'"):
        train_linker(core.linking, "nope", mentions, tmp_path / "out")
    with pytest.raises(InvalidArgument, match="negatives"):
        train_linker(core.linking, "med", mentions, tmp_path / "out", negatives=0)
    with pytest.raises(InvalidArgument, match="cannot read mentions file"):
        train_linker(core.linking, "med", tmp_path / "missing.jsonl", tmp_path / "out")
    with pytest.raises(InvalidArgument, match="not a directory written by `embedsvc train"):
        core.load_knowledge_base("med", JSONL, "jsonl", reranker=str(tmp_path))


def test_the_cli_names_a_bad_line(trained, tmp_path: Path):
    data, _ = trained
    mentions = tmp_path / "m.jsonl"
    mentions.write_text(json.dumps(MENTIONS[0]) + "\n" + '{"mention": "x"}\n')
    done = run("train", "linker", "--kb", "med", "--mentions", str(mentions),
               "--out", str(tmp_path / "out"), "--data-dir", str(data))
    assert done.returncode == 2
    assert 'm.jsonl line 2: "concept_id" must be a non-empty string' in done.stderr


@pytest.mark.slow
def test_rerank_over_grpc_and_the_cli(trained, server_factory, tmp_path: Path):
    _, reranker = trained
    server = server_factory(tmp_path / "served").start()
    terms = tmp_path / "terms.jsonl"
    terms.write_text(JSONL)
    assert run("link", "load", str(terms), "--kb", "med", "--server", server.target
               ).returncode == 0
    loaded = run("link", "load", str(terms), "--kb", "served", "--reranker", str(reranker),
                 "--server", server.target, "--json")
    assert loaded.returncode == 0, loaded.stderr
    assert json.loads(loaded.stdout)["reranker"] == str(reranker.resolve())
    with server.client() as client:
        [linked] = client.link_entities("served", ["heart atack"], k=10, rerank=True)
        assert math.isclose(sum(c.score for c in linked.candidates), 1.0, rel_tol=1e-5)
        assert {kb.name: kb.reranker for kb in client.knowledge_bases()}["served"]
        with pytest.raises(grpc.RpcError) as refused:
            client.link_entities("med", ["heart atack"], rerank=True)
        assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "train linker" in refused.value.details()
        with pytest.raises(grpc.RpcError) as bad:
            client.load_knowledge_base("served", JSONL, "jsonl", reranker=str(tmp_path))
        assert bad.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    queries = tmp_path / "queries.txt"
    queries.write_text('heart atack\n{"mention": "HF", "context": "heart failure (HF)"}\n')
    linked = run("link", "mentions", "--kb", "served", "--queries", str(queries), "--k", "10",
                 "--rerank", "--threshold", "0.2", "--json", "--server", server.target)
    assert linked.returncode == 0, linked.stderr
    lines = [json.loads(line) for line in linked.stdout.splitlines()]
    assert [line["mention"] for line in lines] == ["heart atack", "HF"]
    for line in lines:
        assert math.isclose(sum(c["score"] for c in line["candidates"]), 1.0, abs_tol=1e-3)
        assert not line["nil"]
    refused = run("link", "mentions", "x", "--kb", "med", "--rerank", "--server", server.target)
    assert refused.returncode == 2 and "train linker" in refused.stderr


def test_a_setting_names_the_reranker_of_a_kb_loaded_without_one(trained, encoder,
                                                                  tmp_path: Path):
    _, reranker = trained
    core = Core(Settings(data_dir=tmp_path / "data", link_rerankers={"plain": str(reranker)}),
                encoder)
    try:
        core.load_knowledge_base("plain", JSONL, "jsonl")
        [linked] = core.link_entities("plain", ["diabetes"], k=10, rerank=True)
        assert math.isclose(sum(c.score for c in linked.candidates), 1.0, rel_tol=1e-5)
    finally:
        core.close()
