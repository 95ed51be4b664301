"""The linking domain types: concepts of a terminology, mentions, and ranked candidates."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Concept:
    """One entry of a terminology. ``aliases`` excludes the canonical name."""

    concept_id: str
    canonical_name: str
    aliases: list[str] = field(default_factory=list)
    types: list[str] = field(default_factory=list)
    definition: str = ""

    def names(self) -> list[str]:
        """The canonical name first, then every alias, each once."""
        return list(dict.fromkeys([self.canonical_name, *self.aliases]))

    def merge(self, other: Concept) -> None:
        """Union another entry with the same id into this one (xMEN merges duplicate ids)."""
        extra = [name for name in other.names() if name != self.canonical_name]
        self.aliases = list(dict.fromkeys([*self.aliases, *extra]))
        self.types = list(dict.fromkeys([*self.types, *other.types]))
        self.definition = self.definition or other.definition


@dataclass(frozen=True)
class KnowledgeBaseInfo:
    """One loaded version of a terminology: the model its alias vectors were made with, the
    collection that stores them, and the re-ranker it names."""

    name: str
    version: int
    model: str
    concepts: int
    aliases: int
    source_format: str
    collection: str
    reranker: str = ""  # the directory of its cross-encoder re-ranker, if it has one


@dataclass(frozen=True)
class Mention:
    """A mention to link. ``context`` is the surrounding text; when ``start < end`` the mention
    is ``context[start:end]`` and ``text`` may be empty."""

    text: str = ""
    context: str = ""
    start: int = 0
    end: int = 0


@dataclass(frozen=True)
class Candidate:
    concept_id: str
    name: str
    score: float
    sources: tuple[str, ...]
    alias: str = ""  # the alias that matched best


@dataclass(frozen=True)
class Linked:
    """The answer for one mention: candidates best first; ``nil`` when none reaches the
    threshold; ``expansion`` is the long form found in the context for an abbreviation."""

    mention: str
    candidates: list[Candidate]
    nil: bool
    expansion: str = ""
    kb_version: int = 0


def mention_of(value: Mention | str | dict) -> Mention:
    """A mention from its text, a dict with text/context/start/end, or a Mention."""
    if isinstance(value, Mention):
        return value
    if isinstance(value, str):
        return Mention(value)
    return Mention(
        value.get("text") or value.get("mention") or "", value.get("context") or "",
        int(value.get("start") or 0), int(value.get("end") or 0),
    )
