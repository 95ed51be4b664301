"""Framework filters -> embedsvc conditions: what maps, and what is refused by name."""

from __future__ import annotations

import pytest
from llama_index.core.vector_stores import (
    FilterCondition,
    FilterOperator,
    MetadataFilter,
    MetadataFilters,
)

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


@pytest.mark.parametrize("spec, named", [
    ({"$or": [{"a": 1}]}, r"\$or"),
    ({"a": {"$gt": 1}}, r"\$gt"),
    ({"a": {"$eq": 1, "$ne": 2}}, r"\$ne"),
    ({"a": {"$in": [1, 2]}}, r"\$in"),
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
    with pytest.raises(ValueError, match="'!='"):
        conditions_of_filters(MetadataFilters(filters=[
            MetadataFilter(key="n", value=3, operator=FilterOperator.NE)
        ]))
    with pytest.raises(ValueError, match="or"):
        conditions_of_filters(MetadataFilters(condition=FilterCondition.OR, filters=[
            MetadataFilter(key="n", value=3), MetadataFilter(key="n", value=4)
        ]))
