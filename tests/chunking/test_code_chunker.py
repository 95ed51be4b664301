"""AST chunking of code: units, symbols, context, fallbacks, budget, coverage, edit stability."""

from __future__ import annotations

import textwrap

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from embedsvc.chunking import chunk_document, resolve_language
from embedsvc.chunking.code import chunk_code
from embedsvc.types import Chunk

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

PYTHON = textwrap.dedent(
    '''\
    """Shapes."""
    import math
    from typing import Protocol

    SCALE = 2.0
    UNIT = "cm"


    def helper(x: float) -> float:
        """Scale a length."""
        return x * SCALE


    class Shape(Base):
        """A shape with an area and a perimeter, measured in the module's unit."""

        sides = 0

        def area(self) -> float:
            """Area of the shape in square units, scaled by the module factor."""
            return helper(self.width) * helper(self.height) + math.pi * 0

        # The perimeter is the sum of all sides.
        @property
        def perimeter(self) -> float:
            total = 0.0
            for side in self.sides_list:
                total += helper(side)
            return total
    '''
)


def by_symbol(chunks: list[Chunk]) -> dict[str, Chunk]:
    return {c.symbol: c for c in chunks}


def test_python_definitions_symbols_and_context(tokenizer, check_chunks):
    chunks = chunk_code(PYTHON, tokenizer, 64, path="pkg/shapes.py")
    check_chunks(chunks, PYTHON, 64)
    symbols = by_symbol(chunks)
    assert symbols["shapes.helper"].kind == "function"
    assert symbols["shapes.helper"].text.startswith("def helper(")
    area = symbols["shapes.Shape.area"]
    assert area.kind == "method"
    assert area.context == "class Shape(Base):"
    assert area.text.startswith("    def area(self)")  # indentation kept
    perimeter = symbols["shapes.Shape.perimeter"]
    assert perimeter.text.startswith("    # The perimeter")  # comment + decorator attached
    assert "@property" in perimeter.text
    module = chunks[0]
    assert module.kind == "module" and module.symbol == "shapes"
    assert "import math" in module.text and 'UNIT = "cm"' in module.text  # small statements merged


def test_class_that_fits_is_one_chunk(tokenizer):
    chunks = chunk_code(PYTHON, tokenizer, 256, path="shapes.py")
    classes = [c for c in chunks if c.kind == "class"]
    assert len(classes) == 1 and classes[0].text.endswith("return total")


