"""Find the files to index under one or more roots, the way git would see them."""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from pathspec import GitIgnoreSpec

from embedsvc.chunking.languages import language_for_path

ALWAYS_SKIPPED_DIRS = frozenset({".git", ".hg", ".svn", "__pycache__"})
BINARY_SNIFF_BYTES = 8192


@dataclass(frozen=True)
class SourceFile:
    """A readable text file, with the id and metadata its document gets."""

    doc_id: str
    path: Path
    text: str
    language: str  # "" for prose

    @property
    def metadata(self) -> dict[str, str]:
        return {
            "path": self.doc_id,
            "language": self.language or "text",
            "ext": Path(self.doc_id).suffix.lstrip(".").lower(),
        }


@dataclass(frozen=True)
class Skipped:
    """A file left out on purpose (binary, too big, empty): reported, never an error."""

    doc_id: str
    reason: str


@dataclass(frozen=True)
class Unreadable:
    """A file that should have been indexed but could not be read."""

    doc_id: str
    error: str


def id_base(roots: Sequence[Path], base: Path | None = None) -> Path:
    """What document ids are relative to: ``base`` if given, else the current directory when
    every root lies inside it (so a file keeps its id whichever roots a run names), else the
    root itself, or the common parent of several roots."""
    resolved = [root.resolve() for root in roots]
    if base is None:
        here = Path.cwd().resolve()
        if all(root == here or here in root.parents for root in resolved):
            return here
        if len(resolved) == 1:
            return resolved[0] if resolved[0].is_dir() else resolved[0].parent
        return Path(os.path.commonpath([str(p if p.is_dir() else p.parent) for p in resolved]))
    base = base.resolve()
    outside = [str(root) for root in resolved if root != base and base not in root.parents]
    if outside:
        raise ValueError(f"{', '.join(outside)} not inside the id base {base}")
    return base


def root_prefixes(roots: Sequence[Path], base: Path | None = None) -> list[str]:
    """The id prefix each root's documents share ("" when one root holds every id)."""
    base = id_base(roots, base)
    prefixes = []
    for root in roots:
        relative = root.resolve().relative_to(base).as_posix()
        if root.resolve().is_file():
            prefixes.append(relative)
        else:
            prefixes.append("" if relative == "." else relative + "/")
    return prefixes


def walk(
    roots: Sequence[Path], include: Sequence[str] = (), exclude: Sequence[str] = (),
    max_bytes: int = 1_000_000, skip_dirs: Sequence[Path] = (), base: Path | None = None,
) -> Iterator[SourceFile | Skipped | Unreadable]:
    """Every file under the roots that .gitignore and the globs admit, in a stable order."""
    base = id_base(roots, base)
    skipped = frozenset(path.resolve() for path in skip_dirs)
    for root in roots:
        root = root.resolve()
        paths = [root] if root.is_file() else _files_under(root, skipped)
        for path in paths:
            doc_id = path.relative_to(base).as_posix()
            if include and not any(fnmatch.fnmatch(doc_id, glob) for glob in include):
                continue
            if any(_excluded(doc_id, glob) for glob in exclude):
                continue
            yield read_source(path, doc_id, max_bytes)


def _excluded(doc_id: str, glob: str) -> bool:
    """A glob with a slash matches the whole id; one without, like a .gitignore line, also
    any single part of it (``--exclude vendor`` skips every ``vendor`` folder)."""
    if fnmatch.fnmatch(doc_id, glob):
        return True
    return "/" not in glob and any(fnmatch.fnmatch(part, glob) for part in doc_id.split("/"))


def _files_under(root: Path, skipped: frozenset[Path]) -> Iterator[Path]:
    """Files under ``root`` in sorted order, pruning what any enclosing .gitignore ignores."""
    specs: dict[Path, GitIgnoreSpec] = {}
    for directory, dirnames, filenames in os.walk(root):
        current = Path(directory)
        ignore = current / ".gitignore"
        if ignore.is_file():
            lines = ignore.read_text(errors="replace").splitlines()
            specs[current] = GitIgnoreSpec.from_lines(lines)
        dirnames[:] = sorted(
            name for name in dirnames
            if name not in ALWAYS_SKIPPED_DIRS and current / name not in skipped
            and not _ignored(current / name, True, specs)
        )
        for name in sorted(filenames):
            path = current / name
            if not path.is_symlink() and not _ignored(path, False, specs):
                yield path


def _ignored(path: Path, is_dir: bool, specs: dict[Path, GitIgnoreSpec]) -> bool:
    for directory, spec in specs.items():
        if directory == path or directory not in path.parents:
            continue
        relative = path.relative_to(directory).as_posix() + ("/" if is_dir else "")
        if spec.match_file(relative):
            return True
    return False


def read_source(path: Path, doc_id: str, max_bytes: int) -> SourceFile | Skipped | Unreadable:
    try:
        size = path.stat().st_size
        if size > max_bytes:
            return Skipped(doc_id, f"{size} bytes, over the {max_bytes}-byte limit")
        data = path.read_bytes()
    except OSError as error:
        return Unreadable(doc_id, f"cannot read: {error.strerror or error}")
    if b"\x00" in data[:BINARY_SNIFF_BYTES]:
        return Skipped(doc_id, "binary")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        return Unreadable(doc_id, f"not valid UTF-8 at byte {error.start}; convert it to UTF-8")
    if not text.strip():
        return Skipped(doc_id, "empty")
    return SourceFile(doc_id, path, text, language_for_path(doc_id) or "")
