"""Every filter operator, in every search mode and level, on SQLite and PostgreSQL: the hits
are exactly the matching documents, k of them whenever k match."""

from __future__ import annotations

import pytest

from embedsvc import convert
from embedsvc.errors import InvalidArgument
from embedsvc.filters import Condition, Range, conditions_of, validate
from embedsvc.types import DocumentInput

NAMES = ["alice", "albert", "bob", "carol", "chen", "dmitri", "eve", "émile", "frank", "zoë"]
TEAMS = ["red", "blue", "green"]


def metadata(i: int) -> dict:
    data = {"name": NAMES[i], "team": TEAMS[i % 3], "score": i * 2.5, "nested": {"a": i}}
    if i != 5:
        data["year"] = 2000 + i
    if i % 2 == 0:
        data["reviewed"] = i % 4 == 0  # present on evens: true on 0, 4, 8
    return data


DOCUMENTS = [
    DocumentInput(f"d{i}", f"Quarterly report {i}: the {TEAMS[i % 3]} team wrote it.", "",
                  metadata(i))
    for i in range(len(NAMES))
]

# (where, which documents match it: a predicate on the metadata, the test's oracle)
CASES = [
    ({"team": "red"}, lambda m: m["team"] == "red"),
    ({"team": {"not_equals": "red"}}, lambda m: m["team"] != "red"),
    ({"team": {"in": ["red", "blue"]}}, lambda m: m["team"] in ("red", "blue")),
    ({"team": {"not_in": ["red"]}}, lambda m: m["team"] != "red"),
    ({"year": {"not_in": [2001, 2002]}}, lambda m: m.get("year") not in (2001, 2002)),
    ({"year": {"gte": 2003, "lt": 2008}}, lambda m: 2003 <= m.get("year", 0) < 2008),
    ({"year": {"gt": 2003.5, "lte": 2009}}, lambda m: 2003.5 < m.get("year", 0) <= 2009),
    ({"score": {"range": {"lt": 5}}}, lambda m: m["score"] < 5),
    ({"name": {"gte": "c", "lt": "e"}}, lambda m: "c" <= m["name"] < "e"),
    ({"name": {"gt": "eve"}}, lambda m: m["name"] > "eve"),  # code-point order: é, z > e
    ({"name": {"prefix": "al"}}, lambda m: m["name"].startswith("al")),
    ({"name": {"prefix": "é"}}, lambda m: m["name"].startswith("é")),
    ({"reviewed": {"exists": True}}, lambda m: "reviewed" in m),
    ({"reviewed": {"exists": False}}, lambda m: "reviewed" not in m),
    ({"reviewed": True}, lambda m: m.get("reviewed") is True),
    ({"year": {"exists": False}}, lambda m: "year" not in m),
    ({"nested": {"exists": True}}, lambda m: False),  # only scalar values are filterable
    ({"team": {"in": ["blue", "green"]}, "year": {"gte": 2004}},
     lambda m: m["team"] in ("blue", "green") and m.get("year", 0) >= 2004),
]


@pytest.fixture
def core(make_core):
    core = make_core()
    core.create_collection("reports")
    core.upsert("reports", DOCUMENTS)
    return core


def test_every_operator_in_every_mode_and_level(core):
    for where, matches in CASES:
        expected = {d.id for d in DOCUMENTS if matches(d.metadata)}
        for mode in ("dense", "lexical", "hybrid"):
            for level in ("chunk", "document"):
                hits = core.search("reports", "quarterly report team", k=len(DOCUMENTS),
                                   where=where, level=level, mode=mode)
                found = [hit.document_id for hit in hits]
                assert set(found) == expected, (where, mode, level)
                assert len(found) == len(expected), (where, mode, level)
                few = core.search("reports", "quarterly report team", k=2, where=where,
                                  level=level, mode=mode)
                assert len(few) == min(2, len(expected)), (where, mode, level)
                assert {hit.document_id for hit in few} <= expected


def test_filters_survive_an_update_of_the_metadata(core):
    core.upsert("reports", [DocumentInput("d1", DOCUMENTS[1].text, "", {"year": 1990})])
    hits = core.search("reports", "report", k=10, where={"year": {"lt": 2000}}, mode="lexical")
    assert [hit.document_id for hit in hits] == ["d1"]
    assert "d1" not in {h.document_id for h in core.search(
        "reports", "report", k=10, where={"team": {"exists": True}})}


def test_conditions_cross_the_wire_unchanged():
    conditions = [condition for where, _ in CASES for condition in conditions_of(where)]
    assert convert.conditions_in(convert.conditions_out(conditions)) == conditions


BAD = [
    ({"team": {"in": []}}, "filter.conditions[0].in"),
    ({"team": {"in": "red"}}, "filter.conditions[0].in"),
    ({"team": {"not_in": [{"a": 1}]}}, "filter.conditions[0].not_in[0]"),
    ({"year": {"gte": 1, "gt": 2}}, "filter.conditions[0].range"),
    ({"year": {"gte": 1, "lt": "x"}}, "filter.conditions[0].range"),
    ({"year": {"gte": True}}, "filter.conditions[0].range"),
    ({"year": {"range": {}}}, "filter.conditions[0].range"),
    ({"year": {"lt": float("inf")}}, "filter.conditions[0].range.lt"),
    ({"name": {"prefix": ""}}, "filter.conditions[0].prefix"),
    ({"name": {"prefix": 3}}, "filter.conditions[0].prefix"),
    ({"name": {"exists": "yes"}}, "filter.conditions[0].exists"),
    ({"name": {"like": "a%"}}, "filter.conditions[0]"),
    ({"name": {"in": ["a"], "prefix": "a"}}, "filter.conditions[0]"),
    ([Condition("name", "a", "matches")], "filter.conditions[0]"),
    ([Condition("name", Range(), "range")], "filter.conditions[0].range"),
]


@pytest.mark.parametrize(("where", "field"), BAD, ids=[str(where) for where, _ in BAD])
def test_bad_conditions_name_their_field(where, field):
    with pytest.raises(InvalidArgument) as error:
        validate(conditions_of(where))
    assert error.value.field == field
