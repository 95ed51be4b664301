"""Document metadata: validation and the canonical form used to filter on it in SQL."""

from __future__ import annotations

import hashlib
import json
import math
from typing import Any, NamedTuple

from embedsvc.errors import InvalidArgument

MAX_METADATA_BYTES = 64 * 1024
MAX_KEY_CHARS = 256
# Longer filter values are compared by a digest of their canonical form, so they still match.
MAX_FILTER_VALUE_CHARS = 1024
Scalar = str | int | float | bool | None


class FilterValue(NamedTuple):
    json: str
    number: float | None
    text: str | None


def canonical(value: Any) -> Any:
    """The same value with integral floats as ints, at any depth: protobuf has only doubles."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {key: canonical(item) for key, item in value.items()}
    if isinstance(value, list):
        return [canonical(item) for item in value]
    return value


def canonical_json(value: Scalar) -> str:
    """One spelling per value, so 3 and 3.0 compare equal and '3' does not; values too long for
    the filter column become a digest (a JSON spelling never starts with '#')."""
    encoded = json.dumps(canonical(value), ensure_ascii=False)
    if len(encoded) <= MAX_FILTER_VALUE_CHARS:
        return encoded
    return "#sha256:" + hashlib.sha256(encoded.encode()).hexdigest()


def is_scalar(value: Any) -> bool:
    return value is None or isinstance(value, str | int | float | bool)


def check_key(key: str, where: str) -> None:
    if not key or len(key) > MAX_KEY_CHARS:
        raise InvalidArgument(
            f"{where}: metadata keys must be 1-{MAX_KEY_CHARS} characters", f"{where}.key"
        )
    if "\x00" in key:
        raise InvalidArgument(
            f"{where}: metadata key {key!r} contains a NUL character", f"{where}.key"
        )


def check_finite(value: Any, where: str) -> None:
    """JSON has no NaN or Infinity, so neither a store nor a filter can hold them."""
    if isinstance(value, float) and not math.isfinite(value):
        raise InvalidArgument(f"{where}: {value} is not a JSON number; use a finite value", where)
    if isinstance(value, dict):
        for key, item in value.items():
            check_finite(item, f"{where}.{key}")
    elif isinstance(value, list):
        for position, item in enumerate(value):
            check_finite(item, f"{where}[{position}]")


def validate_metadata(metadata: dict[str, Any], where: str) -> None:
    check_finite(metadata, f"{where}.metadata")
    size = len(json.dumps(metadata, ensure_ascii=False).encode())
    if size > MAX_METADATA_BYTES:
        raise InvalidArgument(
            f"{where}: metadata is {size} bytes, more than {MAX_METADATA_BYTES}; keep large data "
            "in the document text", f"{where}.metadata",
        )
    for key in metadata:
        check_key(key, where)


def filterable_entries(metadata: dict[str, Any]) -> dict[str, FilterValue]:
    """Top-level scalar values, canonicalized; nested values are stored but not filterable."""
    return {key: filter_value(value) for key, value in metadata.items() if is_scalar(value)}


def filter_value(value: Scalar) -> FilterValue:
    """How one scalar is stored for filters: canonical JSON (equality), the number (ranges) or
    the string (ranges, prefixes; its first MAX_FILTER_VALUE_CHARS characters)."""
    number = _number(value)
    text = value[:MAX_FILTER_VALUE_CHARS] if isinstance(value, str) else None
    return FilterValue(canonical_json(value), number, text)


def _number(value: Scalar) -> float | None:
    if not isinstance(value, int | float) or isinstance(value, bool):
        return None
    try:
        return float(value)
    except OverflowError:  # an integer beyond any double: equality only
        return None
