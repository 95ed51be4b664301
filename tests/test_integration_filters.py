"""Framework filters -> embedsvc conditions: what maps, and what is refused by name."""

from __future__ import annotations

import pytest
from llama_index.core.vector_stores import (
    FilterCondition,
    FilterOperator,
    MetadataFilter,
    MetadataFilters,
)

from embedsvc.filters import Range
from embedsvc.integrations.filters import conditions_of_filter
from embedsvc.integrations.llamaindex import conditions_of_filters
from embedsvc.types import Condition


def test_langchain_style_equalities_map_to_conditions():
    assert conditions_of_filter(None) == []
    assert conditions_of_filter({"topic": "pets", "n": 2}) == [
        Condition("topic", "pets"), Condition("n", 2)
    ]
    nested = {"$and": [{"topic": {"$eq": "pets"}}, {"$and": [{"ok": True}]}], "x": None}
    assert conditions_of_filter(nested) == [
        Condition("topic", "pets"), Condition("ok", True), Condition("x", None)
    ]


def test_langchain_style_operators_map_to_conditions():
    assert conditions_of_filter({"a": {"$ne": 1}, "b": {"$in": [1, 2]}, "c": {"$nin": ["x"]},
                                 "d": {"$exists": False}}) == [
        Condition("a", 1, "not_equals"), Condition("b", [1, 2], "in"),
        Condition("c", ["x"], "not_in"), Condition("d", False, "exists"),
    ]
    assert conditions_of_filter({"year": {"$gte": 2000, "$lt": 2010}}) == [
        Condition("year", Range(gte=2000, lt=2010), "range")
    ]
    assert conditions_of_filter({"a": {"$eq": 1, "$ne": 2}}) == [
        Condition("a", 1), Condition("a", 2, "not_equals")
    ]


@pytest.mark.parametrize("spec, named", [
    ({"$or": [{"a": 1}]}, r"\$or"),
    ({"a": {"$like": "x%"}}, r"\$like"),
    ({"a": {}}, "no operator"),
    ({"a": {"$in": 1}}, "list"),
    ({"a": [1, 2]}, "only strings"),
    ({"$and": {"a": 1}}, "list"),
])
def test_other_langchain_operators_are_refused_by_name(spec, named):
    with pytest.raises(ValueError, match=named):
        conditions_of_filter(spec)


def test_llamaindex_filters_map_eq_under_and():
    filters = MetadataFilters(filters=[
        MetadataFilter(key="topic", value="pets"),
        MetadataFilters(filters=[MetadataFilter(key="n", value=3)]),
    ])
    assert conditions_of_filters(filters) == [Condition("topic", "pets"), Condition("n", 3)]
    assert conditions_of_filters(MetadataFilters(filters=[
        MetadataFilter(key="n", value=3, operator=FilterOperator.NE),
        MetadataFilter(key="t", value=["a"], operator=FilterOperator.IN),
        MetadataFilter(key="n", value=9, operator=FilterOperator.LTE),
        MetadataFilter(key="gone", value=None, operator=FilterOperator.IS_EMPTY),
    ])) == [Condition("n", 3, "not_equals"), Condition("t", ["a"], "in"),
            Condition("n", Range(lte=9), "range"), Condition("gone", False, "exists")]
    with pytest.raises(ValueError, match="'contains'"):
        conditions_of_filters(MetadataFilters(filters=[
            MetadataFilter(key="t", value="a", operator=FilterOperator.CONTAINS)
        ]))
    with pytest.raises(ValueError, match="or"):
        conditions_of_filters(MetadataFilters(condition=FilterCondition.OR, filters=[
            MetadataFilter(key="n", value=3), MetadataFilter(key="n", value=4)
        ]))
