"""Metadata filter conditions: what they mean, how a caller writes them, what is refused.

A filter is a list of conditions on top-level metadata keys, all of which must hold. Each
condition is one operator: ``equals``, ``not_equals``, ``in``, ``not_in``, ``range`` (numbers
or strings, code-point order), ``prefix`` (strings) or ``exists``. ``not_equals`` and
``not_in`` also match documents that lack the key, as "not" does in SQL's NOT IN over a
subquery. The repository evaluates them in SQL; this module only says what is valid.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any, Literal, get_args

from embedsvc.errors import InvalidArgument
from embedsvc.metadata import MAX_FILTER_VALUE_CHARS, check_finite, check_key, is_scalar

Operator = Literal["equals", "not_equals", "in", "not_in", "range", "prefix", "exists"]
OPERATORS: tuple[Operator, ...] = get_args(Operator)
# Every condition is a subquery in SQL; past a few dozen they only cost the database.
MAX_CONDITIONS = 64
MAX_VALUES = 1024  # values in one `in` / `not_in` list


@dataclass(frozen=True)
class Range:
    """Bounds on a number or a string; ``None`` leaves that side open."""

    gt: Any = None
    gte: Any = None
    lt: Any = None
    lte: Any = None

    def bounds(self) -> dict[str, Any]:
        return {item.name: getattr(self, item.name) for item in fields(self)
                if getattr(self, item.name) is not None}


RANGE_BOUNDS = tuple(item.name for item in fields(Range))


@dataclass(frozen=True)
class Condition:
    """One operator on a top-level metadata key. ``value`` is a scalar (equals, not_equals),
    a list of scalars (in, not_in), a `Range`, a string (prefix) or a bool (exists)."""

    key: str
    value: Any = None
    op: Operator = "equals"


Where = Mapping[str, Any] | Sequence[Condition] | None


def conditions_of(where: Where) -> list[Condition]:
    """Conditions from a mapping or a list of conditions.

    In a mapping a scalar means equality (``{"topic": "pets"}``) and a mapping names one
    operator (``{"tag": {"in": ["a", "b"]}}``, ``{"path": {"prefix": "src/"}}``,
    ``{"deleted": {"exists": False}}``) or range bounds (``{"year": {"gte": 2000, "lt": 2010}}``).
    """
    if not where:
        return []
    if not isinstance(where, Mapping):
        return list(where)
    conditions = []
    for position, (key, value) in enumerate(where.items()):
        if isinstance(value, Mapping):
            conditions.append(_operator(key, value, f"filter.conditions[{position}]"))
        else:
            conditions.append(Condition(key, value))
    return conditions


def _operator(key: str, spec: Mapping[str, Any], where: str) -> Condition:
    names = set(spec)
    if names and names <= set(RANGE_BOUNDS):
        return Condition(key, Range(**spec), "range")
    if len(spec) != 1 or not names <= set(OPERATORS):
        raise InvalidArgument(
            f"filter on {key!r}: give one operator ({', '.join(OPERATORS)}) or range bounds "
            f"({', '.join(RANGE_BOUNDS)}), got {sorted(names)}", where,
        )
    [(op, value)] = spec.items()
    if op == "range" and isinstance(value, Mapping):
        value = Range(**value)
    return Condition(key, value, op)


def validate(conditions: Sequence[Condition]) -> None:
    """INVALID_ARGUMENT naming the condition's field for anything SQL could not compare."""
    if len(conditions) > MAX_CONDITIONS:
        raise InvalidArgument(
            f"{len(conditions)} filter conditions, more than {MAX_CONDITIONS}; a filter on that "
            "many keys belongs in a metadata value of its own", "filter.conditions",
        )
    for position, condition in enumerate(conditions):
        where = f"filter.conditions[{position}]"
        if not condition.key:
            raise InvalidArgument(f"{where}: the condition has an empty key", f"{where}.key")
        check_key(condition.key, where)
        if condition.op not in OPERATORS:
            raise InvalidArgument(
                f"{where}: unknown operator {condition.op!r}; use one of {', '.join(OPERATORS)}",
                where,
            )
        _CHECKS[condition.op](condition, f"{where}.{condition.op}")


def _scalar(condition: Condition, field: str) -> None:
    if not is_scalar(condition.value):
        raise InvalidArgument(
            f"filter on {condition.key!r}: only string, number, bool or null values compare",
            field,
        )
    check_finite(condition.value, field)


def _values(condition: Condition, field: str) -> None:
    values = condition.value
    if isinstance(values, str | bytes) or not isinstance(values, Sequence) or not values:
        raise InvalidArgument(
            f"filter on {condition.key!r}: {condition.op} takes a non-empty list of values",
            field,
        )
    if len(values) > MAX_VALUES:
        raise InvalidArgument(
            f"filter on {condition.key!r}: {len(values)} values, more than {MAX_VALUES}", field
        )
    for position, value in enumerate(values):
        _scalar(Condition(condition.key, value), f"{field}[{position}]")


def _range(condition: Condition, field: str) -> None:
    bounds = condition.value.bounds() if isinstance(condition.value, Range) else {}
    if not bounds:
        raise InvalidArgument(
            f"filter on {condition.key!r}: a range needs at least one of "
            f"{', '.join(RANGE_BOUNDS)}", field,
        )
    if {"gt", "gte"} <= set(bounds) or {"lt", "lte"} <= set(bounds):
        raise InvalidArgument(
            f"filter on {condition.key!r}: give gt or gte, and lt or lte, not both", field
        )
    numbers = all(_is_number(value) for value in bounds.values())
    strings = all(isinstance(value, str) for value in bounds.values())
    if not (numbers or strings):
        raise InvalidArgument(
            f"filter on {condition.key!r}: range bounds must be all numbers or all strings, "
            f"got {bounds}", field,
        )
    for name, value in bounds.items():
        check_finite(value, f"{field}.{name}")
        if strings and len(value) > MAX_FILTER_VALUE_CHARS:
            raise InvalidArgument(
                f"filter on {condition.key!r}: a string bound is longer than "
                f"{MAX_FILTER_VALUE_CHARS} characters", f"{field}.{name}",
            )


def _prefix(condition: Condition, field: str) -> None:
    value = condition.value
    if not isinstance(value, str) or not value or len(value) > MAX_FILTER_VALUE_CHARS:
        raise InvalidArgument(
            f"filter on {condition.key!r}: prefix takes a string of 1-{MAX_FILTER_VALUE_CHARS} "
            "characters", field,
        )


def _exists(condition: Condition, field: str) -> None:
    if not isinstance(condition.value, bool):
        raise InvalidArgument(
            f"filter on {condition.key!r}: exists takes true or false", field
        )


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


_CHECKS = {
    "equals": _scalar, "not_equals": _scalar, "in": _values, "not_in": _values,
    "range": _range, "prefix": _prefix, "exists": _exists,
}
