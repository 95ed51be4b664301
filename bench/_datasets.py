"""Retrieval test sets built from text already on the machine (or one apt package away).

* Code search: Python standard library files with every docstring and comment blanked out
  (line numbers kept), queried by the first sentence of each function's docstring, so the
  query never matches itself and a hit needs the code to be understood.
* Long documents: the Python FAQ (python3.11-doc) and perlfaq (perl-doc) questions, answered by
  documents made of several consecutive answers, so most answers start past the first window.

Every selection is deterministic (sorted walks, fixed seeds) so runs compare like with like.
"""

from __future__ import annotations

import ast
import io
import os
import random
import re
import shutil
import subprocess
import sysconfig
import tokenize
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

SEED = 1234
# encodings/ holds generated codec tables, not code anyone searches.
SKIPPED_DIRS = {"__pycache__", "site-packages", "test", "tests", "idlelib", "lib2to3", "encodings"}
PYTHON_FAQ_DIR = Path("/usr/share/doc/python3.11/html/_sources/faq")
PERL_POD_DIRS = sorted(Path("/usr/share/perl").glob("5.*/pod"))
DOC_PACKAGES = ("python3.11-doc", "perl-doc")

_SENTENCE_END = re.compile(r"(?<=[.!?])\s")
_RST_ADORNMENT = re.compile(r"([=\-~^\"'`+#*:_])\1{2,}\s*")
_RST_LABEL = re.compile(r"\.\. _[^:]+:\s*")
_DEF_NODES = (ast.FunctionDef, ast.AsyncFunctionDef)
_DOC_NODES = (ast.Module, ast.ClassDef, *_DEF_NODES)


# --- code search -------------------------------------------------------------------------------


@dataclass(frozen=True)
class CodeFile:
    path: str  # relative to the stdlib directory
    source: str  # docstrings and comments blanked, same line numbers as the original


@dataclass(frozen=True)
class CodeQuery:
    text: str
    path: str
    start_line: int  # first line of the function (its first decorator), 1-based
    end_line: int  # last line, inclusive
    symbol: str


@dataclass(frozen=True)
class CodeSearchSet:
    files: list[CodeFile]
    queries: list[CodeQuery]


def stdlib_files() -> Iterator[Path]:
    """The stdlib's own .py files in sorted order: no tests, IDLE, lib2to3 or site-packages."""
    root = sysconfig.get_paths()["stdlib"]
    for directory, subdirs, files in os.walk(root):
        subdirs[:] = sorted(d for d in subdirs if d not in SKIPPED_DIRS)
        for name in sorted(files):
            if name.endswith(".py"):
                yield Path(directory, name)


def _offsets(source: str) -> list[int]:
    starts = [0]
    starts.extend(i + 1 for i, ch in enumerate(source) if ch == "\n")
    return starts


def _docstring_spans(tree: ast.Module, source: str) -> list[tuple[int, int, str]]:
    """(start, end, replacement) character spans of every docstring expression.

    A docstring that is its block's only statement becomes ``pass`` so the code still parses.
    """
    lines, starts = source.split("\n"), _offsets(source)

    def char(line: int, byte_col: int) -> int:  # ast columns are UTF-8 byte offsets
        prefix = lines[line - 1].encode("utf-8")[:byte_col].decode("utf-8")
        return starts[line - 1] + len(prefix)

    spans = []
    for node in ast.walk(tree):
        if isinstance(node, _DOC_NODES) and ast.get_docstring(node, clean=False) is not None:
            doc = node.body[0]
            start = char(doc.lineno, doc.col_offset)
            end = char(doc.end_lineno or doc.lineno, doc.end_col_offset or 0)
            spans.append((start, end, "pass" if len(node.body) == 1 else ""))
    return spans


def _comment_spans(source: str) -> list[tuple[int, int, str]]:
    starts = _offsets(source)
    tokens = tokenize.generate_tokens(io.StringIO(source).readline)
    return [
        (starts[t.start[0] - 1] + t.start[1], starts[t.end[0] - 1] + t.end[1], "")
        for t in tokens
        if t.type == tokenize.COMMENT
    ]


