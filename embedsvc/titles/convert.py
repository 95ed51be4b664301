"""Protobuf <-> title types, for the servicer and the client."""

from __future__ import annotations

from embedsvc.titles.types import (
    CatalogEntry,
    CatalogInfo,
    CatalogLoad,
    CleanTitle,
    Normalized,
    TitleCandidate,
    TitleQuery,
)
from embedsvc.v1 import titles_pb2


def entry_out(entry: CatalogEntry) -> titles_pb2.CatalogEntry:
    return titles_pb2.CatalogEntry(id=entry.id, title=entry.title, alt_labels=entry.alt_labels,
                                   skills=entry.skills, description=entry.description)


def entry_in(message: titles_pb2.CatalogEntry) -> CatalogEntry:
    return CatalogEntry(message.id, message.title, tuple(message.alt_labels),
                        tuple(message.skills), message.description)


def catalog_out(info: CatalogInfo) -> titles_pb2.Catalog:
    return titles_pb2.Catalog(name=info.name, model=info.model, version=info.version,
                              entries=info.entries, labels=info.labels,
                              collection=info.collection)


def catalog_in(message: titles_pb2.Catalog) -> CatalogInfo:
    return CatalogInfo(message.name, message.model, message.version, message.entries,
                       message.labels, message.collection)


def load_out(load: CatalogLoad) -> titles_pb2.LoadCatalogResponse:
    return titles_pb2.LoadCatalogResponse(catalog=catalog_out(load.catalog),
                                          vectors_embedded=load.embedded,
                                          vectors_reused=load.reused)


def load_in(message: titles_pb2.LoadCatalogResponse) -> CatalogLoad:
    return CatalogLoad(catalog_in(message.catalog), message.vectors_embedded,
                       message.vectors_reused)


def query_out(query: TitleQuery) -> titles_pb2.TitleQuery:
    return titles_pb2.TitleQuery(title=query.title, skills=query.skills,
                                 description=query.description)


def query_in(message: titles_pb2.TitleQuery) -> TitleQuery:
    return TitleQuery(message.title, tuple(message.skills), message.description)


def normalized_out(result: Normalized) -> titles_pb2.NormalizedTitle:
    cleaned = titles_pb2.CleanTitle(text=result.cleaned.text, steps=result.cleaned.steps)
    for kind, values in result.cleaned.attributes.items():
        cleaned.attributes[kind].values.extend(values)
    return titles_pb2.NormalizedTitle(query=result.query, cleaned=cleaned, candidates=[
        titles_pb2.TitleCandidate(id=c.id, title=c.title, label=c.label, score=c.score,
                                  signals=c.signals, lexical=c.lexical, dense=c.dense,
                                  evidence=c.evidence)
        for c in result.candidates
    ])


def normalized_in(message: titles_pb2.NormalizedTitle) -> Normalized:
    cleaned = CleanTitle(
        message.cleaned.text,
        {kind: list(values.values) for kind, values in message.cleaned.attributes.items()},
        tuple(message.cleaned.steps),
    )
    return Normalized(message.query, cleaned, [
        TitleCandidate(c.id, c.title, c.label, c.score, tuple(c.signals), c.lexical, c.dense,
                       c.evidence)
        for c in message.candidates
    ])
