"""Which tree-sitter grammar parses a file, and which of its nodes are definitions.

Grammars come from the per-language PyPI wheels (``tree-sitter-python`` ...), imported lazily so
that a missing wheel only disables its language. Bundles that download grammars at run time are
deliberately not used: the service runs offline.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache

from tree_sitter import Language, Node, Parser

# Kinds whose functions are methods, and whose header is worth repeating for a method's chunk.
CLASS_KINDS = frozenset(
    {"class", "struct", "interface", "trait", "impl", "enum", "union", "record"}
)

_JS_FUNCTION_VALUES = frozenset(
    {"arrow_function", "function_expression", "function", "generator_function"}
)
_JS_CLASS_VALUES = frozenset({"class", "class_expression"})


@dataclass(frozen=True)
class LanguageSpec:
    """How to parse one language and read its definitions.

    ``definitions`` maps a node type to the chunk kind it produces; ``wrappers`` are node types
    that enclose a definition and belong to it (decorators, ``export``, ``template<...>``);
    ``prefixes`` are siblings that belong to the next definition (Rust ``#[attr]``); ``bindings``
    are declarations that name a function value (``const f = () => ...``); ``symbol_root`` says
    where the first segment of a symbol path comes from: the file name, the package clause, or
    nowhere (languages with explicit namespaces).
    """

    name: str
    module: str
    entry: str = "language"
    definitions: Mapping[str, str] = field(default_factory=dict)
    wrappers: frozenset[str] = frozenset()
    prefixes: frozenset[str] = frozenset()
    bindings: frozenset[str] = frozenset()
    symbol_root: str = "file"


_PY = LanguageSpec(
    "python",
    "tree_sitter_python",
    definitions={"function_definition": "function", "class_definition": "class"},
    wrappers=frozenset({"decorated_definition"}),
)
_JS_DEFS = {
    "function_declaration": "function",
    "generator_function_declaration": "function",
    "class_declaration": "class",
    "method_definition": "method",
}
_TS_DEFS = {
    **_JS_DEFS,
    "abstract_class_declaration": "class",
    "interface_declaration": "interface",
    "enum_declaration": "enum",
    "type_alias_declaration": "type",
    "internal_module": "namespace",
    "module": "module",
}
_JS = LanguageSpec(
    "javascript",
    "tree_sitter_javascript",
    definitions=_JS_DEFS,
    wrappers=frozenset({"export_statement"}),
    bindings=frozenset({"lexical_declaration", "variable_declaration", "field_definition"}),
)
_TS_WRAPPERS = frozenset({"export_statement", "ambient_declaration", "expression_statement"})
_TS_BINDINGS = frozenset({"lexical_declaration", "variable_declaration", "public_field_definition"})
_TS = LanguageSpec(
    "typescript",
    "tree_sitter_typescript",
    "language_typescript",
    _TS_DEFS,
    _TS_WRAPPERS,
    bindings=_TS_BINDINGS,
)
_TSX = LanguageSpec(
    "tsx", "tree_sitter_typescript", "language_tsx", _TS_DEFS, _TS_WRAPPERS, bindings=_TS_BINDINGS
)
_GO = LanguageSpec(
    "go",
    "tree_sitter_go",
    definitions={
        "function_declaration": "function",
        "method_declaration": "method",
        "type_declaration": "type",
    },
    symbol_root="package",
)
_JAVA = LanguageSpec(
    "java",
    "tree_sitter_java",
    definitions={
        "class_declaration": "class",
        "interface_declaration": "interface",
        "annotation_type_declaration": "interface",
        "enum_declaration": "enum",
        "record_declaration": "record",
        "method_declaration": "method",
        "constructor_declaration": "constructor",
        "compact_constructor_declaration": "constructor",
    },
    symbol_root="package",
)
_RUST = LanguageSpec(
    "rust",
    "tree_sitter_rust",
    definitions={
        "function_item": "function",
        "struct_item": "struct",
        "enum_item": "enum",
        "union_item": "union",
        "trait_item": "trait",
        "impl_item": "impl",
        "mod_item": "module",
        "macro_definition": "macro",
    },
    prefixes=frozenset({"attribute_item"}),
)
_C_DEFS = {
    "function_definition": "function",
    "struct_specifier": "struct",
    "union_specifier": "union",
    "enum_specifier": "enum",
    "type_definition": "type",
}
_C = LanguageSpec("c", "tree_sitter_c", definitions=_C_DEFS, symbol_root="none")
_CPP = LanguageSpec(
    "cpp",
    "tree_sitter_cpp",
    definitions={**_C_DEFS, "class_specifier": "class", "namespace_definition": "namespace"},
    wrappers=frozenset({"template_declaration"}),
    symbol_root="none",
)
_RUBY = LanguageSpec(
    "ruby",
    "tree_sitter_ruby",
    definitions={
        "method": "method",
        "singleton_method": "method",
        "class": "class",
        "module": "module",
    },
    symbol_root="none",
)
_CSHARP = LanguageSpec(
    "csharp",
    "tree_sitter_c_sharp",
    definitions={
        "class_declaration": "class",
        "struct_declaration": "struct",
        "interface_declaration": "interface",
        "enum_declaration": "enum",
        "record_declaration": "record",
        "method_declaration": "method",
        "constructor_declaration": "constructor",
        "local_function_statement": "function",
        "namespace_declaration": "namespace",
    },
    symbol_root="none",
)
_BASH = LanguageSpec(
    "bash", "tree_sitter_bash", definitions={"function_definition": "function"}, symbol_root="none"
)
_PHP = LanguageSpec(
    "php",
    "tree_sitter_php",
    "language_php",
    definitions={
        "function_definition": "function",
        "class_declaration": "class",
        "interface_declaration": "interface",
        "trait_declaration": "trait",
        "enum_declaration": "enum",
        "method_declaration": "method",
        "namespace_definition": "namespace",
    },
    symbol_root="none",
)

LANGUAGES: dict[str, LanguageSpec] = {
    spec.name: spec
    for spec in (_PY, _JS, _TS, _TSX, _GO, _JAVA, _RUST, _C, _CPP, _RUBY, _CSHARP, _BASH, _PHP)
}

_ALIASES = {
    "py": "python",
    "python3": "python",
    "js": "javascript",
    "jsx": "javascript",
    "node": "javascript",
    "ts": "typescript",
    "golang": "go",
    "rs": "rust",
    "c++": "cpp",
    "cxx": "cpp",
    "rb": "ruby",
    "c#": "csharp",
    "cs": "csharp",
    "c_sharp": "csharp",
    "sh": "bash",
    "shell": "bash",
    "zsh": "bash",
}

# Languages chunked as prose rather than code.
TEXT_LANGUAGES = frozenset(
    {"text", "plain", "plaintext", "markdown", "md", "rst", "restructuredtext"}
)

EXTENSIONS: dict[str, str] = {
    ".py": "python",
    ".pyi": "python",
    ".js": "javascript",
    ".mjs": "javascript",
    ".cjs": "javascript",
    ".jsx": "javascript",
    ".ts": "typescript",
    ".mts": "typescript",
    ".cts": "typescript",
    ".tsx": "tsx",
    ".go": "go",
    ".java": "java",
    ".rs": "rust",
    ".c": "c",
    ".h": "c",
    ".cc": "cpp",
    ".cpp": "cpp",
    ".cxx": "cpp",
    ".c++": "cpp",
    ".hh": "cpp",
    ".hpp": "cpp",
    ".hxx": "cpp",
    ".rb": "ruby",
    ".cs": "csharp",
    ".sh": "bash",
    ".bash": "bash",
    ".zsh": "bash",
    ".php": "php",
    # Code or data without a grammar here: chunked by line windows, never as prose.
    ".kt": "kotlin",
    ".kts": "kotlin",
    ".swift": "swift",
    ".scala": "scala",
    ".lua": "lua",
    ".sql": "sql",
    ".json": "json",
    ".yaml": "yaml",
    ".yml": "yaml",
    ".toml": "toml",
    ".xml": "xml",
    ".html": "html",
    ".css": "css",
}


def normalize_language(name: str) -> str:
    """Canonical language name for a user-supplied one ("Py", "c++", "golang")."""
    key = name.strip().lower()
    return _ALIASES.get(key, key)


def language_for_path(path: str) -> str | None:
    """Language implied by a file extension, or None for prose and unknown files."""
    return EXTENSIONS.get(os.path.splitext(path)[1].lower())


@cache
def grammar(name: str) -> Language | None:
    """The compiled grammar of ``name``, or None when unknown or its wheel is not installed."""
    spec = LANGUAGES.get(name)
    if spec is None:
        return None
    try:
        module = importlib.import_module(spec.module)
    except ImportError:
        return None
    return Language(getattr(module, spec.entry)())


def parser_for(name: str) -> Parser | None:
    """A fresh parser (parsers are not shared, so callers may run in threads)."""
    language = grammar(name)
    return Parser(language) if language is not None else None


@dataclass(frozen=True)
class Definition:
    """A definition found at a node: the node that owns its body, its kind, name and scope."""

    node: Node
    kind: str
    name: str
    scope: str = ""


def find_definition(node: Node, spec: LanguageSpec) -> Definition | None:
    """The definition ``node`` stands for (through wrappers and bindings), if any."""
    kind = spec.definitions.get(node.type)
    if kind is not None:
        return _direct_definition(node, kind) if _is_complete(node) else None
    if node.type in spec.wrappers:
        for child in node.named_children:
            found = find_definition(child, spec)
            if found is not None:
                return found
        return None
    if node.type in spec.bindings:
        return _bound_definition(node)
    return None


def _is_complete(node: Node) -> bool:
    """Types, namespaces and modules count only with a body (not ``struct S;`` or ``mod m;``)."""
    if node.type not in _NEEDS_BODY:
        return True
    body = node.child_by_field_name("body")
    if body is not None:
        return True
    inner = node.child_by_field_name("type")
    return inner is not None and inner.child_by_field_name("body") is not None


_NEEDS_BODY = frozenset(
    {
        "struct_specifier",
        "union_specifier",
        "enum_specifier",
        "class_specifier",
        "type_definition",
        "mod_item",
        "namespace_definition",
    }
)


def _direct_definition(node: Node, kind: str) -> Definition:
    if node.type == "type_declaration":
        return _go_type(node)
    name = _name_of(node)
    scope = _go_receiver(node) if node.type == "method_declaration" else ""
    if "::" in name:
        scope, _, name = name.rpartition("::")
        scope = scope.replace("::", ".")
        kind = "method" if kind == "function" else kind
    return Definition(node, kind, name, scope)


def _text(node: Node | None) -> str:
    if node is None or node.text is None:
        return ""
    return node.text.decode("utf-8", "replace")


def _name_of(node: Node) -> str:
    """A definition's name: its ``name`` field, else the innermost declarator (C, C++)."""
    if node.type == "impl_item":
        return _text(node.child_by_field_name("type")).split("<")[0]
    name = node.child_by_field_name("name")
    if name is not None:
        return _text(name).strip("\"'`")
    declarator = node.child_by_field_name("declarator")
    while declarator is not None:
        inner = declarator.child_by_field_name("declarator")
        if inner is None:
            return _text(declarator)
        declarator = inner
    return ""


def _go_type(node: Node) -> Definition:
    """``type T struct {...}``: kind from the underlying type, name from the first spec."""
    spec = next((c for c in node.named_children if c.type in ("type_spec", "type_alias")), None)
    if spec is None:
        return Definition(node, "type", "")
    underlying = spec.child_by_field_name("type")
    kind = {"struct_type": "struct", "interface_type": "interface"}.get(
        underlying.type if underlying is not None else "", "type"
    )
    return Definition(node, kind, _text(spec.child_by_field_name("name")))


def _go_receiver(node: Node) -> str:
    """Receiver type of a Go method, without pointer or type parameters: ``(s *Srv[T])`` -> Srv."""
    receiver = node.child_by_field_name("receiver")
    if receiver is None:
        return ""
    for param in receiver.named_children:
        rtype = param.child_by_field_name("type")
        if rtype is not None:
            return _text(rtype).lstrip("*").split("[")[0].strip()
    return ""


def _bound_definition(node: Node) -> Definition | None:
    """``const f = () => ...`` / ``handler = function () {}``: a function or class by binding."""
    declarators = [c for c in node.named_children if c.type == "variable_declarator"]
    target = declarators[0] if len(declarators) == 1 else node
    value = target.child_by_field_name("value")
    if value is None:
        return None
    if value.type in _JS_FUNCTION_VALUES:
        kind = "function"
    elif value.type in _JS_CLASS_VALUES:
        kind = "class"
    else:
        return None
    name = target.child_by_field_name("name") or target.child_by_field_name("property")
    return Definition(value, kind, _text(name))


def module_symbol(root: Node, spec: LanguageSpec, path: str | None) -> str:
    """First segment of every symbol path: the package (Go, Java) or the module file's name."""
    if spec.symbol_root == "package":
        for child in root.named_children:
            if child.type in ("package_clause", "package_declaration"):
                words = _text(child).replace(";", " ").split()
                return words[-1] if len(words) > 1 else ""
        return ""
    if spec.symbol_root == "file" and path:
        stem = os.path.splitext(os.path.basename(path))[0]
        if stem in ("__init__", "index", "mod"):
            stem = os.path.basename(os.path.dirname(path)) or stem
        return stem
    return ""
