"""SQL tables of job-title catalogs: which version of a catalog is live, and its entries.

A catalog's labels and vectors live in an ordinary collection (chunking ``none``); these rows
say which collection is the live version and keep each entry as loaded, so a reload can build
the next version beside the live one and switch in one transaction.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from embedsvc.storage.sql.schema import Base, RowId, _now


class TitleCatalogRow(Base):
    __tablename__ = "title_catalogs"

    name: Mapped[str] = mapped_column(String(128), primary_key=True)
    model: Mapped[str] = mapped_column(String(512))
    # The collection holding the live version's labels and vectors.
    collection: Mapped[str] = mapped_column(String(128))
    version: Mapped[int] = mapped_column(Integer)
    entry_count: Mapped[int] = mapped_column(Integer)
    label_count: Mapped[int] = mapped_column(Integer)
    loaded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)


class TitleEntryRow(Base):
    __tablename__ = "title_entries"
    __table_args__ = (
        Index("ix_title_entries_catalog_version", "catalog", "version"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(RowId, primary_key=True, autoincrement=True)
    catalog: Mapped[str] = mapped_column(String(128))
    version: Mapped[int] = mapped_column(Integer)
    position: Mapped[int] = mapped_column(Integer)
    entry_id: Mapped[str] = mapped_column(String(1024))
    title: Mapped[str] = mapped_column(Text)
    # alt_labels, skills, description: what the entry was loaded with.
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
