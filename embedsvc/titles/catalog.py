"""Catalog files: JSONL or CSV, one entry a line, checked whole before anything is stored.

JSONL: ``{"id", "title", "alt_labels": [...], "skills": [...], "description"}`` (only ``id``
and ``title`` required). CSV: a header naming the same columns; list columns separate their
items with ``|``. Every problem names its line, and a file with one bad line loads nothing.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from embedsvc.errors import InvalidArgument
from embedsvc.titles.types import CatalogEntry

MAX_LABEL_CHARS = 512
MAX_TEXT_CHARS = 20_000
MAX_LIST_ITEMS = 1_000
FIELDS = ("id", "title", "alt_labels", "skills", "description")
LIST_SEPARATOR = "|"


def read_catalog(path: Path) -> list[CatalogEntry]:
    """The entries of a .jsonl or .csv file (by extension; anything else is read as JSONL)."""
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except OSError as error:
        raise InvalidArgument(f"cannot read catalog {path}: {error.strerror or error}") from None
    except UnicodeDecodeError as error:
        raise InvalidArgument(f"{path} is not UTF-8 (byte {error.start})") from None
    if path.suffix.lower() == ".csv":
        return parse_csv(text, str(path))
    return parse_jsonl(text, str(path))


def parse_jsonl(text: str, source: str = "catalog") -> list[CatalogEntry]:
    records = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            raise InvalidArgument(f"{source}:{number}: not JSON ({error.msg})") from None
        if not isinstance(record, dict):
            raise InvalidArgument(f"{source}:{number}: expected a JSON object, one entry a line")
        records.append((number, record))
    return _entries(records, source)


def parse_csv(text: str, source: str = "catalog") -> list[CatalogEntry]:
    reader = csv.DictReader(io.StringIO(text))
    header = reader.fieldnames or []
    missing = [name for name in ("id", "title") if name not in header]
    if missing:
        raise InvalidArgument(f"{source}:1: the CSV header has no {', '.join(missing)} column")
    records = []
    try:
        for row in reader:
            if None in row:
                raise InvalidArgument(f"{source}:{reader.line_num}: more fields than the header")
            record: dict[str, Any] = {key: value for key, value in row.items() if value}
            for name in ("alt_labels", "skills"):
                if name in record:
                    record[name] = [item.strip() for item in record[name].split(LIST_SEPARATOR)
                                    if item.strip()]
            records.append((reader.line_num, record))
    except csv.Error as error:
        raise InvalidArgument(f"{source}:{reader.line_num}: {error}") from None
    return _entries(records, source)


def _entries(records: Sequence[tuple[int, dict[str, Any]]], source: str) -> list[CatalogEntry]:
    entries = [entry_of(record, f"{source}:{number}") for number, record in records]
    validate_entries(entries, [f"{source}:{number}" for number, _ in records])
    return entries


def entry_of(record: dict[str, Any], where: str) -> CatalogEntry:
    """One entry from a decoded record, or INVALID_ARGUMENT saying which field is wrong."""
    unknown = sorted(set(record) - set(FIELDS))
    if unknown:
        raise InvalidArgument(
            f"{where}: unknown fields {', '.join(unknown)}; an entry has {', '.join(FIELDS)}"
        )
    for name in ("id", "title", "description"):
        if name in record and not isinstance(record[name], str):
            raise InvalidArgument(f"{where}: {name} must be a string")
    for name in ("alt_labels", "skills"):
        value = record.get(name, [])
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise InvalidArgument(f"{where}: {name} must be a list of strings")
    return CatalogEntry(
        id=record.get("id", ""), title=record.get("title", ""),
        alt_labels=tuple(record.get("alt_labels", [])), skills=tuple(record.get("skills", [])),
        description=record.get("description", ""),
    )


def validate_entries(entries: Sequence[CatalogEntry], places: Sequence[str] = ()) -> None:
    """Refuse the whole catalog at its first bad entry: ``places`` name each entry's line
    (else its position), so the message says where to fix it."""
    if not entries:
        raise InvalidArgument("the catalog has no entries", "entries")
    seen: dict[str, str] = {}
    for position, entry in enumerate(entries):
        where = places[position] if places else f"entries[{position}]"
        field = f"entries[{position}]"
        if not entry.id.strip() or len(entry.id) > MAX_LABEL_CHARS or "\x00" in entry.id:
            raise InvalidArgument(
                f"{where}: id must be 1-{MAX_LABEL_CHARS} characters without NUL", f"{field}.id"
            )
        if entry.id in seen:
            raise InvalidArgument(
                f"{where}: id {entry.id!r} was already used at {seen[entry.id]}", f"{field}.id"
            )
        seen[entry.id] = where
        if not entry.title.strip():
            raise InvalidArgument(f"{where} ({entry.id!r}): title is empty", f"{field}.title")
        for name, items in (("alt_labels", entry.alt_labels), ("skills", entry.skills)):
            if len(items) > MAX_LIST_ITEMS:
                raise InvalidArgument(
                    f"{where} ({entry.id!r}): {len(items)} {name}, more than {MAX_LIST_ITEMS}",
                    f"{field}.{name}",
                )
        for label in (*entry.labels, *entry.skills):
            if len(label) > MAX_LABEL_CHARS or "\x00" in label:
                raise InvalidArgument(
                    f"{where} ({entry.id!r}): a label or skill is longer than {MAX_LABEL_CHARS} "
                    "characters or contains NUL", field,
                )
        if len(entry.description) > MAX_TEXT_CHARS or "\x00" in entry.description:
            raise InvalidArgument(
                f"{where} ({entry.id!r}): description must be at most {MAX_TEXT_CHARS} "
                "characters without NUL", f"{field}.description",
            )
