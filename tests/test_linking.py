"""Entity linking in process: terminology formats, candidates, NIL, reloads, bad input."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from embedsvc.config import Settings
from embedsvc.core import Core
from embedsvc.errors import FailedPrecondition, InvalidArgument, NotFound
from embedsvc.linking import abbreviations, formats
from embedsvc.linking.concepts import Mention
from tests.conftest import postgres_schema

JSONL = "\n".join(json.dumps(entry) for entry in [
    {"concept_id": "C1", "canonical_name": "Myocardial infarction",
     "aliases": ["heart attack", "MI"], "types": ["T047"]},
    {"concept_id": "C2", "canonical_name": "Heart failure", "aliases": ["cardiac failure"]},
    {"concept_id": "C1", "canonical_name": "Myocardial infarction",
     "aliases": ["myocardial infarct"], "types": ["T048"]},
    {"concept_id": "C3", "canonical_name": "Diabetes mellitus", "aliases": ["diabetes"]},
    {"concept_id": "C4", "canonical_name": "Fracture of femur", "aliases": ["broken thigh bone"]},
]) + "\n"

OBO = """format-version: 1.2
ontology: test

[Term]
id: T:1
name: Abnormality of the heart
synonym: "Cardiac abnormality" EXACT []
synonym: "Heart anomaly" RELATED [HPO:x]
synonym: "Abnormal body" BROAD []
def: "Any anomaly of the heart." [HPO:probinson]

[Term]
id: T:2
name: Old term
is_obsolete: true