SAMPLES = {
    "javascript": (
        "app.js",
        "import x from 'y';\nfunction run(a) { return a + 1; }\n"
        "const twice = (v) => v * 2;\nclass Box extends Base {\n"
        "  constructor(v) { super(); this.v = v; }\n"
        "  open(key) { return this.locks[key] || this.fallback(key, this.v); }\n}\n",
        {("app.run", "function"), ("app.twice", "function"), ("app.Box.open", "method")},
    ),
    "typescript": (
        "svc.ts",
        "interface Repo { get(id: string): Item; }\nexport class Service implements Repo {\n"
        "  private cache = new Map<string, Item>();\n"
        "  get(id: string): Item { return this.cache.get(id) ?? this.load(id); }\n"
        "  load(id: string): Item { throw new Error(`missing ${id}`); }\n}\n",
        {("svc.Repo", "interface"), ("svc.Service.get", "method"), ("svc.Service.load", "method")},
    ),
    "tsx": (
        "view.tsx",
        "export const App = (p: Props) => <div className='app'>{p.children}</div>;\n"
        "function Item({ label }: { label: string }) { return <li>{label}</li>; }\n",
        {("view.App", "function"), ("view.Item", "function")},
    ),
    "go": (
        "server.go",
        'package web\n\nimport "net/http"\n\n// Server serves.\ntype Server struct {\n'
        "\tmux *http.ServeMux\n\taddr string\n}\n\n"
        "func (s *Server) Handle(w http.ResponseWriter, r *http.Request) {\n"
        '\ts.mux.ServeHTTP(w, r)\n\tw.Header().Set("X-Served-By", s.addr)\n}\n\n'
        "func New(addr string) *Server { return &Server{addr: addr} }\n",
        {("web.Server", "struct"), ("web.Server.Handle", "method"), ("web.New", "function")},
    ),
    "java": (
        "Store.java",
        "package com.acme;\n\npublic class Store extends Base {\n  private int size;\n"
        "  public Store(int size) { this.size = size; }\n"
        "  public int capacity() { return size * 2 + overhead(size, 3); }\n}\n",
        {("com.acme.Store.Store", "constructor"), ("com.acme.Store.capacity", "method")},
    ),
    "rust": (
        "lib.rs",
        "use std::fmt;\n\n#[derive(Debug)]\npub struct Point { x: i32, y: i32 }\n\n"
        "impl fmt::Display for Point {\n"
        '    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result { write!(f, "{}", self.x) }\n'
        "}\n\nfn origin() -> Point { Point { x: 0, y: 0 } }\n",
        {("lib.Point", "struct"), ("lib.Point.fmt", "method"), ("lib.origin", "function")},
    ),
    "c": (
        "util.c",
        "#include <stdio.h>\n\nstruct pair { int a; int b; };\n\n"
        "static int add(int a, int b) { return a + b; }\n\n"
        'int main(void) { printf("%d\\n", add(1, 2)); return 0; }\n',
        {("pair", "struct"), ("add", "function"), ("main", "function")},
    ),
    "cpp": (
        "shape.cpp",
        "#include <vector>\nnamespace geo {\nclass Poly : public Shape {\n public:\n"
        "  double area() const { return compute_area(points_, points_.size()); }\n"
        "  std::vector<Point> points_;\n};\n}\n"
        "void geo::Poly::scale(double k) { for (auto& p : points_) p *= k; }\n",
        {("geo.Poly.area", "method"), ("geo.Poly.scale", "method")},
    ),
    "ruby": (
        "greeter.rb",
        'module Greeting\n  class Greeter\n    def greet(name)\n      "Hello, #{name}"\n'
        "    end\n  end\nend\n",
        {("Greeting", "module")},
    ),
    "csharp": (
        "Calc.cs",
        "namespace Acme {\n  public class Calc {\n"
        "    public int Add(int a, int b) { return a + b; }\n"
        "    public int Mul(int a, int b) { return a * b * Factor(a, b, 7); }\n  }\n}\n",
        {("Acme.Calc.Add", "method"), ("Acme.Calc.Mul", "method")},
    ),
    "bash": (
        "run.sh",
        "#!/bin/bash\nset -e\nbuild() { make all; }\nfunction deploy { scp out host:; }\n",
        {("build", "function"), ("deploy", "function")},
    ),
    "php": (
        "user.php",
        "<?php\nfunction slug($s) { return strtolower($s); }\n"
        "class User { public function name() { return $this->first . ' ' . $this->last; } }\n",
        {("slug", "function"), ("User", "class")},
    ),
}


@pytest.mark.parametrize("language", sorted(SAMPLES))
def test_languages_by_extension(tokenizer, check_chunks, language):
    path, source, expected = SAMPLES[language]
    assert resolve_language(path=path) == language
    chunks = chunk_document(source, tokenizer, 40, path=path)
    check_chunks(chunks, source, 40)
    assert expected <= {(c.symbol, c.kind) for c in chunks}
    assert "lines" not in {c.kind for c in chunks}


def test_method_carries_enclosing_headers(tokenizer):
    path, source, _ = SAMPLES["csharp"]
    mul = by_symbol(chunk_document(source, tokenizer, 40, path=path))["Acme.Calc.Mul"]
    assert mul.context == "namespace Acme\npublic class Calc"


def test_go_method_context_is_its_receiver_type(tokenizer):
    path, source, _ = SAMPLES["go"]
    handle = by_symbol(chunk_document(source, tokenizer, 80, path=path))["web.Server.Handle"]
    assert handle.context == "type Server struct {"


def test_language_name_overrides_extension(tokenizer):
    source = "func main() {}\n"
    chunks = chunk_document(source, tokenizer, 32, language="golang", path="notes.txt")
    assert [(c.kind, c.symbol) for c in chunks] == [("function", "main")]


def test_oversized_function_splits_at_statement_boundaries(tokenizer, check_chunks):
    body = "".join(f"    value_{i} = compute(value_{i - 1}, {i})\n" for i in range(1, 80))
    source = f"def big(value_0):\n{body}    return value_79\n\n\ndef small():\n    return 1\n"
    chunks = chunk_code(source, tokenizer, 64, path="m.py")
    check_chunks(chunks, source, 64)
    pieces = [c for c in chunks if c.symbol == "m.big"]
    assert len(pieces) > 3 and {c.kind for c in pieces} == {"function"}
    assert all(c.start_char == 0 or source[c.start_char - 1] == "\n" for c in pieces)
    assert all(c.context == "def big(value_0):" for c in pieces[1:])
    assert by_symbol(chunks)["m.small"].text == "def small():\n    return 1"


