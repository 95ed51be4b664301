"""A small catalog with two versions that answer the same queries differently."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from embedsvc.titles.types import CatalogEntry

CATALOG_V1 = [
    CatalogEntry("15-1252", "Software Developers", ("Java Developer", "Programmer"),
                 ("Java", "Python", "software design")),
    CatalogEntry("41-2031", "Retail Salespersons", ("Sales Associate", "Cashier"),
                 ("customer service", "cash register", "merchandising")),
    CatalogEntry("11-2022", "Sales Managers", ("Area Sales Manager",),
                 description="Plan and direct the sales programs of an organization."),
    CatalogEntry("49-3011", "Aircraft Mechanics and Service Technicians",
                 ("Aircraft Maintenance Engineer",)),
    CatalogEntry("29-1141", "Registered Nurses", ("Staff Nurse", "Charge Nurse"),
                 ("patient care", "medication administration")),
]
# Version 2 renames every entry, so an answer names either version's titles, never both.
CATALOG_V2 = [
    CatalogEntry(entry.id + "-v2", entry.title + " (2026)", entry.alt_labels, entry.skills,
                 entry.description)
    for entry in CATALOG_V1
]


def write_jsonl(path: Path, entries: list[CatalogEntry]) -> Path:
    path.write_text("".join(
        json.dumps({"id": e.id, "title": e.title, "alt_labels": list(e.alt_labels),
                    "skills": list(e.skills), "description": e.description}) + "\n"
        for e in entries
    ), encoding="utf-8")
    return path


@pytest.fixture
def catalog_file(tmp_path: Path) -> Path:
    return write_jsonl(tmp_path / "catalog.jsonl", CATALOG_V1)
