"""All SQL of job-title catalogs: the live version of each, its entries, the switch to a new one.

A reload writes the new version's labels into a collection of its own first; `publish` then
stores its entries and points the catalog at it in one transaction, so a reader sees the old
version or the new one, never a mix.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, select

from embedsvc.storage.sql.database import translated_errors
from embedsvc.storage.sql.repository import SqlRepository
from embedsvc.storage.sql.schema import _now
from embedsvc.storage.sql.titles_schema import TitleCatalogRow, TitleEntryRow
from embedsvc.titles.types import CatalogEntry, CatalogInfo


class TitleCatalogStore:
    def __init__(self, repository: SqlRepository) -> None:
        self.sessions = repository.sessions

    def get(self, name: str) -> CatalogInfo | None:
        with translated_errors(), self.sessions() as session:
            row = session.get(TitleCatalogRow, name)
            return _info(row) if row else None

    def all(self) -> list[CatalogInfo]:
        with translated_errors(), self.sessions() as session:
            rows = session.scalars(select(TitleCatalogRow).order_by(TitleCatalogRow.name))
            return [_info(row) for row in rows]

    def entries(self, info: CatalogInfo) -> list[CatalogEntry]:
        with translated_errors(), self.sessions() as session:
            rows = session.scalars(
                select(TitleEntryRow)
                .where(TitleEntryRow.catalog == info.name, TitleEntryRow.version == info.version)
                .order_by(TitleEntryRow.position)
            )
            return [
                CatalogEntry(row.entry_id, row.title, tuple(row.data.get("alt_labels", ())),
                             tuple(row.data.get("skills", ())), row.data.get("description", ""))
                for row in rows
            ]

    def publish(self, info: CatalogInfo, entries: Sequence[CatalogEntry]) -> None:
        """Store ``entries`` as ``info.version`` and make it the live one, in one transaction;
        every other version's entries go (a crash before the commit leaves the old one live)."""
        with translated_errors(), self.sessions.begin() as session:
            session.execute(delete(TitleEntryRow).where(TitleEntryRow.catalog == info.name))
            session.add_all(
                TitleEntryRow(
                    catalog=info.name, version=info.version, position=position,
                    entry_id=entry.id, title=entry.title,
                    data={"alt_labels": list(entry.alt_labels), "skills": list(entry.skills),
                          "description": entry.description},
                )
                for position, entry in enumerate(entries)
            )
            row = session.get(TitleCatalogRow, info.name) or TitleCatalogRow(name=info.name)
            row.model, row.collection, row.version = info.model, info.collection, info.version
            row.entry_count, row.label_count = info.entries, info.labels
            row.loaded_at = _now()
            session.add(row)


def _info(row: TitleCatalogRow) -> CatalogInfo:
    return CatalogInfo(row.name, row.model, row.version, row.entry_count, row.label_count,
                       row.collection)
