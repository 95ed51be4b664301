"""SEA-style (semantic, AST-guided) chunking of source code.

tree-sitter parses the file. Definitions (functions, methods, classes, impls, ...) are units of
their own; the other statements between two definitions are packed together up to the budget. A
unit over the token budget is split at its children's boundaries, recursively, then into line
windows, then token windows for a single huge line. Files in a language without a grammar here
are cut into line windows, and so are the parts of a file that do not parse (kind ``lines``;
tree-sitter localizes errors, so the well-formed definitions around them stay units).

Whatever is split is split evenly: the pieces are as few as the budget allows and as equal as
the cut points allow (no 250-token piece followed by a lone ``return x``).

Boundaries are local on purpose: a definition is never merged with a neighbour, and statement
runs are packed only between two definitions, so an edit inside one function moves no chunk
boundary outside it (a global greedy pass would cascade through the rest of the file). Comments
and attributes directly above a definition (no blank line between) belong to it, and so does a
small run of other statements (``X = 1``, ``Seq.register(list)``, the header of the class that
holds it): the run joins the definition after it, or the one before it at the end of a body.
Whether a run joins depends on the run's own size only, never on the definition's, so editing
the definition cannot detach it. A definition that fits alone but not with its doc comment or
run keeps its code whole: the comment or run becomes chunks of its own before it, and a body
is cut (at statement boundaries) only when the code alone does not fit. The leading
statements of a file (imports) stay apart.
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
from embedsvc.types import Chunk

# Deeper than this a unit is cut into line windows (left-recursive chains such as a + b + c + ...
# would otherwise recurse once per operand).
_MAX_DEPTH = 48
# Fields that make a statement a block whose header its pieces should carry as context.
_BLOCK_FIELDS = ("body", "consequence")
# Stands in for a language without a grammar here: no parser, so line windows.
_NO_GRAMMAR = LanguageSpec("none", "")
# Characters of an enclosing definition's header repeated as context (long signatures are cut).
_HEADER_CHARS = 200
# A statement run under this many tokens (and under 1/8 of the budget) joins a definition.
_ATTACH_TOKENS = 32
# Runs of more atoms than this are grouped in coarser grains (see ``_CodeChunker._groups``).
_FINE_ATOMS = 400


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
    directly inside it are methods. ``whole`` is the context of the unit as one chunk when it
    is shorter than ``context`` (the class header joined the first method: the header is then
    in the text), ``head`` marks the part of a split unit before its first child.
    """

    start: int
    end: int
    node: Node | None
    definition: Definition | None
    kind: str
    symbol: str
    context: tuple[str, ...]
    in_class: bool
    whole: tuple[str, ...] | None = None
    head: bool = False

    @property
    def own_context(self) -> tuple[str, ...]:
        return self.context if self.whole is None else self.whole


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
        self._attach_limit = min(_ATTACH_TOKENS, (max_tokens - counter.special) // 8)
        self._contexts: dict[tuple[str, ...], str] = {}
        self._budgets: dict[tuple[str, ...], int] = {}
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
        return self._pack(units, 0, leading=False)

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

    def _budget_of(self, parts: tuple[str, ...]) -> int:
        budget = self._budgets.get(parts)
        if budget is None:
            budget = self._budgets[parts] = self._budget(self._context(parts))
        return budget

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
        head = replace(
            unit,
            end=units[0].start,
            node=None,
            definition=None,
            context=unit.own_context,
            whole=None,
            head=True,
        )
        tail = replace(
            unit, start=units[-1].end, node=None, definition=None, context=context, whole=None
        )
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

    def _pack(self, units: list[_Unit], depth: int, leading: bool = True) -> list[Span]:
        """Definitions alone (with the small runs that joined them); other units in runs.

        Non-definitions over budget are first replaced by their own sub-units (children, else
        lines), recursively, so that small pieces (a lone ``else:``) join their neighbours.
        Each run between two definitions is then cut into as few, and as even, pieces as fit
        (see :meth:`_groups`); a piece's context is what all its units share (the innermost
        common enclosing header). ``leading`` says whether a run before the first definition
        may join it (not at the top of a file: imports are not part of the first function).
        """
        spans: list[Span] = []
        run: list[_Unit] = []
        for unit, level in self._attach(self._flatten(units, depth), leading):
            if self._fits_unit(unit):
                if unit.definition is None:
                    run.append(unit)
                else:
                    self._flush(spans, run)
                    spans.append(self._span(unit))
                continue
            self._flush(spans, run)
            apart = self._prefix_apart(unit) if unit.definition is not None else None
            if apart is not None:
                spans.extend(apart)
                continue
            split = unit.definition is not None and level < _MAX_DEPTH
            parts = self._subunits(unit) if split else []
            spans.extend(self._pack(parts, level + 1) if parts else self._span_lines(unit))
        self._flush(spans, run)
        return spans

    def _prefix_apart(self, unit: _Unit) -> list[Span] | None:
        """A definition that fits alone but not with what precedes it (its doc comment, a run
        that joined it): that prefix as chunks of its own, then the definition whole, rather
        than the definition cut through its body. None when the definition alone is too big."""
        code_start = self._start(unit.node) if unit.node is not None else unit.start
        if code_start <= unit.start or not self.source[unit.start : code_start].strip():
            return None
        code = replace(unit, start=code_start, whole=None)
        if not self._fits_unit(code):
            return None
        prefix = replace(unit, end=code_start, node=None, definition=None, whole=None)
        head = [self._span(prefix)] if self._fits_unit(prefix) else self._span_lines(prefix)
        return [*head, self._span(code)]

    def _flatten(self, units: list[_Unit], depth: int) -> list[tuple[_Unit, int]]:
        """``units`` with every non-definition over budget replaced by its parts, recursively,
        each with its depth; past ``_MAX_DEPTH`` one is left whole (for line windows)."""
        out: list[tuple[_Unit, int]] = []
        pending = [(unit, depth) for unit in reversed(units)]
        while pending:
            unit, level = pending.pop()
            if unit.definition is not None or level >= _MAX_DEPTH or self._fits_unit(unit):
                out.append((unit, level))
                continue
            parts = self._subunits(unit) or self._line_units(unit)
            pending.extend((part, level + 1) for part in reversed(parts))
        return out

    def _attach(self, items: list[tuple[_Unit, int]], leading: bool) -> list[tuple[_Unit, int]]:
        """``items`` with each small run of non-definitions joined to a definition next to it.

        A run joins the definition after it; one after the last definition joins that one; one
        before the first definition joins it only if ``leading``. Small means under the attach
        limit, a property of the run alone, so an edit elsewhere never changes the decision.
        """
        out: list[tuple[_Unit, int]] = []
        run: list[tuple[_Unit, int]] = []
        seen = leading
        for unit, level in items:
            if unit.definition is None:
                run.append((unit, level))
                continue
            runs = [part for part, _ in run]
            if run and seen and self._small(runs):
                unit = self._joined(runs, replace(unit, start=runs[0].start))
            else:
                out.extend(run)
            run, seen = [], True
            out.append((unit, level))
        runs = [part for part, _ in run]
        if run and out and out[-1][0].definition is not None and self._small(runs):
            last, level = out[-1]
            out[-1] = (self._joined(runs, replace(last, end=runs[-1].end)), level)
        else:
            out.extend(run)
        return out

    def _small(self, run: list[_Unit]) -> bool:
        """Whether a run may join a definition: under the limit, and all of it parsed (a part
        with errors stays in line windows, apart)."""
        if any(unit.kind == "lines" for unit in run):
            return False
        return self.index.count(run[0].start, run[-1].end) < self._attach_limit

    def _joined(self, run: list[_Unit], joined: _Unit) -> _Unit:
        """``joined`` (a definition grown over ``run``) with the context it has as one chunk.

        When the run holds the head of a split unit (``class Foo:``, ``if x:``) that header is
        in the text, so as a whole the chunk takes the context all of it shares; its parts, if
        it is split, keep the definition's. Otherwise the definition's context stays (a Go
        method keeps its receiver's type).
        """
        if any(unit.head for unit in run):
            shared = joined.own_context
            for unit in run:
                shared = _common_prefix(shared, unit.context)
            joined.whole = shared
        return joined

    def _fits_unit(self, unit: _Unit) -> bool:
        return self._fits(unit.start, unit.end, self._context(unit.own_context))

    def _span(self, unit: _Unit) -> Span:
        return Span(unit.start, unit.end, self._context(unit.own_context), unit.symbol, unit.kind)

    def _flush(self, spans: list[Span], run: list[_Unit]) -> None:
        """Cut a run into even pieces and empty it; bare punctuation (a closing ``}``) joins
        the chunk before it instead when that fits."""
        if not run:
            return
        start, end = run[0].start, run[-1].end
        last = spans[-1] if spans else None
        bare = not any(ch.isalnum() for ch in self.source[start:end])
        if bare and last is not None and self._fits(last.start, end, last.context):
            spans[-1] = replace(last, end=end)
            run.clear()
            return
        bounds = [self._token(unit.start) for unit in run]
        ends = [self._token(unit.end) for unit in run]
        contexts = [unit.context for unit in run]
        for i, j in self._groups(bounds, ends, contexts):
            shared = contexts[i]
            for parts in contexts[i + 1 : j]:
                shared = _common_prefix(shared, parts)
            first = run[i]
            context = self._context(shared)
            spans.append(Span(first.start, run[j - 1].end, context, first.symbol, first.kind))
        run.clear()

    def _token(self, offset: int) -> int:
        """Index of the first token starting at or after ``offset``."""
        return bisect.bisect_left(self.index.starts, offset)

    def _groups(
        self, starts: list[int], ends: list[int], contexts: list[tuple[str, ...]]
    ) -> list[tuple[int, int]]:
        """Consecutive atoms (token ranges, each fitting alone) grouped into even pieces.

        Dynamic programming over the cut points: first the fewest pieces, then the smallest
        sum of squared piece sizes, which spreads the tokens evenly instead of leaving the
        leftovers to the last piece. A piece's budget is that of the context its atoms share.
        A long run of tiny atoms (a generated table) is first coarsened into grains of about
        1/16 of the budget, which keeps the work linear in the run's tokens.
        """
        limit = self.max_tokens - self.counter.special
        shared = contexts[0]
        for parts in contexts[1:]:
            if parts is not shared:
                shared = _common_prefix(shared, parts)
        if ends[-1] - starts[0] <= self._budget_of(shared):
            return [(0, len(starts))]
        if len(starts) > _FINE_ATOMS:
            firsts = self._grains(starts, ends, contexts, max(1, limit // 16))
            lasts = [*firsts[1:], len(starts)]
            coarse = self._even(
                [starts[i] for i in firsts],
                [ends[j - 1] for j in lasts],
                [contexts[i] for i in firsts],
            )
            return [(firsts[a], lasts[b - 1]) for a, b in coarse]
        return self._even(starts, ends, contexts)

    def _even(
        self, starts: list[int], ends: list[int], contexts: list[tuple[str, ...]]
    ) -> list[tuple[int, int]]:
        """The grouping of :meth:`_groups`, computed over every cut point."""
        limit = self.max_tokens - self.counter.special
        m = len(starts)
        pieces, squares, back = [0] * (m + 1), [0] * (m + 1), [0] * (m + 1)
        for j in range(1, m + 1):
            end, shared = ends[j - 1], contexts[j - 1]
            cost = end - starts[j - 1]
            fewest, least, cut = pieces[j - 1], squares[j - 1] + cost * cost, j - 1
            budget = self._budget_of(shared)
            for i in range(j - 2, -1, -1):
                cost = end - starts[i]
                if cost > limit:
                    break
                if contexts[i] is not shared:
                    parts = _common_prefix(shared, contexts[i])
                    if parts != shared:
                        shared, budget = parts, self._budget_of(parts)
                if cost > budget or pieces[i] > fewest:
                    continue
                square = squares[i] + cost * cost
                if pieces[i] < fewest or square <= least:
                    fewest, least, cut = pieces[i], square, i
            pieces[j], squares[j], back[j] = fewest + 1, least, cut
        groups = []
        j = m
        while j > 0:
            groups.append((back[j], j))
            j = back[j]
        return groups[::-1]

    @staticmethod
    def _grains(
        starts: list[int], ends: list[int], contexts: list[tuple[str, ...]], grain: int
    ) -> list[int]:
        """First atom of each grain: consecutive atoms with one context, ``grain`` tokens."""
        firsts = [0]
        for k in range(1, len(starts)):
            first = firsts[-1]
            if ends[k] - starts[first] > grain or contexts[k] is not contexts[first]:
                firsts.append(k)
        return firsts

    def _line_units(self, unit: _Unit) -> list[_Unit]:
        """Lines (token windows of a huge one) of a unit without children, as run units."""
        bounds = self._line_bounds(unit.start, unit.end, self._budget_of(unit.context))
        kind, symbol, context, in_class = unit.kind, unit.symbol, unit.context, unit.in_class
        return [
            _Unit(a, b, None, None, kind, symbol, context, in_class)
            for a, b in itertools.pairwise(bounds)
        ]

    def _span_lines(self, unit: _Unit) -> list[Span]:
        return self._lines(unit.start, unit.end, unit.own_context, unit.symbol, unit.kind)

    def _lines(
        self, start: int, end: int, parts: tuple[str, ...], symbol: str, kind: str
    ) -> list[Span]:
        """Whole lines in even pieces; a single line over budget is cut into token windows."""
        context = self._context(parts)
        bounds = self._line_bounds(start, end, self._budget(context))
        if len(bounds) < 2:
            return []
        tokens = [self._token(b) for b in bounds]
        groups = self._groups(tokens[:-1], tokens[1:], [parts] * (len(bounds) - 1))
        return [Span(bounds[i], bounds[j], context, symbol, kind) for i, j in groups]

    def _line_bounds(self, start: int, end: int, budget: int) -> list[int]:
        """``start``, the line starts inside ``[start, end)``, ``end``; a line over budget is
        cut into even token windows."""
        first = bisect.bisect_right(self.line_starts, start)
        last = bisect.bisect_left(self.line_starts, end)
        bounds = [start]
        for boundary in [*self.line_starts[first:last], end]:
            if boundary <= bounds[-1]:
                continue
            cost = self.index.count(bounds[-1], boundary)
            if cost > budget:
                line_start, pieces = bounds[-1], -(-cost // max(budget, 1))
                cuts = self.index.windows(line_start, boundary, -(-cost // pieces))
                bounds.extend(cut for cut in cuts if line_start < cut < boundary)
            bounds.append(boundary)
        return bounds


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