[Term]
id: T:3
name: Seizure
synonym: "Epileptic fit" EXACT []
is_a: T:1 ! not really
"""

CSV = """concept_id,name,aliases,definition
D1,Germany,Federal Republic of Germany|Deutschland,a country
D2,France,French Republic,
"""


def test_jsonl_merges_duplicate_ids():
    concepts = {c.concept_id: c for c in formats.parse(JSONL, "jsonl")}
    assert list(concepts) == ["C1", "C2", "C3", "C4"]
    assert concepts["C1"].aliases == ["heart attack", "MI", "myocardial infarct"]
    assert concepts["C1"].types == ["T047", "T048"]


def test_obo_keeps_exact_and_related_synonyms_and_skips_obsolete_terms():
    concepts = {c.concept_id: c for c in formats.parse(OBO, "obo")}
    assert set(concepts) == {"T:1", "T:3"}
    assert concepts["T:1"].names() == [
        "Abnormality of the heart", "Cardiac abnormality", "Heart anomaly"
    ]
    assert concepts["T:1"].definition == "Any anomaly of the heart."


def test_csv_splits_aliases():
    concepts = formats.parse(CSV, "csv")
    assert [c.names() for c in concepts] == [
        ["Germany", "Federal Republic of Germany", "Deutschland"], ["France", "French Republic"]
    ]


@pytest.mark.parametrize(("text", "source_format", "line"), [
    ('{"concept_id": "A", "canonical_name": "a"}\n{"concept_id": "B"}\n', "jsonl", 2),
    ('{"concept_id": "A", "canonical_name": "a"}\n\nnot json\n', "jsonl", 3),
    ('{"concept_id": "A", "canonical_name": "a", "aliases": "x"}\n', "jsonl", 1),
    ("[Term]\nid: X:1\nname: fine\nthis line has no tag\n", "obo", 4),
    ("concept_id,name\nA,alpha\nB,\n", "csv", 3),
    ("concept_id,name\nA,alpha,extra\n", "csv", 2),
    ("id,label\nA,alpha\n", "csv", 1),
])
def test_a_bad_line_is_named(text: str, source_format: str, line: int):
    with pytest.raises(InvalidArgument, match=f"line {line}:.*nothing was loaded"):
        formats.parse(text, source_format)


def test_schwartz_hearst_abbreviations():
    context = "Patients with chronic obstructive pulmonary disease (COPD) and heart failure (HF)."
    assert abbreviations.definitions(context) == {
        "COPD": "chronic obstructive pulmonary disease", "HF": "heart failure"
    }
    assert abbreviations.expand("HF", context) == "heart failure"
    assert abbreviations.expand("HF", "no definition here (none)") == ""


@pytest.fixture(scope="module")
def core(tmp_path_factory, encoder):
    core = Core(Settings(data_dir=tmp_path_factory.mktemp("linking") / "data"), encoder)
    core.load_knowledge_base("med", JSONL, "jsonl")
    yield core
    core.close()


def test_links_with_both_generators_and_says_which_found_each(core: Core):
    [linked] = core.link_entities("med", ["heart atack"], k=3)
    best = linked.candidates[0]
    assert (best.concept_id, best.name, best.alias) == ("C1", "Myocardial infarction",
                                                        "heart attack")
    assert set(best.sources) == {"sparse", "dense"}
    assert not linked.nil and len(linked.candidates) == 3
    scores = [c.score for c in linked.candidates]
    assert scores == sorted(scores, reverse=True)
    # A paraphrase with little character overlap is found by the dense generator.
    [dense] = core.link_entities("med", ["broken thighbone"], k=1, generators=["dense"])
    assert dense.candidates[0].concept_id == "C4"
    assert dense.candidates[0].sources == ("dense",)


def test_context_expands_an_abbreviation(core: Core):
    context = "Echo after the heart failure (HF) was normal."
    [plain, in_context] = core.link_entities("med", [
        Mention("HF"), Mention(context=context, start=context.index("HF)"),
                               end=context.index("HF)") + 2),
    ], k=1)
    assert in_context.mention == "HF" and in_context.expansion == "heart failure"
    assert in_context.candidates[0].concept_id == "C2"
    assert plain.expansion == ""


def test_nil_below_the_threshold(core: Core):
    [far, near] = core.link_entities("med", ["quantum chromodynamics", "diabetes"],
                                     k=2, threshold=0.9)
    assert far.nil and far.candidates  # candidates still shown, all below the threshold
    assert not near.nil and near.candidates[0].concept_id == "C3"


@pytest.mark.parametrize(("call", "error", "message"), [
    (lambda c: c.link_entities("med", []), InvalidArgument, "mentions is empty"),
    (lambda c: c.link_entities("med", ["  "]), InvalidArgument, "mention is empty"),
    (lambda c: c.link_entities("med", ["x"], k=0), InvalidArgument, "k must be"),
    (lambda c: c.link_entities("med", ["x"], threshold=2), InvalidArgument, "threshold"),
    (lambda c: c.link_entities("med", [Mention(context="abc", start=1, end=9)]),
     InvalidArgument, "span"),
    (lambda c: c.link_entities("med", ["x"], generators=["bm25"]), InvalidArgument,
     "unknown generator"),
    (lambda c: c.link_entities("med", ["x"], rerank=True), InvalidArgument, "re-ranker"),
    (lambda c: c.link_entities("nope", ["x"]), NotFound, "no terminology 'nope'"),
    (lambda c: c.link_entities("../etc", ["x"]), InvalidArgument, "name"),
    (lambda c: c.load_knowledge_base("med", "concept_id,name\n", "csv"), InvalidArgument,
     "no concepts"),
    (lambda c: c.load_knowledge_base("med", "x", "xml"), InvalidArgument, "format"),
])
def test_bad_input_is_refused(core: Core, call, error, message):
    with pytest.raises(error, match=message):
        call(core)


def test_a_bad_file_loads_nothing_and_the_old_version_serves(core: Core):
    before = core.linking.get("med")
    collections = {c.name for c in core.storage.repository.list_collections()}
    with pytest.raises(InvalidArgument, match="line 2"):
        core.load_knowledge_base("med", JSONL.splitlines()[0] + "\n{}\n", "jsonl")
    assert core.linking.get("med") == before
    assert {c.name for c in core.storage.repository.list_collections()} == collections


def test_reload_is_atomic_for_queries_running_meanwhile(tmp_path: Path, encoder):
    core = Core(Settings(data_dir=tmp_path / "data"), encoder)
    try:
        core.load_knowledge_base("kb", CSV, "csv")
        stop, seen, failures = threading.Event(), set(), []

        def query() -> None:
            while not stop.is_set():
                try:
                    [linked] = core.link_entities("kb", ["Deutschland"], k=1)
                except Exception as error:  # any failure fails the test below
                    failures.append(error)
                    return
                seen.add((linked.kb_version, linked.candidates[0].concept_id))

        thread = threading.Thread(target=query)
        thread.start()
        renamed = CSV.replace("D1,", "G1,")
        for _ in range(2):
            core.load_knowledge_base("kb", renamed, "csv")
        stop.set()
        thread.join()
        assert not failures
        # Every answer came whole from one version: v1 knows D1, v2 and v3 know G1.
        assert seen <= {(1, "D1"), (2, "G1"), (3, "G1")}
        [linked] = core.link_entities("kb", ["Deutschland"], k=1)
        assert (linked.kb_version, linked.candidates[0].concept_id) == (3, "G1")
        # The current and the previous version are kept; older ones are gone.
        names = {c.name for c in core.storage.repository.list_collections()}
        assert names == {"kb.kb.v2", "kb.kb.v3"}
        assert sorted(p.name for p in (tmp_path / "data" / "linking" / "kb").glob("v*")) == [
            "v2", "v3"
        ]
    finally:
        core.close()
    # A new process opens the current version from the data dir.
    reopened = Core(Settings(data_dir=tmp_path / "data"), encoder)
    try:
        assert [kb.version for kb in reopened.knowledge_bases()] == [3]
        assert reopened.link_entities("kb", ["French Republic"], k=1)[0].candidates[0] \
            .concept_id == "D2"
    finally:
        reopened.close()


def test_a_deleted_alias_collection_is_a_failed_precondition(tmp_path: Path, encoder):
    core = Core(Settings(data_dir=tmp_path / "data"), encoder)
    try:
        info = core.load_knowledge_base("kb", CSV, "csv")
        core.collections.delete(info.collection)  # lost behind the service's back
        assert core.link_entities("kb", ["France"], generators=["sparse"])[0].candidates
        with pytest.raises(FailedPrecondition, match="load the terminology again"):
            core.link_entities("kb", ["France"])
    finally:
        core.close()


@pytest.mark.postgres
def test_load_and_link_on_postgres(tmp_path: Path, postgres_url: str, encoder):
    with postgres_schema(postgres_url) as url:
        core = Core(Settings(data_dir=tmp_path / "data", database_url=url), encoder)
        try:
            core.load_knowledge_base("obo", OBO, "obo")
            [linked] = core.link_entities("obo", ["epileptic fits"], k=1)
            assert linked.candidates[0].concept_id == "T:3"
        finally:
            core.close()