def test_huge_single_line_is_cut_into_token_windows(tokenizer, check_chunks):
    source = "x = [" + ", ".join(f"item{i}" for i in range(2000)) + "]\n"
    for language in ("python", "cobol"):
        chunks = chunk_code(source, tokenizer, 50, language=language)
        check_chunks(chunks, source, 50)
        assert len(chunks) > 20


def test_parse_errors_fall_back_to_line_windows_locally(tokenizer, check_chunks):
    broken = "def broken(:\n    pass\n" * 30
    source = f"def ok():\n    return 1\n\n{broken}\n\ndef fine(x):\n    return x\n"
    chunks = chunk_code(source, tokenizer, 40, path="bad.py")
    check_chunks(chunks, source, 40)
    assert [c.kind for c in chunks if "broken" in c.text] == ["lines"] * 5
    assert all(c.text.endswith("pass") for c in chunks if c.kind == "lines")  # whole lines
    assert by_symbol(chunks)["bad.ok"].kind == by_symbol(chunks)["bad.fine"].kind == "function"


def test_unknown_language_uses_line_windows(tokenizer, check_chunks):
    source = "\n".join(f"key_{i}: value {i} # note" for i in range(200))
    chunks = chunk_document(source, tokenizer, 64, path="config.yaml")
    check_chunks(chunks, source, 64)
    assert {c.kind for c in chunks} == {"lines"}


def test_non_ascii_source_keeps_exact_character_offsets(tokenizer, check_chunks):
    source = (
        "GREETING = 'héllo wörld 😀 日本語'\n\n\n"
        "def première(x):\n    return f'{x} → ✓'\n\n\n"
        "def second():\n    return 'ok'\n"
    )
    chunks = chunk_code(source, tokenizer, 24, path="u.py")
    check_chunks(chunks, source, 24)
    assert by_symbol(chunks)["u.première"].text == "def première(x):\n    return f'{x} → ✓'"
    assert by_symbol(chunks)["u.second"].text == "def second():\n    return 'ok'"


# --- even pieces, small runs joined ---------------------------------------------------------


@pytest.mark.parametrize("max_tokens", [64, 96, 256])
def test_split_pieces_are_even(tokenizer, check_chunks, max_tokens):
    """An oversized function is cut into even pieces, not full ones plus a lone leftover."""
    for statements in (6, 14, 26, 41):
        source = _function("big", statements) + "\n"
        chunks = chunk_code(source, tokenizer, max_tokens, path="m.py")
        check_chunks(chunks, source, max_tokens)
        if len(chunks) > 1:
            counts = [c.token_count for c in chunks]
            assert min(counts) >= max_tokens // 3, counts
            assert all(c.end_line > c.start_line for c in chunks), counts


def test_split_piece_count_stays_minimal(tokenizer):
    """Evening out never costs a piece: a body that greedy packing fits in two stays in two."""
    body = "".join(f"    value_{i} = compute(value_{i - 1}, {i})\n" for i in range(1, 8))
    source = f"def check_output(value_0):\n{body}    return value_7\n"
    chunks = chunk_code(source, tokenizer, 96, path="m.py")  # greedy: 96 tokens + the return
    assert len(chunks) == 2
    assert chunks[1].text.strip() != "return value_7"
    assert abs(chunks[0].token_count - chunks[1].token_count) <= 20


def test_line_windows_are_even(tokenizer, check_chunks):
    source = "\n".join(f"key_{i}: value {i} # note" for i in range(57))  # greedy: 8 full + 1
    chunks = chunk_document(source, tokenizer, 64, path="config.yaml")
    check_chunks(chunks, source, 64)
    assert len(chunks) == 9 and min(c.token_count for c in chunks) >= 64 // 2


RUNS = textwrap.dedent(
    """\
    import os


    def first(a):
        return a + 1


    Coroutine.register(coroutine)
    _SYSTEM_VERSION = None


    def second(b):
        return b * 2


    TABLE = {"alpha": 1, "beta": 2, "gamma": 3, "delta": 4, "epsilon": 5, "zeta": 6, "eta": 7}


    def third(c):
        return c - 3


    if __name__ == "__main__":
        third(1)
    """
)