def blank_docs_and_comments(source: str) -> str | None:
    """``source`` without docstrings and comments, every line where it was; None if unparsable.

    Blanked text becomes empty lines (newlines are kept), trailing spaces are dropped.
    """
    try:
        tree = ast.parse(source)
        spans = sorted(_docstring_spans(tree, source) + _comment_spans(source))
    except (SyntaxError, tokenize.TokenError, ValueError, UnicodeError):
        return None
    out, cursor = [], 0
    for start, end, replacement in spans:
        out += [source[cursor:start], replacement, "\n" * source.count("\n", start, end)]
        cursor = end
    out.append(source[cursor:])
    blanked = "\n".join(line.rstrip() for line in "".join(out).split("\n"))
    try:
        ast.parse(blanked)
    except SyntaxError:
        return None
    return blanked if blanked.count("\n") == source.count("\n") else None


def first_sentence(docstring: str) -> str:
    """The docstring's first sentence, on one line."""
    paragraph = docstring.strip().split("\n\n", 1)[0]
    return _SENTENCE_END.split(" ".join(paragraph.split()), maxsplit=1)[0]


def _function_queries(tree: ast.Module, blanked: list[str], path: str) -> Iterator[CodeQuery]:
    """Functions with a 3+ word first docstring sentence and 3+ lines of code left."""
    for node in ast.walk(tree):
        if not isinstance(node, _DEF_NODES):
            continue
        doc = ast.get_docstring(node)
        text = first_sentence(doc) if doc else ""
        start = min([node.lineno] + [d.lineno for d in node.decorator_list])
        end = node.end_lineno or node.lineno
        code_lines = sum(1 for line in blanked[start - 1 : end] if line.strip())
        if len(text.split()) >= 3 and code_lines >= 3:
            yield CodeQuery(text, path, start, end, node.name)


def code_search_set(
    max_files: int, max_queries: int, size_range: tuple[int, int] = (2_000, 40_000)
) -> CodeSearchSet:
    """A seeded sample of stdlib files (sizes in ``size_range`` bytes) and of their functions.

    Queries whose text occurs more than once in the sample are dropped: they have no single
    right answer ("Return a string representation.").
    """
    root = Path(sysconfig.get_paths()["stdlib"])
    low, high = size_range
    candidates = [p for p in stdlib_files() if low <= p.stat().st_size <= high]
    rng = random.Random(SEED)
    files: list[CodeFile] = []
    queries: list[CodeQuery] = []
    for path in rng.sample(candidates, len(candidates)):
        if len(files) == max_files:
            break
        source = path.read_text(encoding="utf-8", errors="strict")
        blanked = blank_docs_and_comments(source)
        if blanked is None:
            continue
        relative = str(path.relative_to(root))
        files.append(CodeFile(relative, blanked))
        queries += _function_queries(ast.parse(source), blanked.split("\n"), relative)
    counts = Counter(q.text for q in queries)
    unique = [q for q in queries if counts[q.text] == 1]
    picked = rng.sample(unique, min(max_queries, len(unique)))
    files.sort(key=lambda f: f.path)
    return CodeSearchSet(files, sorted(picked, key=lambda q: (q.path, q.start_line)))


# --- long documents ----------------------------------------------------------------------------


@dataclass(frozen=True)
class QA:
    question: str
    answer: str
    section: str  # the FAQ file it comes from


@dataclass(frozen=True)
class LongDocumentSet:
    name: str
    documents: list[str]
    queries: list[str]
    gold: list[int]  # index of the document holding each query's answer
    answer_starts: list[int]  # where in that document the answer starts (characters)


def ensure_doc_packages() -> None:
    """Install the FAQ sources with apt when missing, as root only; otherwise say what to do."""
    if python_faq_files() and perl_faq_files():
        return
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise SystemExit(f"needs the Debian packages {' '.join(DOC_PACKAGES)}: "
                         f"sudo apt-get install -y {' '.join(DOC_PACKAGES)}")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-q"], check=True, env=env)
    subprocess.run(["apt-get", "install", "-y", "-q", *DOC_PACKAGES], check=True, env=env)


def python_faq_files() -> list[Path]:
    return sorted(p for p in PYTHON_FAQ_DIR.glob("*.rst.txt") if p.name != "index.rst.txt")


def perl_faq_files() -> list[Path]:
    return sorted(PERL_POD_DIRS[-1].glob("perlfaq[1-9].pod")) if PERL_POD_DIRS else []


