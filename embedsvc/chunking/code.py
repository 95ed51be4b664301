"""SEA-style (semantic, AST-guided) chunking of source code.

tree-sitter parses the file. Definitions (functions, methods, classes, impls, ...) are units of
their own; the other statements between two definitions are packed together up to the budget. A
unit over the token budget is split at its children's boundaries, recursively, then into line
windows, then token windows for a single huge line. Files in a language without a grammar here
are cut into line windows, and so are the parts of a file that do not parse (kind ``lines``;
tree-sitter localizes errors, so the well-formed definitions around them stay units).

Boundaries are local on purpose: a definition is never merged with a neighbour, and statement
runs are packed only between two definitions, so an edit inside one function moves no chunk
boundary outside it (a global greedy pass would cascade through the rest of the file). Comments
and attributes directly above a definition (no blank line between) belong to it.
"""

from __future__ import annotations

import bisect
import itertools
from dataclasses import dataclass, replace
from typing import Any

from tree_sitter import Node

from embedsvc.chunking.languages import (
    CLASS_KINDS,
    LANGUAGES,
    Definition,
    LanguageSpec,
    find_definition,
    language_for_path,
    module_symbol,
    normalize_language,
    parser_for,
)
from embedsvc.chunking.tokens import (
    ChunkBuilder,
    Span,
    TokenCounter,
    TokenIndex,
    check_budget,
    fit_context,
    line_starts,
)
from embedsvc.chunking.types import Chunk

# Deeper than this a unit is cut into line windows (left-recursive chains such as a + b + c + ...
# would otherwise recurse once per operand).
_MAX_DEPTH = 48
# Fields that make a statement a block whose header its pieces should carry as context.
_BLOCK_FIELDS = ("body", "consequence")
# Stands in for a language without a grammar here: no parser, so line windows.
_NO_GRAMMAR = LanguageSpec("none", "")
# Characters of an enclosing definition's header repeated as context (long signatures are cut).
_HEADER_CHARS = 200


def chunk_code(
    source: str,
    tokenizer: Any,
    max_tokens: int,
    language: str | None = None,
    path: str | None = None,
) -> list[Chunk]:
    """Chunk ``source`` along its syntax tree; every chunk's ``embed_input`` fits ``max_tokens``.

    The language is ``language`` (a name or alias) if given, else guessed from ``path``'s
    extension; without a grammar for it the file is cut into line windows.
    """
    counter = TokenCounter(tokenizer)
    check_budget(counter, max_tokens)
    if not source.strip():
        return []
    name = normalize_language(language) if language else language_for_path(path or "")
    index = counter.index(source)
    spec = LANGUAGES.get(name or "")
    spans = _CodeChunker(source, counter, index, max_tokens, spec, path).spans()
    return ChunkBuilder(source, counter, index, max_tokens).build(spans, keep_indent=True)


@dataclass(slots=True)
class _Unit:
    """A candidate chunk: a source range, what it is, and what splitting it would descend into.

    ``context`` holds the enclosing header lines; ``in_class`` says whether functions defined
    directly inside it are methods.
    """

    start: int
    end: int
    node: Node | None
    definition: Definition | None
    kind: str
    symbol: str
    context: tuple[str, ...]
    in_class: bool


@dataclass(slots=True)
class _Run:
    """Consecutive non-definition units being merged into one chunk."""

    start: int
    end: int
    context: tuple[str, ...]
    symbol: str
    kind: str