def test_small_statement_runs_join_a_definition(tokenizer, check_chunks):
    chunks = chunk_code(RUNS, tokenizer, 256, path="m.py")
    check_chunks(chunks, RUNS, 256)
    assert [(c.symbol, c.kind) for c in chunks] == [
        ("m", "module"),
        ("m.first", "function"),
        ("m.second", "function"),
        ("m", "module"),
        ("m.third", "function"),
    ]
    assert chunks[0].text == "import os"  # a file's leading statements stay apart
    assert chunks[2].text.startswith("Coroutine.register(coroutine)\n_SYSTEM_VERSION = None")
    assert chunks[2].text.endswith("return b * 2")  # a small run joins the next definition
    assert chunks[3].text.startswith("TABLE = ")  # a run over the limit stays alone
    assert chunks[4].text.endswith("third(1)")  # after the last definition: joins that one


def test_small_run_joins_for_other_languages(tokenizer, check_chunks):
    source = (
        "function first(a) {\n  return a + 1;\n}\n\nconst LIMIT = 10;\n\n"
        "function second(b) {\n  return b * LIMIT;\n}\n"
    )
    chunks = chunk_code(source, tokenizer, 128, path="m.js")
    check_chunks(chunks, source, 128)
    assert [c.symbol for c in chunks] == ["m.first", "m.second"]
    assert chunks[1].text.startswith("const LIMIT = 10;")


def test_class_header_joins_first_member_of_a_split_class(tokenizer, check_chunks):
    methods = "\n\n".join(textwrap.indent(_function(f"m{i}", 8), "    ") for i in range(3))
    source = f"class Bytecode(Base):\n    kind = 'code'\n\n{methods}\n"
    chunks = chunk_code(source, tokenizer, 256, path="dis.py")
    check_chunks(chunks, source, 256)
    assert [(c.symbol, c.kind) for c in chunks] == [
        ("dis.Bytecode.m0", "method"),
        ("dis.Bytecode.m1", "method"),
        ("dis.Bytecode.m2", "method"),
    ]
    assert chunks[0].text.startswith("class Bytecode(Base):\n    kind = 'code'\n\n    def m0(")
    assert chunks[0].context == ""  # the header is in the text: not repeated as context
    assert all(c.context == "class Bytecode(Base):" for c in chunks[1:])


def test_class_header_over_the_limit_stays_apart(tokenizer, check_chunks):
    methods = "\n\n".join(textwrap.indent(_function(f"m{i}", 8), "    ") for i in range(3))
    table = ", ".join(f"'key_{i}': {i}" for i in range(12))
    source = f"class Bytecode(Base):\n    table = {{{table}}}\n\n{methods}\n"
    chunks = chunk_code(source, tokenizer, 256, path="dis.py")
    check_chunks(chunks, source, 256)
    assert (chunks[0].symbol, chunks[0].kind) == ("dis.Bytecode", "class")
    assert chunks[1].text.startswith("    def m0(")


def test_joined_run_never_depends_on_the_definition_size(tokenizer, check_chunks):
    """Whether a run joins depends on the run alone: a definition that fits alone but not with
    its run is split with the run in its first piece, so growing it never strands the run
    (which would move a boundary outside the edited definition)."""
    for statements in range(1, 16):
        source = f"def a():\n    return 0\n\n\nLIMIT = 10\n\n\n{_function('f', statements)}\n"
        chunks = chunk_code(source, tokenizer, 96, path="m.py")
        check_chunks(chunks, source, 96)
        holder = next(c for c in chunks if "LIMIT" in c.text)
        assert holder.symbol == "m.f" and "def f(" in holder.text


# --- stability under local edits -----------------------------------------------------------


def _function(name: str, statements: int, seed: int = 0) -> str:
    lines = [
        f"    step_{i} = transform(step_{i - 1}, {seed + i}, 'label {i}')"
        for i in range(1, statements)
    ]
    return "\n".join([f"def {name}(step_0):", *lines, f"    return step_{statements - 1}"])


def _module(functions: list[str]) -> tuple[str, list[tuple[int, int]]]:
    header = "import os\nimport sys\n\nLIMIT = 10\n\n\n"
    source, spans = header, []
    for function in functions:
        spans.append((len(source), len(source) + len(function)))
        source += function + "\n\n\nCONSTANT = 1\n\n\n"
    source += "class Holder:\n    def method(self):\n        return LIMIT\n"
    return source, spans