def _rst_pairs(path: Path) -> Iterator[QA]:
    """Headings underlined with ``-`` are questions; their answer runs to the next heading."""
    lines = path.read_text(encoding="utf-8").split("\n")
    headings = [
        i for i in range(len(lines) - 1)
        if lines[i].strip() and not _RST_ADORNMENT.fullmatch(lines[i])
        and _RST_ADORNMENT.fullmatch(lines[i + 1])
        and len(lines[i + 1].strip()) >= len(lines[i].strip())
    ]
    section = path.name.split(".")[0]
    for here, end in zip(headings, [*headings[1:], len(lines)], strict=True):
        if not lines[here + 1].startswith("-"):
            continue
        if _RST_ADORNMENT.fullmatch(lines[end - 1]):
            end -= 1  # the next heading's overline
        body = [line for line in lines[here + 2 : end] if not _RST_LABEL.fullmatch(line)]
        yield QA(lines[here].strip(), "\n".join(body).strip(), section)


def _pod_pairs(path: Path) -> Iterator[QA]:
    """``=head2`` questions; the answer runs to the next ``=head1``/``=head2``/``=cut``."""
    section = path.name.split(".")[0]
    question, body = None, []
    for line in [*path.read_text(encoding="utf-8").split("\n"), "=cut"]:
        if line.startswith(("=head1", "=head2", "=cut")):
            if question is not None:
                yield QA(question, "\n".join(body).strip(), section)
            question, body = None, []
            if line.startswith("=head2"):
                question = line.removeprefix("=head2").strip()
        elif question is not None:
            body.append(line)


def python_faq() -> list[QA]:
    return [qa for p in python_faq_files() for qa in _rst_pairs(p) if qa.answer]


def perlfaq() -> list[QA]:
    return [qa for p in perl_faq_files() for qa in _pod_pairs(p) if qa.answer]


def group_answers(name: str, pairs: list[QA], per_document: int) -> LongDocumentSet:
    """Documents of ``per_document`` consecutive answers of one FAQ file, questions left out.

    Neighbouring answers share a topic, like the sections of one long document; a short tail
    joins the previous document rather than making a short one. A question asked twice has no
    single right document and is not used as a query (its answers stay in the documents).
    """
    groups: list[list[int]] = []
    for i, qa in enumerate(pairs):
        last = groups[-1] if groups else None
        if last is None or pairs[last[0]].section != qa.section or len(last) == per_document:
            groups.append([i])
        else:
            last.append(i)
    groups = _merge_short_tails(groups, pairs, per_document)
    documents, gold, starts = [], [0] * len(pairs), [0] * len(pairs)
    for d, group in enumerate(groups):
        text = ""
        for i in group:
            text += "\n\n" if text else ""
            gold[i], starts[i] = d, len(text)
            text += pairs[i].answer
        documents.append(text)
    counts = Counter(qa.question for qa in pairs)
    asked = [i for i, qa in enumerate(pairs) if counts[qa.question] == 1]
    return LongDocumentSet(name, documents, [pairs[i].question for i in asked],
                           [gold[i] for i in asked], [starts[i] for i in asked])


def _merge_short_tails(groups: list[list[int]], pairs: list[QA], size: int) -> list[list[int]]:
    merged: list[list[int]] = []
    for group in groups:
        same = merged and pairs[merged[-1][0]].section == pairs[group[0]].section
        if same and len(group) < (size + 1) // 2:
            merged[-1] = merged[-1] + group
        else:
            merged.append(group)
    return merged


_FIRST = ["Ingrid", "Tomasz", "Amara", "Kenji", "Lucia", "Oswin", "Priya", "Rafael", "Sigrid",
          "Thabo", "Yelena", "Dmitri", "Noor", "Eamon", "Farida", "Gustav", "Hana", "Idris"]
_LAST = ["Holloway", "Brennan", "Okafor", "Lindqvist", "Marchetti", "Vasquez", "Nakamura",
         "Abernathy", "Castellanos", "Whitfield", "Szabo", "Delacroix", "Adeyemi", "Kowalczyk"]
_FACTS = [
    ("favourite fruit", ["mango", "quince", "lychee", "persimmon", "gooseberry", "papaya"]),
    ("home town", ["Tromsø", "Valparaíso", "Ouagadougou", "Kraków", "Hobart", "Cusco"]),
    ("boat", ["the Sea Lantern", "the Grey Heron", "the Marigold", "the Tin Albatross"]),
    ("locker code", ["4817", "9052", "3366", "7241", "1509", "6683"]),
    ("violin teacher", ["Mr. Ferreira", "Mrs. Okonkwo", "Dr. Halvorsen", "Ms. Trinh"]),
]