class _CodeChunker:
    """Plans the spans of one file; :class:`ChunkBuilder` verifies them afterwards."""

    def __init__(
        self,
        source: str,
        counter: TokenCounter,
        index: TokenIndex,
        max_tokens: int,
        spec: LanguageSpec | None,
        path: str | None,
    ) -> None:
        self.source = source
        self.data = source.encode("utf-8", "surrogatepass")
        self.counter = counter
        self.index = index
        self.max_tokens = max_tokens
        self.spec = spec or _NO_GRAMMAR
        self.path = path
        self.line_starts = line_starts(source)
        self._chars = None if len(self.data) == len(source) else _ByteToChar(source, self.data)
        self._context_limit = (max_tokens - counter.special) // 2
        self._contexts: dict[tuple[str, ...], str] = {}
        self._type_headers: dict[str, str] = {}

    def spans(self) -> list[Span]:
        parser = parser_for(self.spec.name)
        root = parser.parse(self.data).root_node if parser is not None else None
        if root is None:
            return self._lines(0, len(self.source), (), "", "lines")
        self._type_headers = self._collect_type_headers(root)
        module = module_symbol(root, self.spec, self.path)
        top = _Unit(0, len(self.source), root, None, "module", module, (), False)
        units = self._subunits(top)
        if not units:
            return self._lines(0, len(self.source), (), module, "module")
        return self._pack(units, 0)

    # --- positions -------------------------------------------------------------------------

    def _start(self, node: Node) -> int:
        """Character offset of a node (tree-sitter counts bytes; they differ beyond ASCII)."""
        return node.start_byte if self._chars is None else self._chars(node.start_byte)

    def _end(self, node: Node) -> int:
        return node.end_byte if self._chars is None else self._chars(node.end_byte)

    # --- budget ----------------------------------------------------------------------------

    def _context(self, parts: tuple[str, ...]) -> str:
        context = self._contexts.get(parts)
        if context is None:
            context = fit_context(self.counter, parts, "\n", self._context_limit)
            self._contexts[parts] = context
        return context

    def _budget(self, context: str) -> int:
        """Tokens left for the chunk text next to ``context`` and the special tokens."""
        return self.max_tokens - self.counter.special - self.counter.prefix_cost(context)

    def _fits(self, start: int, end: int, context: str) -> bool:
        return self.index.count(start, end) <= self._budget(context)

    # --- units -----------------------------------------------------------------------------

    def _subunits(self, unit: _Unit) -> list[_Unit]:
        """The units a unit over budget splits into: its head, its children, its tail.

        Children carry the header of a definition or of a block statement (``if``, ``for``) as
        context; the file itself has none.
        """
        owner = unit.definition.node if unit.definition is not None else unit.node
        kids = self._children(owner) if owner is not None else []
        if not kids:
            return []
        context = unit.context
        if unit.definition is not None or any(map(owner.child_by_field_name, _BLOCK_FIELDS)):
            context += self._header(owner)
        units = self._units(kids, unit, context)
        head = replace(unit, end=units[0].start, node=None, definition=None)
        tail = replace(unit, start=units[-1].end, node=None, definition=None, context=context)
        return [
            *([head] if self.source[head.start : head.end].strip() else []),
            *units,
            *([tail] if self.source[tail.start : tail.end].strip() else []),
        ]

    def _children(self, owner: Node) -> list[Node]:
        """Named children of ``owner``'s body, looking through single-child wrappers."""
        container = owner.child_by_field_name("body") or owner
        kids = container.named_children
        while len(kids) == 1 and kids[0].named_child_count and not self._definition(kids[0]):
            kids = kids[0].named_children
        return kids

    def _definition(self, node: Node) -> Definition | None:
        return find_definition(node, self.spec)

    def _header(self, owner: Node) -> tuple[str, ...]:
        """The enclosing header (``class Foo(Base):``) that children carry as context.

        It runs from the start of the owner's line (so ``const f = () =>`` keeps its name) to
        its body, or to the end of that line, with whitespace squeezed (long signatures).
        """
        start = self._start(owner)
        line_start = self.line_starts[bisect.bisect_right(self.line_starts, start) - 1]
        body = owner.child_by_field_name("body")
        stop = self._start(body) if body is not None else -1
        if stop <= start:
            stop = self.source.find("\n", start)
            stop = len(self.source) if stop < 0 else stop
        text = " ".join(self.source[line_start : min(stop, line_start + 4 * _HEADER_CHARS)].split())
        return (text[:_HEADER_CHARS].rstrip(),) if text else ()

    def _units(self, kids: list[Node], parent: _Unit, context: tuple[str, ...]) -> list[_Unit]:
        """One unit per definition (with the comments above it) or other child."""
        definitions = [None if kid.has_error else self._definition(kid) for kid in kids]
        attached = self._attached(kids, definitions)
        starts = [self._start(kid) for kid in kids]
        units = []
        first = 0
        for i, kid in enumerate(kids):
            if attached[i]:
                continue
            end = starts[i + 1] if i + 1 < len(kids) else self._end(kid)
            units.append(self._unit(kid, definitions[i], starts[first], end, parent, context))
            first = i + 1
        return units

    def _attached(self, kids: list[Node], definitions: list[Definition | None]) -> list[bool]:
        """Which children are comments or attributes that belong to the definition below them."""
        attached = [False] * len(kids)
        for i in range(len(kids) - 2, -1, -1):
            kid, below = kids[i], kids[i + 1]
            attached[i] = (
                definitions[i] is None
                and (definitions[i + 1] is not None or attached[i + 1])
                and self._is_prefix(kid)
                and kid.end_point.row + 1 >= below.start_point.row
                and (i == 0 or kid.start_point.row > kids[i - 1].end_point.row)
            )
        return attached

    def _is_prefix(self, node: Node) -> bool:
        return "comment" in node.type or node.type in self.spec.prefixes

    def _unit(
        self,
        kid: Node,
        definition: Definition | None,
        start: int,
        end: int,
        parent: _Unit,
        context: tuple[str, ...],
    ) -> _Unit:
        if kid.has_error:
            return _Unit(start, end, None, None, "lines", parent.symbol, context, parent.in_class)
        if definition is None:
            return _Unit(
                start, end, kid, None, parent.kind, parent.symbol, context, parent.in_class
            )
        kind = definition.kind
        if kind == "function" and parent.in_class:
            kind = "method"
        names = (parent.symbol, definition.scope, definition.name)
        symbol = ".".join(name for name in names if name)
        header = definition.scope and self._type_headers.get(definition.scope.rsplit(".", 1)[-1])
        if header:
            context = (*context, header)
        return _Unit(start, end, kid, definition, kind, symbol, context, kind in CLASS_KINDS)

    def _collect_type_headers(self, root: Node) -> dict[str, str]:
        """First line of each top-level type, the context of methods defined outside it (Go
        receivers, ``void Poly::scale()`` in C++)."""
        headers: dict[str, str] = {}
        for kid in root.named_children:
            definition = self._definition(kid)
            if definition is not None and definition.kind in CLASS_KINDS | {"type"}:
                start = self._start(definition.node)
                line_end = self.source.find("\n", start)
                line = self.source[start : line_end if line_end >= 0 else len(self.source)]
                headers.setdefault(definition.name, line.strip())
        return headers

    # --- packing ---------------------------------------------------------------------------

    def _pack(self, units: list[_Unit], depth: int) -> list[Span]:
        """Definitions alone; runs of other units merged greedily up to the budget.

        A non-definition over budget is replaced by its own sub-units (children, else line
        windows) inside the same run, so small pieces (a lone ``else:``) join their neighbours.
        A run's context is what all its units share (the innermost common enclosing header).
        """
        spans: list[Span] = []
        run: _Run | None = None
        pending = [(unit, depth) for unit in reversed(units)]
        while pending:
            unit, level = pending.pop()
            if self._fits_unit(unit):
                if unit.definition is not None:
                    self._close(spans, run)
                    run = None
                    spans.append(self._span(unit))
                else:
                    run = self._extend(spans, run, unit)
                continue
            if level >= _MAX_DEPTH:
                parts = []
            elif unit.definition is None:
                parts = self._subunits(unit) or self._line_units(unit)
                pending.extend((part, level + 1) for part in reversed(parts))
                continue
            else:
                parts = self._subunits(unit)
            self._close(spans, run)
            run = None
            if parts:
                spans.extend(self._pack(parts, level + 1))
            else:
                spans.extend(self._span_lines(unit))
        self._close(spans, run)
        return spans

    def _fits_unit(self, unit: _Unit) -> bool:
        return self._fits(unit.start, unit.end, self._context(unit.context))

    def _span(self, unit: _Unit) -> Span:
        return Span(unit.start, unit.end, self._context(unit.context), unit.symbol, unit.kind)

    def _extend(self, spans: list[Span], run: _Run | None, unit: _Unit) -> _Run:
        """``run`` grown by ``unit`` if the result fits, else ``unit`` starts a new run."""
        if run is not None:
            shared = _common_prefix(run.context, unit.context)
            if self._fits(run.start, unit.end, self._context(shared)):
                run.end, run.context = unit.end, shared
                return run
            self._close(spans, run)
        return _Run(unit.start, unit.end, unit.context, unit.symbol, unit.kind)

    def _line_units(self, unit: _Unit) -> list[_Unit]:
        """Line windows of a unit without children, as units that can join a run."""
        return [
            replace(unit, start=span.start, end=span.end, node=None)
            for span in self._span_lines(unit)
        ]

    def _span_lines(self, unit: _Unit) -> list[Span]:
        return self._lines(unit.start, unit.end, unit.context, unit.symbol, unit.kind)

    def _close(self, spans: list[Span], run: _Run | None) -> None:
        """End a run; one of bare punctuation (a closing ``}``) joins the chunk before it."""
        if run is None:
            return
        last = spans[-1] if spans else None
        bare = not any(ch.isalnum() for ch in self.source[run.start : run.end])
        if bare and last is not None and self._fits(last.start, run.end, last.context):
            spans[-1] = replace(last, end=run.end)
        else:
            context = self._context(run.context)
            spans.append(Span(run.start, run.end, context, run.symbol, run.kind))

    def _lines(
        self, start: int, end: int, parts: tuple[str, ...], symbol: str, kind: str
    ) -> list[Span]:
        """Whole lines packed greedily; a single line over budget is cut into token windows."""
        context = self._context(parts)
        budget = self._budget(context)
        first = bisect.bisect_right(self.line_starts, start)
        last = bisect.bisect_left(self.line_starts, end)
        cuts: list[int] = [start]
        fitted = start
        for boundary in [*self.line_starts[first:last], end]:
            if self.index.count(cuts[-1], boundary) > budget:
                if fitted > cuts[-1]:
                    cuts.append(fitted)
                if self.index.count(cuts[-1], boundary) > budget:
                    cuts.extend(self.index.windows(cuts[-1], boundary, budget))
            fitted = boundary
        cuts.append(end)
        return [Span(a, b, context, symbol, kind) for a, b in itertools.pairwise(cuts) if b > a]


def _common_prefix(a: tuple[str, ...], b: tuple[str, ...]) -> tuple[str, ...]:
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    return a[:n]


class _ByteToChar:
    """UTF-8 byte offset -> character offset, via a checkpoint every ``_STEP`` characters.

    Each lookup decodes at most ``_STEP`` characters, so minified files with megabyte-long
    lines stay linear.
    """

    _STEP = 256

    def __init__(self, source: str, data: bytes) -> None:
        self.data = data
        self.chars = [*range(0, len(source), self._STEP), len(source)]
        self.bytes = [0]
        for start in self.chars[:-1]:
            piece = source[start : start + self._STEP]
            self.bytes.append(self.bytes[-1] + len(piece.encode("utf-8", "surrogatepass")))

    def __call__(self, byte: int) -> int:
        k = bisect.bisect_right(self.bytes, byte) - 1
        tail = self.data[self.bytes[k] : byte].decode("utf-8", "surrogatepass")
        return self.chars[k] + len(tail)
