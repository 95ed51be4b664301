"""Every function or method whose code fits the budget lies inside one chunk, whatever doc
comment sits above it, in every supported language, at budgets 128 and 256."""

from __future__ import annotations

import itertools

import pytest

from embedsvc.chunking import chunk_document
from embedsvc.chunking.languages import LANGUAGES, find_definition, parser_for
from embedsvc.chunking.tokens import TokenCounter

# (comment lines, body statements): comments from none to several windows, bodies from tiny
# to over any budget here, so every pairing of "fits with its comment", "fits alone" and
# "does not fit" occurs at both budgets.
SHAPES = list(itertools.product((0, 3, 12, 40), (2, 9, 24, 60)))
WORDS = ["return", "the", "parsed", "value", "unless", "the", "cache", "already", "holds",
         "a", "fresh", "copy", "of", "it"]


def comment_text(n: int, i: int) -> list[str]:
    return [" ".join(WORDS[(i + k) % len(WORDS):] + WORDS[:(i + k) % len(WORDS)])
            for k in range(n)]


# language -> (path, file head, file tail, render(i, comment lines, statements) -> text,
# indent of members). Each render wraps comments in the language's doc-comment syntax.
def _python(i, comments, statements):
    body = [f"    x = x * {k} + a" for k in range(statements)]
    return "".join(f"    # {c}\n" for c in comments) + (
        f"    def f{i}(self, a):\n        x = a\n" + "".join(f"    {b}\n" for b in body)
        + "        return x\n\n")


def _braces(signature, comment, statement, ret, indent="  "):
    def render(i, comments, statements):
        head = "".join(f"{indent}{comment} {c}\n" for c in comments)
        body = "".join(f"{indent}  {statement.format(k=k)}\n" for k in range(statements))
        return f"{head}{indent}{signature.format(i=i)} {{\n{body}{indent}  {ret}\n{indent}}}\n\n"
    return render


def _ruby(i, comments, statements):
    head = "".join(f"  # {c}\n" for c in comments)
    body = "".join(f"    x = x * {k} + a\n" for k in range(statements))
    return f"{head}  def f{i}(a)\n    x = a\n{body}    x\n  end\n\n"


def _bash(i, comments, statements):
    head = "".join(f"# {c}\n" for c in comments)
    body = "".join(f"  x=$((x * {k} + 1))\n" for k in range(statements))
    return f"{head}f{i}() {{\n  x=1\n{body}  echo \"$x\"\n}}\n\n"


LANGUAGE_FILES = {
    "python": ("m.py", "class Store:\n", "", _python),
    "javascript": ("m.js", "class Store {\n", "}\n",
                   _braces("f{i}(a)", "//", "a = a * {k} + 1;", "return a;")),
    "typescript": ("m.ts", "class Store {\n", "}\n",
                   _braces("f{i}(a: number): number", "//", "a = a * {k} + 1;", "return a;")),
    "tsx": ("m.tsx", "class Store {\n", "}\n",
            _braces("f{i}(a: number): number", "//", "a = a * {k} + 1;", "return a;")),
    "go": ("m.go", "package m\n\n", "",
           _braces("func F{i}(a int) int", "//", "a = a*{k} + 1", "return a", indent="")),
    "java": ("M.java", "class Store {\n", "}\n",
             _braces("int f{i}(int a)", "///", "a = a * {k} + 1;", "return a;")),
    "rust": ("m.rs", "impl Store {\n", "}\n",
             _braces("fn f{i}(a: i64) -> i64", "///", "let a = a * {k} + 1;", "a")),
    "c": ("m.c", "", "", _braces("int f{i}(int a)", "//", "a = a * {k} + 1;", "return a;",
                                 indent="")),
    "cpp": ("m.cpp", "class Store {\n public:\n", "};\n",
            _braces("int f{i}(int a)", "//", "a = a * {k} + 1;", "return a;")),
    "csharp": ("M.cs", "class Store {\n", "}\n",
               _braces("int F{i}(int a)", "///", "a = a * {k} + 1;", "return a;")),
    "ruby": ("m.rb", "class Store\n", "end\n", _ruby),
    "php": ("m.php", "<?php\nclass Store {\n", "}\n",
            _braces("function f{i}($a)", "//", "$a = $a * {k} + 1;", "return $a;")),
    "bash": ("m.sh", "#!/bin/bash\n", "", _bash),
}


def source_of(language: str) -> str:
    _, head, tail, render = LANGUAGE_FILES[language]
    parts = [render(i, comment_text(c, i), s) for i, (c, s) in enumerate(SHAPES)]
    return head + "".join(parts) + tail


def functions(source: str, language: str) -> list[tuple[int, int]]:
    """(start, end) character spans of every function and method definition."""
    spec = LANGUAGES[language]
    data = source.encode()
    root = parser_for(language).parse(data).root_node
    found, stack = [], [root]
    while stack:
        node = stack.pop()
        definition = find_definition(node, spec)
        if definition is not None and definition.kind in ("function", "method"):
            found.append((len(data[:node.start_byte].decode()), len(data[:node.end_byte].decode())))
            continue
        stack.extend(node.named_children)
    return sorted(found)


def test_every_supported_language_is_covered():
    assert set(LANGUAGE_FILES) == set(LANGUAGES)


@pytest.mark.parametrize("max_tokens", [128, 256])
@pytest.mark.parametrize("language", sorted(LANGUAGE_FILES))
def test_functions_that_fit_stay_whole(tokenizer, check_chunks, language, max_tokens):
    path = LANGUAGE_FILES[language][0]
    source = source_of(language)
    chunks = chunk_document(source, tokenizer, max_tokens, path=path)
    check_chunks(chunks, source, max_tokens)
    counter = TokenCounter(tokenizer)
    spans = functions(source, language)
    assert len(spans) == len(SHAPES), "the sample must parse into its functions"
    checked = 0
    for start, end in spans:
        first = next(c for c in chunks if c.start_char <= start < c.end_char)
        code = source[start:end]
        with_context = f"{first.context}\n{code}" if first.context else code
        if counter.count(with_context) > max_tokens:
            continue  # too big for one chunk: it is split, at statement boundaries
        checked += 1
        assert first.end_char >= end, (
            f"{language} at {max_tokens}: {code.splitlines()[0]!r} is split although it fits"
        )
    assert checked >= len(SHAPES) // 3
