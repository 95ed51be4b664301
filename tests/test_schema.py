"""The committed stubs match the protos, and the migrations match the SQLAlchemy models."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from grpc_tools import protoc
from sqlalchemy import create_engine

from embedsvc.storage.sql.database import head_revision, migrate
from embedsvc.storage.sql.schema import Base, is_model_object

ROOT = Path(__file__).resolve().parents[1]


def test_committed_stubs_match_protos(tmp_path: Path):
    protos = sorted((ROOT / "protos" / "embedsvc" / "v1").glob("*.proto"))
    include = str(Path(protoc.__file__).parent / "_proto")
    status = protoc.main([
        "grpc_tools.protoc", f"-I{ROOT / 'protos'}", f"-I{include}",
        f"--python_out={tmp_path}", f"--grpc_python_out={tmp_path}", f"--pyi_out={tmp_path}",
        *map(str, protos),
    ])
    assert status == 0
    generated = sorted(p.name for p in (tmp_path / "embedsvc" / "v1").iterdir())
    assert generated, "protoc generated nothing"
    for name in generated:
        committed = ROOT / "embedsvc" / "v1" / name
        assert committed.exists(), f"{name} is not committed; run `make protos`"
        assert committed.read_text() == (tmp_path / "embedsvc" / "v1" / name).read_text(), (
            f"embedsvc/v1/{name} is out of date with protos/; run `make protos`"
        )


def test_migrations_match_models(database_url: str):
    engine = create_engine(database_url)
    assert migrate(engine) == head_revision()
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"include_object": is_model_object})
        differences = compare_metadata(context, Base.metadata)
    engine.dispose()
    assert differences == []


def test_migrate_is_idempotent(tmp_path: Path):
    engine = create_engine(f"sqlite:///{tmp_path / 'x.db'}")
    assert migrate(engine) == migrate(engine) == head_revision()
