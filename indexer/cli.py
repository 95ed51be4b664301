"""`indexer`: work on an embedsvc store directly (--data-dir) or through a server (--server)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from embedsvc.errors import EmbedsvcError

app = typer.Typer(help="Batch indexing for embedsvc.", no_args_is_help=True)

DataDir = Annotated[Path, typer.Option(help="Data dir to work on directly (embedded mode)")]
Server = Annotated[
    str | None, typer.Option(help="HOST:PORT of a running embedsvc server (remote mode)")
]


def _collections_embedded(data_dir: Path) -> list[dict]:
    from embedsvc.config import Settings
    from embedsvc.storage.store import Store

    settings = Settings(data_dir=data_dir)
    store = Store(settings.data_dir, settings.resolved_database_url())
    try:
        names = [info.name for info in store.list_collections(limit=None)]
        return [
            {"name": c.name, "model": c.model, "dimensions": c.dimensions,
             "documents": c.document_count, "chunks": c.chunk_count}
            for c in (store.get_collection(name, with_counts=True) for name in names)
        ]
    finally:
        store.close()


def _collections_remote(server: str) -> list[dict]:
    from embedsvc.client import Client

    with Client(server) as client:
        return [
            {"name": c.name, "model": c.model, "dimensions": c.dimensions,
             "documents": c.document_count, "chunks": c.chunk_count}
            for c in client.list_collections()
        ]


@app.command()
def collections(
    data_dir: DataDir = Path("./data"), server: Server = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON only")] = False,
) -> None:
    """List the collections of a store."""
    try:
        rows = _collections_remote(server) if server else _collections_embedded(data_dir)
    except EmbedsvcError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from None
    if as_json:
        sys.stdout.write(json.dumps(rows) + "\n")
        return
    for row in rows:
        typer.echo(f"{row['name']}\t{row['documents']} documents\t{row['chunks']} chunks")


@app.callback()
def main_options() -> None:
    """Index folders and repositories into embedsvc collections."""


def main() -> None:
    app()
