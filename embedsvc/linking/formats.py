"""Reading terminologies: xMEN/scispaCy JSONL, OBO ontologies and CSV.

Every reader returns the concepts in file order with duplicate ids merged, or raises
INVALID_ARGUMENT naming the first bad line: a file with one bad line loads nothing.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable
from typing import Any

from embedsvc.errors import InvalidArgument
from embedsvc.linking.concepts import Concept

FORMATS = ("jsonl", "obo", "csv")
MAX_NAME_CHARS = 1000
# OBO synonym scopes that name the same concept; BROAD and NARROW ones do not.
SAME_CONCEPT_SCOPES = ("EXACT", "RELATED")
_OBO_QUOTED = r'^"((?:[^"\\]|\\.)*)"'
_OBO_SYNONYM = re.compile(_OBO_QUOTED + r"\s+([A-Z]+)")
_OBO_DEFINITION = re.compile(_OBO_QUOTED)
# A CSV cell listing several aliases or types separates them with this character.
CSV_SEPARATOR = "|"


def format_of(filename: str, given: str = "") -> str:
    """The format named, else the one the file's extension says."""
    name = (given or filename.rsplit(".", 1)[-1]).lower().lstrip(".")
    name = {"json": "jsonl", "ndjson": "jsonl"}.get(name, name)
    if name not in FORMATS:
        raise InvalidArgument(
            f"unknown terminology format {name!r} (from {filename!r}); use one of "
            f"{', '.join(FORMATS)} or name it with --format", "format",
        )
    return name


def parse(text: str, source_format: str) -> list[Concept]:
    """The concepts of ``text`` in ``source_format`` (one of FORMATS)."""
    reader = {"jsonl": read_jsonl, "obo": read_obo, "csv": read_csv}[source_format]
    concepts = _merged(reader(text))
    if not concepts:
        raise InvalidArgument(f"the {source_format} file holds no concepts", "content")
    return concepts


def read_jsonl(text: str) -> Iterable[Concept]:
    """One object a line: concept_id, canonical_name, aliases, types, definition."""
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
        except json.JSONDecodeError as error:
            raise _bad(number, f"not JSON ({error.msg} at column {error.colno})") from None
        if not isinstance(entry, dict):
            raise _bad(number, "expected a JSON object")
        yield _concept(
            number, entry.get("concept_id"), entry.get("canonical_name"),
            entry.get("aliases") or [], entry.get("types") or [], entry.get("definition") or "",
        )


def read_csv(text: str) -> Iterable[Concept]:
    """A header with concept_id and canonical_name (or name); optional aliases and types
    (separated by '|') and definition."""
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = [name.strip() for name in reader.fieldnames or []]
    reader.fieldnames = header
    name_column = "canonical_name" if "canonical_name" in header else "name"
    if "concept_id" not in header or name_column not in header:
        raise _bad(1, "the CSV header needs the columns concept_id and canonical_name (or name)")
    for row in reader:
        number = reader.line_num
        if None in row:
            raise _bad(number, f"more cells than the {len(header)} header columns")
        yield _concept(
            number, row.get("concept_id"), row.get(name_column),
            _cells(row.get("aliases")), _cells(row.get("types")), row.get("definition") or "",
        )


def read_obo(text: str) -> Iterable[Concept]:
    """Terms with their name and EXACT/RELATED synonyms; obsolete terms are skipped."""
    import obonet
    from obonet.read import parse_tag_line

    stanza = ""
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if not stripped or stripped.startswith("!"):
            continue
        if stripped.startswith("["):
            stanza = stripped
            continue
        try:
            parse_tag_line(line)
        except ValueError:
            raise _bad(number, f"not a 'tag: value' line in {stanza or 'the header'}") from None
    try:
        graph = obonet.read_obo(io.StringIO(text))
    except ValueError as error:
        raise InvalidArgument(f"not a valid OBO file: {error}", "content") from None
    for term_id, data in graph.nodes(data=True):
        if "name" not in data:
            continue  # a term only referenced by another one
        synonyms = []
        for value in data.get("synonym", []):
            match = _OBO_SYNONYM.match(value)
            if match and match.group(2) in SAME_CONCEPT_SCOPES:
                synonyms.append(match.group(1).replace('\\"', '"'))
        definition = _OBO_DEFINITION.match(data.get("def", "") or "")
        yield Concept(
            str(term_id), data["name"], synonyms, [],
            definition.group(1) if definition else "",
        )


def _concept(
    number: int, concept_id: Any, name: Any, aliases: Any, types: Any, definition: Any
) -> Concept:
    if isinstance(concept_id, int) and not isinstance(concept_id, bool):
        concept_id = str(concept_id)
    if not isinstance(concept_id, str) or not concept_id.strip():
        raise _bad(number, "concept_id must be a non-empty string")
    if not isinstance(name, str) or not name.strip():
        raise _bad(number, f"canonical_name of {concept_id!r} must be a non-empty string")
    for field, values in (("aliases", aliases), ("types", types)):
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise _bad(number, f"{field} of {concept_id!r} must be a list of strings")
    if not isinstance(definition, str):
        raise _bad(number, f"definition of {concept_id!r} must be a string")
    names = [name.strip(), *(alias.strip() for alias in aliases)]
    for alias in names:
        if len(alias) > MAX_NAME_CHARS:
            raise _bad(number, f"a name of {concept_id!r} is over {MAX_NAME_CHARS} characters")
    return Concept(
        concept_id.strip(), names[0], [alias for alias in names[1:] if alias], list(types),
        definition,
    )


def _cells(value: str | None) -> list[str]:
    return [part.strip() for part in (value or "").split(CSV_SEPARATOR) if part.strip()]


def _merged(concepts: Iterable[Concept]) -> list[Concept]:
    by_id: dict[str, Concept] = {}
    for concept in concepts:
        known = by_id.get(concept.concept_id)
        if known is None:
            by_id[concept.concept_id] = concept
        else:
            known.merge(concept)
    return list(by_id.values())


def _bad(number: int, problem: str) -> InvalidArgument:
    return InvalidArgument(f"line {number}: {problem}; nothing was loaded", f"content:{number}")