def _assert_stable(tokenizer, old_functions: list[str], new_functions: list[str], edited: int):
    old, old_spans = _module(old_functions)
    new, new_spans = _module(new_functions)
    _assert_stable_outside(tokenizer, old, new, old_spans[edited], new_spans[edited])


def _assert_stable_outside(
    tokenizer,
    old: str,
    new: str,
    old_span: tuple[int, int],
    new_span: tuple[int, int],
    max_tokens: int = 96,
) -> None:
    """Chunks off the edited span keep their text and order; those after it shift by the delta."""
    delta = len(new) - len(old)
    old_chunks = chunk_code(old, tokenizer, max_tokens, path="m.py")
    new_chunks = chunk_code(new, tokenizer, max_tokens, path="m.py")

    def outside(chunks: list[Chunk], span: tuple[int, int], shift: int = 0) -> list[tuple]:
        before = [(c.embed_input, c.start_char, c.symbol) for c in chunks if c.end_char <= span[0]]
        after = [
            (c.embed_input, c.start_char + shift, c.symbol)
            for c in chunks
            if c.start_char >= span[1]
        ]
        return [*before, "edit", *after]

    assert outside(new_chunks, new_span) == outside(old_chunks, old_span, delta)


def test_editing_one_function_moves_no_boundary_outside_it(tokenizer):
    sizes = [3, 40, 1, 12, 60, 2]
    old = [_function(f"f{i}", n) for i, n in enumerate(sizes)]
    for edited, new_size in ((1, 55), (4, 5), (3, 13), (2, 90)):
        new = list(old)
        new[edited] = _function(f"f{edited}", new_size, seed=7)
        _assert_stable(tokenizer, old, new, edited)


def test_editing_one_method_moves_no_boundary_outside_it(tokenizer):
    def methods(sizes: list[int]) -> list[str]:
        return [textwrap.indent(_function(f"m{i}", n), "    ") for i, n in enumerate(sizes)]

    def source(bodies: list[str]) -> str:
        return "class Big(Base):\n    kind = 'big'\n\n" + "\n\n".join(bodies) + "\n"

    old_bodies = methods([8, 20, 6, 30])
    new_bodies = [
        *old_bodies[:2],
        textwrap.indent(_function("m2", 25, seed=9), "    "),
        old_bodies[3],
    ]
    old, new = source(old_bodies), source(new_bodies)
    start = old.index("    def m2")
    new_start = new.index("    def m2")
    old_span = (start, start + len(old_bodies[2]))
    new_span = (new_start, new_start + len(new_bodies[2]))
    _assert_stable_outside(tokenizer, old, new, old_span, new_span)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    sizes=st.lists(st.integers(1, 50), min_size=2, max_size=6),
    data=st.data(),
)
def test_local_edit_stability_property(tokenizer, sizes, data):
    edited = data.draw(st.integers(0, len(sizes) - 1))
    new_size = data.draw(st.integers(1, 50))
    old = [_function(f"f{i}", n) for i, n in enumerate(sizes)]
    new = list(old)
    new[edited] = _function(f"f{edited}", new_size, seed=3)
    _assert_stable(tokenizer, old, new, edited)


RUN_STATEMENTS = [
    "LIMIT = 10",
    "Registry.register(handler)",
    "__and__ = intersection",
    "TABLE = {'a': 1, 'b': [1, 2, 3], 'c': 'a longer value that takes the run over the limit'}",
]


