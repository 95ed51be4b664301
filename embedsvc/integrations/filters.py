"""Framework metadata filters -> embedsvc conditions, in one place so operators can be added.

Today the store filters on equality of top-level metadata keys, all of which must hold, so
equality (`{"k": v}`, `{"k": {"$eq": v}}`, LlamaIndex `FilterOperator.EQ`) joined by AND is
what maps; any other operator is refused by name rather than silently ignored.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from embedsvc.metadata import is_scalar
from embedsvc.types import Condition

SUPPORTED = "equality ({'key': value} or {'key': {'$eq': value}}) joined by $and"


def conditions_of_filter(spec: Mapping[str, Any] | None) -> list[Condition]:
    """A LangChain-style (Mongo-like) filter as conditions that must all hold."""
    if not spec:
        return []
    conditions: list[Condition] = []
    for key, value in spec.items():
        if key == "$and":
            if not isinstance(value, list):
                raise ValueError("$and takes a list of filters")
            for part in value:
                conditions.extend(conditions_of_filter(part))
        elif key.startswith("$"):
            raise ValueError(f"filter operator {key} is not supported; use {SUPPORTED}")
        elif isinstance(value, Mapping):
            conditions.append(_operator_condition(key, value))
        else:
            conditions.append(equality(key, value))
    return conditions


def _operator_condition(key: str, spec: Mapping[str, Any]) -> Condition:
    if len(spec) != 1 or "$eq" not in spec:
        operators = ", ".join(spec) or "none"
        raise ValueError(f"filter on {key!r} uses {operators}; only $eq is supported "
                         f"({SUPPORTED})")
    return equality(key, spec["$eq"])


def equality(key: str, value: Any) -> Condition:
    if not is_scalar(value):
        raise ValueError(f"filter on {key!r} compares with {value!r}; only strings, numbers, "
                         "booleans and null can be matched")
    return Condition(key, value)
