"""The seams hold: SQL lives only in the storage package, FAISS only in its adapter."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PRODUCT = [ROOT / "embedsvc", ROOT / "indexer"]
GENERATED = ROOT / "embedsvc" / "v1"


def imported_modules(path: Path) -> set[str]:
    modules = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            modules.add(node.module)
    return modules


def importers(*prefixes: str) -> set[str]:
    """Product modules (relative paths) that import a module under one of ``prefixes``."""
    found = set()
    for package in PRODUCT:
        for path in package.rglob("*.py"):
            if GENERATED in path.parents:
                continue
            if any(m == p or m.startswith(p + ".") for m in imported_modules(path)
                   for p in prefixes):
                found.add(path.relative_to(ROOT).as_posix())
    return found


def test_only_the_storage_package_speaks_sql():
    outside = {
        path for path in importers("sqlalchemy", "alembic", "embedsvc.storage.sql.schema")
        if not path.startswith("embedsvc/storage/")
    }
    assert outside == set()


def test_only_the_faiss_adapter_imports_faiss():
    assert importers("faiss") == {"embedsvc/storage/faiss_index.py"}


def test_services_know_nothing_of_grpc_or_protobuf():
    services = {path for path in importers("grpc", "google.protobuf", "embedsvc.v1")
                if path.startswith(("embedsvc/services/", "embedsvc/storage/", "embedsvc/types"))}
    assert services == set()