def _mixed_module(
    units: list[tuple[str, int, int]], runs: list[list[int]], count, max_tokens: int
) -> tuple[str, list[tuple[tuple[int, int], tuple[int, int], bool]]]:
    """Functions and classes (one method plus a small one) with statement runs between them.

    For each unit: the span of its function or method, the span of the whole definition, and
    whether the class alone is over budget (then its other chunks must not move either).
    """
    source, spans = "import os\nimport sys\n\n\n", []
    for (kind, size, seed), run in zip(units, runs, strict=True):
        if run:
            source += "\n".join(RUN_STATEMENTS[k] for k in run) + "\n\n\n"
        if kind == "function":
            body = _function(f"f{len(spans)}", size, seed)
            spans.append(((len(source), len(source) + len(body)), (0, 0), True))
            source += body + "\n\n\n"
            continue
        head = f"class C{len(spans)}(Base):\n    kind = 'c'\n\n"
        method = textwrap.indent(_function(f"m{len(spans)}", size, seed), "    ")
        whole = head + method + "\n\n    def tail(self):\n        return 1"
        start = len(source) + len(head)
        spans.append(
            (
                (start, start + len(method)),
                (len(source), len(source) + len(whole)),
                count(whole) > max_tokens,
            )
        )
        source += whole + "\n\n\n"
    return source + "if __name__ == '__main__':\n    f0(1)\n", spans


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    units=st.lists(
        st.tuples(st.sampled_from(["function", "class"]), st.integers(1, 30), st.just(0)),
        min_size=2,
        max_size=5,
    ),
    max_tokens=st.sampled_from([48, 96, 256]),
    data=st.data(),
)
def test_local_edit_stability_with_runs_and_classes(
    tokenizer, count_tokens, units, max_tokens, data
):
    """Edits keep every chunk outside the edited unit, small runs and class headers included:
    the function itself, or its method while the class stays split, else the whole class."""
    runs = data.draw(
        st.lists(st.lists(st.integers(0, 3), max_size=3), min_size=len(units), max_size=len(units))
    )
    edited = data.draw(st.integers(0, len(units) - 1))
    new_units = list(units)
    new_units[edited] = (units[edited][0], data.draw(st.integers(1, 30)), 3)
    old, old_spans = _mixed_module(units, runs, count_tokens, max_tokens)
    new, new_spans = _mixed_module(new_units, runs, count_tokens, max_tokens)
    (old_inner, old_whole, old_split), (new_inner, new_whole, new_split) = (
        old_spans[edited],
        new_spans[edited],
    )
    inner = old_split and new_split
    _assert_stable_outside(
        tokenizer,
        old,
        new,
        old_inner if inner else old_whole,
        new_inner if inner else new_whole,
        max_tokens,
    )


# --- property: nothing dropped, nothing over budget ----------------------------------------

CODE_LINES = [
    "def f(x):",
    "    return x",
    "class A(B):",
    "    pass",
    "if x:",
    "else:",
    "x = 1",
    "{",
    "}",
    "# comment",
    '"""',
    "\t\t",
    "    s = 'é😀日本'",
    "y = [" + ", ".join(str(i) for i in range(200)) + "]",
    "func main() {",
    "@decorator",
    "    def m(self): return self.x",
    "",
    "",
]

code_sources = st.lists(
    st.one_of(st.sampled_from(CODE_LINES), st.text(max_size=30)), max_size=40
).map("\n".join)


@SETTINGS
@given(
    source=code_sources,
    language=st.sampled_from(["python", "javascript", "go", "c", "unknown"]),
    max_tokens=st.integers(6, 64),
)
def test_code_chunks_cover_every_line_within_budget(
    tokenizer, check_chunks, source, language, max_tokens
):
    chunks = chunk_code(source, tokenizer, max_tokens, language=language)
    check_chunks(chunks, source, max_tokens)
    covered = {line for c in chunks for line in range(c.start_line, c.end_line + 1)}
    blank = {i + 1 for i, line in enumerate(source.split("\n")) if not line.strip()}
    assert covered | blank >= set(range(1, source.count("\n") + 2))


@SETTINGS
@given(sizes=st.lists(st.integers(1, 30), min_size=1, max_size=5), max_tokens=st.integers(8, 80))
def test_generated_python_within_budget(tokenizer, check_chunks, sizes, max_tokens):
    source, _ = _module([_function(f"f{i}", n) for i, n in enumerate(sizes)])
    check_chunks(chunk_code(source, tokenizer, max_tokens, path="m.py"), source, max_tokens)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    source=st.one_of(code_sources, st.sampled_from([PYTHON, *(s for _, s, _ in SAMPLES.values())])),
    language=st.sampled_from(["python", "go", "java", "unknown"]),
    max_tokens=st.integers(8, 64),
)
def test_budget_holds_for_a_non_additive_tokenizer(
    byte_bpe_tokenizer, check_bpe_chunks, source, language, max_tokens
):
    chunks = chunk_code(source, byte_bpe_tokenizer, max_tokens, language=language)
    check_bpe_chunks(chunks, source, max_tokens)
