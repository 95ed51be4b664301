"""Document metadata: validation and the canonical form used to filter on it in SQL."""

from __future__ import annotations

import json
from typing import Any

from embedsvc.errors import InvalidArgument

MAX_METADATA_BYTES = 64 * 1024
MAX_KEY_CHARS = 256
MAX_FILTER_VALUE_CHARS = 1024
Scalar = str | int | float | bool | None


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
    """One spelling per value, so 3 and 3.0 compare equal and '3' does not."""
    return json.dumps(canonical(value), ensure_ascii=False)


def is_scalar(value: Any) -> bool:
    return value is None or isinstance(value, str | int | float | bool)


def validate_metadata(metadata: dict[str, Any], where: str) -> None:
    size = len(json.dumps(metadata, ensure_ascii=False).encode())
    if size > MAX_METADATA_BYTES:
        raise InvalidArgument(
            f"{where}: metadata is {size} bytes, more than {MAX_METADATA_BYTES}; keep large data "
            "in the document text"
        )
    for key in metadata:
        if not key or len(key) > MAX_KEY_CHARS:
            raise InvalidArgument(f"{where}: metadata keys must be 1-{MAX_KEY_CHARS} characters")


def filterable_entries(metadata: dict[str, Any]) -> dict[str, str]:
    """Top-level scalar values, canonicalized; nested values are stored but not filterable."""
    entries = {}
    for key, value in metadata.items():
        if is_scalar(value):
            encoded = canonical_json(value)
            if len(encoded) <= MAX_FILTER_VALUE_CHARS:
                entries[key] = encoded
    return entries
