"""Metadata conditions as Milvus scalar-field expressions, with SQL's meaning.

Each Milvus row carries a JSON field ``filters``: the document's top-level scalar metadata,
each value as its canonical JSON spelling (`embedsvc.metadata.canonical_json`, the same string
SQL filters on), so 3 and 3.0 match, "3" and true do not, and long values compare by digest.
A condition this module cannot express returns None, and the adapter then filters by the ids
SQL finds, so a new operator works everywhere before it is pushed down here.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from embedsvc.metadata import canonical_json, filterable_entries
from embedsvc.types import Condition

FILTERS_FIELD = "filters"


def filter_fields(metadata: dict[str, Any]) -> dict[str, str]:
    """What a row stores to be filtered on: top-level scalars, canonically spelled."""
    return {key: entry.json for key, entry in filterable_entries(metadata).items()}


def literal(value: str) -> str:
    """A Milvus string literal: JSON's escaping is also the expression grammar's."""
    return json.dumps(value, ensure_ascii=False)


def condition_expression(condition: Condition) -> str | None:
    """One condition as an expression, or None when it cannot be pushed down (the operators
    whose meaning for a missing key or a number differs in Milvus: not_*, range, prefix,
    exists; SQL answers those)."""
    field = f"{FILTERS_FIELD}[{literal(condition.key)}]"
    if condition.op == "equals":
        return f"{field} == {literal(canonical_json(condition.value))}"
    if condition.op == "in":  # Milvus Lite takes `in` on fields only, not on a JSON path
        return " or ".join(f"{field} == {literal(canonical_json(value))}"
                           for value in condition.value)
    return None


def expression(conditions: Sequence[Condition]) -> str | None:
    """All conditions ANDed ('' for none), or None if any cannot be expressed."""
    parts = [condition_expression(condition) for condition in conditions]
    if any(part is None for part in parts):
        return None
    return " and ".join(f"({part})" for part in parts)


def ids_expression(ids: Sequence[int]) -> str:
    return f"id in [{', '.join(str(int(i)) for i in ids)}]"
