"""The types of the title-normalization endpoint, shared by its service, servicer and client."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class CatalogEntry:
    """One normalized title of a catalog; every label (title and alt labels) finds it."""

    id: str
    title: str
    alt_labels: tuple[str, ...] = ()
    skills: tuple[str, ...] = ()
    description: str = ""

    @property
    def labels(self) -> tuple[str, ...]:
        return (self.title, *self.alt_labels)

    @property
    def profile(self) -> str:
        """What the entry's skills and description say, embedded as evidence ('' if nothing)."""
        parts = [", ".join(self.skills), self.description]
        return ". ".join(part for part in parts if part.strip())


@dataclass(frozen=True)
class TitleQuery:
    """A raw title as a job ad writes it, with the ad's skills and description when known."""

    title: str
    skills: tuple[str, ...] = ()
    description: str = ""


@dataclass(frozen=True)
class CleanTitle:
    """A title after cleanup: the text matched, and what was taken out of it and kept."""

    text: str
    attributes: dict[str, list[str]] = field(default_factory=dict)
    steps: tuple[str, ...] = ()


@dataclass(frozen=True)
class TitleCandidate:
    """A catalog entry for a query: its score, the label that matched best, the signals that
    found it (lexical, dense, classifier, skills, description) and the lexical, dense and
    evidence scores."""

    id: str
    title: str
    label: str
    score: float
    signals: tuple[str, ...] = ()
    lexical: float = 0.0
    dense: float = 0.0
    evidence: float = 0.0


@dataclass(frozen=True)
class Normalized:
    """The answer for one query; no candidates means no entry scored above the threshold."""

    query: str
    cleaned: CleanTitle
    candidates: list[TitleCandidate]

    @property
    def matched(self) -> bool:
        return bool(self.candidates)


@dataclass(frozen=True)
class CatalogInfo:
    """A catalog's live version: the collection that holds its label vectors, and counts."""

    name: str
    model: str
    version: int
    entries: int
    labels: int
    collection: str


@dataclass(frozen=True)
class CatalogLoad:
    """What a load did: the new live version, and how many label vectors it embedded or
    reused from the previous version."""

    catalog: CatalogInfo
    embedded: int
    reused: int
