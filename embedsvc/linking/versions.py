"""Terminology versions on disk: one folder per version, a manifest naming the current one.

A load writes a new version folder (and its alias collection) in full, then replaces the
manifest in one `os.replace`: a crash before that leaves the previous version serving, and the
half-written one is removed by the next load. The version before the current one is kept, so
a query that started on it finishes.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from dataclasses import asdict
from functools import cached_property
from pathlib import Path

import numpy as np

from embedsvc.errors import InvalidArgument, NotFound
from embedsvc.linking.concepts import Concept, KnowledgeBaseInfo
from embedsvc.linking.sparse import SparseIndex

KB_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
MANIFEST = "current.json"
CONCEPTS_FILE = "concepts.json"
ALIAS_CONCEPTS_FILE = "alias_concepts.npy"


def check_name(name: str) -> str:
    if not KB_NAME.fullmatch(name or ""):
        raise InvalidArgument(
            f"terminology name {name!r} is invalid: use 1-64 letters, digits, '_' or '-', "
            "starting with a letter or digit", "kb",
        )
    return name


def collection_name(kb: str, version: int) -> str:
    """The collection that stores a version's alias vectors."""
    return f"kb.{kb}.v{version}"


class VersionedIndex:
    """What one version serves: its concepts, which concept each alias names, the sparse index."""

    def __init__(
        self, info: KnowledgeBaseInfo, ids: list[str], names: list[str], aliases: list[str],
        alias_concepts: np.ndarray, sparse: SparseIndex,
    ) -> None:
        self.info = info
        self.ids = ids
        self.names = names
        self.aliases = aliases
        self.alias_concepts = alias_concepts
        self.sparse = sparse

    def concept_names(self, concept: int) -> list[str]:
        """A concept's canonical name, then its other aliases (for the re-ranker)."""
        return self._names_by_concept[concept]

    @cached_property
    def _names_by_concept(self) -> list[list[str]]:
        grouped: list[list[str]] = [[] for _ in self.ids]
        for alias, concept in zip(self.aliases, self.alias_concepts.tolist(), strict=True):
            grouped[concept].append(alias)
        return grouped


class Versions:
    """The terminologies under ``root`` (the data dir's linking/ folder)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def names(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if (p / MANIFEST).is_file())

    def current(self, kb: str) -> KnowledgeBaseInfo:
        path = self.root / check_name(kb) / MANIFEST
        try:
            return KnowledgeBaseInfo(**json.loads(path.read_text()))
        except FileNotFoundError:
            known = ", ".join(self.names()) or "none yet"
            raise NotFound(
                f"no terminology {kb!r} is loaded (loaded: {known}); load it with "
                "`embedsvc link load FILE --kb NAME`"
            ) from None

    def next_version(self, kb: str) -> int:
        folder = self.root / check_name(kb)
        numbers = [int(p.name[1:]) for p in folder.glob("v*") if p.name[1:].isdigit()]
        return max(numbers, default=0) + 1

    def write(self, info: KnowledgeBaseInfo, concepts: list[Concept]) -> VersionedIndex:
        """Write a version's files (not yet current); returns what it serves."""
        folder = self._folder(info.name, info.version)
        folder.mkdir(parents=True, exist_ok=False)
        aliases, alias_concepts = [], []
        for position, concept in enumerate(concepts):
            for name in concept.names():
                aliases.append(name)
                alias_concepts.append(position)
        index = VersionedIndex(
            info, [c.concept_id for c in concepts], [c.canonical_name for c in concepts],
            aliases, np.asarray(alias_concepts, dtype=np.int32), SparseIndex.build(aliases),
        )
        index.sparse.save(folder)
        np.save(folder / ALIAS_CONCEPTS_FILE, index.alias_concepts)
        (folder / CONCEPTS_FILE).write_text(json.dumps(
            {"ids": index.ids, "names": index.names, "aliases": aliases}, ensure_ascii=False
        ))
        return index

    def publish(self, info: KnowledgeBaseInfo) -> None:
        """Make ``info``'s version the current one, atomically."""
        manifest = self.root / info.name / MANIFEST
        staged = manifest.with_suffix(".tmp")
        staged.write_text(json.dumps(asdict(info)))
        with staged.open("rb") as handle:
            os.fsync(handle.fileno())
        os.replace(staged, manifest)

    def open(self, info: KnowledgeBaseInfo) -> VersionedIndex:
        folder = self._folder(info.name, info.version)
        stored = json.loads((folder / CONCEPTS_FILE).read_text())
        return VersionedIndex(
            info, stored["ids"], stored["names"], stored["aliases"],
            np.load(folder / ALIAS_CONCEPTS_FILE), SparseIndex.load(folder),
        )

    def stale(self, kb: str, keep: set[int]) -> list[int]:
        """Versions on disk other than ``keep``: older ones, or one a crashed load left."""
        folder = self.root / kb
        return sorted(
            int(p.name[1:]) for p in folder.glob("v*")
            if p.name[1:].isdigit() and int(p.name[1:]) not in keep
        )

    def remove(self, kb: str, version: int) -> None:
        shutil.rmtree(self._folder(kb, version), ignore_errors=True)

    def _folder(self, kb: str, version: int) -> Path:
        return self.root / kb / f"v{version}"