def with_needles(docs: LongDocumentSet) -> LongDocumentSet:
    """Each document gets one invented fact, as its own paragraph at a random place in it.

    The query asks for that fact; only the one paragraph can answer it, wherever it sits, so
    this is a passkey test of how document scoring treats a detail deep in a long text.
    """
    rng = random.Random(SEED)
    people = rng.sample([f"{a} {b}" for a in _FIRST for b in _LAST], len(docs.documents))
    documents, queries, starts = [], [], []
    for doc, person in zip(docs.documents, people, strict=True):
        attribute, values = rng.choice(_FACTS)
        needle = f"{person}'s {attribute} is {rng.choice(values)}."
        breaks = [m.end() for m in re.finditer(r"\n\n", doc)]
        at = rng.choice([0, *breaks])
        documents.append(doc[:at] + needle + "\n\n" + doc[at:])
        queries.append(f"What is {person}'s {attribute}?")
        starts.append(at)
    gold = list(range(len(documents)))
    return LongDocumentSet(f"{docs.name} + needles", documents, queries, gold, starts)


# --- whole documents ---------------------------------------------------------------------------

PYTHON_LIBRARY_DIR = Path("/usr/share/doc/python3.11/html/_sources/library")
# A seeded sample of the pages up to LIBRARY_MAX_CHARS (most of them): the first run's
# inference stays within minutes on a small CPU.
LIBRARY_PAGES, LIBRARY_MAX_CHARS = 100, 30_000
_ROLE = re.compile(r":[a-z:]+:`~?([^`<]*?)\s*(?:<[^>]*>)?`")
_TITLE_SPLIT = re.compile(r"\s+-{2,3}\s+")


def page_title(line: str) -> str:
    """A library page's title as a reader says it: ":mod:`json` --- JSON encoder and decoder"
    -> "JSON encoder and decoder"; a title without a summary keeps its words."""
    parts = _TITLE_SPLIT.split(line.strip(), maxsplit=1)
    title = parts[-1] if len(parts) == 2 and parts[1].strip() else parts[0]
    return _ROLE.sub(r"\1", title).replace("``", "").strip()


def python_library_pages(name: str = "Python library pages") -> LongDocumentSet:
    """One query per page of the Python library reference: its one-line title; the gold item
    is the page with that title line (and its underline) removed. Pages that only list other
    pages (a toctree and little else) or share a title with another page are left out."""
    pages: list[tuple[str, str]] = []
    for path in sorted(PYTHON_LIBRARY_DIR.glob("*.rst.txt")):
        lines = path.read_text(encoding="utf-8").split("\n")
        start = next((i for i, line in enumerate(lines)
                      if line.strip() and not line.startswith(".. ")
                      and not _RST_ADORNMENT.fullmatch(line)), None)
        if start is None or start + 1 >= len(lines) or not _RST_ADORNMENT.fullmatch(
                lines[start + 1]):
            continue
        body = "\n".join(lines[:start] + lines[start + 2:]).strip()
        title = page_title(lines[start])
        if title and len(body) >= 2000 and ".. toctree::" not in body:
            pages.append((title, body))
    counts = Counter(title for title, _ in pages)
    pages = [(title, body) for title, body in pages if counts[title] == 1]
    return LongDocumentSet(name, [body for _, body in pages], [title for title, _ in pages],
                           list(range(len(pages))), [0] * len(pages))


def library_set(held_out: bool = False, whole: bool = False) -> LongDocumentSet:
    """The seeded sample of library pages (the topic mix was tuned on it), or with
    ``held_out`` the other pages up to the same size, which checks that tuning; ``whole`` puts
    every page of that size in one corpus, the set the whole-document goal is measured on."""
    pages = python_library_pages()
    short = [i for i, text in enumerate(pages.documents) if len(text) <= LIBRARY_MAX_CHARS]
    sample = set(random.Random(SEED).sample(short, LIBRARY_PAGES))
    keep = short if whole else [i for i in short if (i in sample) != held_out]
    name = (f"{pages.name}, all" if whole
            else f"{pages.name}, held out" if held_out else pages.name)
    return LongDocumentSet(name, [pages.documents[i] for i in keep],
                           [pages.queries[i] for i in keep], list(range(len(keep))),
                           [0] * len(keep))
