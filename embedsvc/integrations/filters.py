"""Framework metadata filters -> embedsvc conditions, in one place so operators can be added.

The store filters top-level metadata keys with conditions that must all hold (see
`embedsvc.filters`): equality, not-equal, in, not-in, ranges, prefix and exists. The Mongo-like
operators LangChain stores use map onto them (``$eq``, ``$ne``, ``$in``, ``$nin``, ``$gt``,
``$gte``, ``$lt``, ``$lte``, ``$exists``) joined by ``$and``; anything else (``$or``, ``$not``,
``$like``) is refused by name rather than silently ignored.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from embedsvc.filters import Range
from embedsvc.metadata import is_scalar
from embedsvc.types import Condition

OPERATORS = {"$eq": "equals", "$ne": "not_equals", "$in": "in", "$nin": "not_in",
             "$exists": "exists"}
BOUNDS = {"$gt": "gt", "$gte": "gte", "$lt": "lt", "$lte": "lte"}
SUPPORTED = f"{', '.join([*OPERATORS, *BOUNDS])} on metadata keys, joined by $and"


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
            conditions.extend(_operator_conditions(key, value))
        else:
            conditions.append(equality(key, value))
    return conditions


def _operator_conditions(key: str, spec: Mapping[str, Any]) -> list[Condition]:
    """``{"$gte": 1, "$lt": 5}`` is one range; each other operator is a condition of its own."""
    unknown = [op for op in spec if op not in OPERATORS and op not in BOUNDS]
    if unknown or not spec:
        raise ValueError(f"filter on {key!r} uses {', '.join(unknown) or 'no operator'}; "
                         f"use {SUPPORTED}")
    conditions = [
        equality(key, value) if op == "$eq" else Condition(key, _listed(key, op, value),
                                                           OPERATORS[op])
        for op, value in spec.items() if op in OPERATORS
    ]
    bounds = {BOUNDS[op]: value for op, value in spec.items() if op in BOUNDS}
    if bounds:
        conditions.append(bounded(key, **bounds))
    return conditions


def _listed(key: str, op: str, value: Any) -> Any:
    if op in ("$in", "$nin") and not isinstance(value, list | tuple):
        raise ValueError(f"filter on {key!r}: {op} takes a list of values")
    return list(value) if op in ("$in", "$nin") else value


def bounded(key: str, **bounds: Any) -> Condition:
    return Condition(key, Range(**bounds), "range")


def equality(key: str, value: Any) -> Condition:
    if not is_scalar(value):
        raise ValueError(f"filter on {key!r} compares with {value!r}; only strings, numbers, "
                         "booleans and null can be matched")
    return Condition(key, value)
