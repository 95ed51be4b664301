"""`embedsvc`: serve the API, migrate the store, rebuild an index."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer

from embedsvc.config import Settings
from embedsvc.errors import EmbedsvcError, InvalidArgument
from embedsvc.ports import Encoder
from embedsvc.types import Backup

app = typer.Typer(help="Embedding and retrieval service for long documents and source code.",
                  no_args_is_help=True)

DataDir = Annotated[
    Path | None, typer.Option(help="Data dir (SQLite + FAISS) [env EMBEDSVC_DATA_DIR]")
]
DatabaseUrl = Annotated[
    str | None, typer.Option(help="SQLAlchemy URL of the SQL store [env EMBEDSVC_DATABASE_URL]")
]
Model = Annotated[str | None, typer.Option(help="Model dir or package [env EMBEDSVC_MODEL]")]


def _settings(**overrides: Any) -> Settings:
    """Environment first, then any flag the user actually gave."""
    given = {key: value for key, value in overrides.items() if value is not None}
    return Settings(**given)


def _logging() -> None:
    logging.basicConfig(
        level=logging.INFO, stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


def _default_encoder(settings: Settings) -> Encoder:
    from embedsvc.encoding.registry import ModelRegistry

    return ModelRegistry.from_settings(settings).get()


def _read_text(path: Path) -> str:
    """A UTF-8 text file, or a clear error (missing, a folder, binary, another encoding)."""
    try:
        data = path.read_bytes()
    except OSError as error:
        _fail(InvalidArgument(f"cannot read {path}: {error.strerror or error}"))
    if b"\x00" in data[:8192]:
        _fail(InvalidArgument(f"{path} is a binary file, not text"))
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        _fail(InvalidArgument(f"{path} is not UTF-8 (byte {error.start}); convert it first"))


def _fail(error: EmbedsvcError) -> NoReturn:
    typer.echo(f"error: {error}", err=True)
    raise typer.Exit(2)


@app.command()
def serve(
    data_dir: DataDir = None,
    host: Annotated[str | None, typer.Option(help="Listen address [env EMBEDSVC_HOST]")] = None,
    port: Annotated[int | None, typer.Option(help="Listen port [env EMBEDSVC_PORT]")] = None,
    database_url: DatabaseUrl = None,
    model: Model = None,
    api_key: Annotated[str | None, typer.Option(help="Require this key [env EMBEDSVC_API_KEY]")]
    = None,
    models: Annotated[list[str] | None, typer.Option(
        "--models", help="More models, NAME=DIR_OR_PACKAGE, repeatable [env EMBEDSVC_MODELS]"
    )] = None,
    metrics_port: Annotated[int | None, typer.Option(
        help="Serve Prometheus metrics on this port [env EMBEDSVC_METRICS_PORT]"
    )] = None,
    http_port: Annotated[int | None, typer.Option(
        help="Serve OpenAI-compatible /v1/embeddings on this port [env EMBEDSVC_HTTP_PORT]"
    )] = None,
    vector_backend: Annotated[str | None, typer.Option(
        help="Where vectors are searched: faiss or milvus [env EMBEDSVC_VECTOR_BACKEND]"
    )] = None,
    milvus_uri: Annotated[str | None, typer.Option(
        help="Milvus server URI; unset = Milvus Lite in the data dir [env EMBEDSVC_MILVUS_URI]"
    )] = None,
) -> None:
    """Start the gRPC server; SIGTERM drains requests and saves indexes."""
    _logging()
    from embedsvc.server.app import Server

    named = None
    if models:
        pairs = [item.partition("=") for item in models]
        if any(not name or not sep or not spec for name, sep, spec in pairs):
            raise typer.BadParameter("use NAME=DIR_OR_PACKAGE", param_hint="--models")
        named = {name: spec for name, _, spec in pairs}
    settings = _settings(
        data_dir=data_dir, host=host, port=port, database_url=database_url, model=model,
        api_key=api_key, models=named, metrics_port=metrics_port, http_port=http_port,
        vector_backend=vector_backend, milvus_uri=milvus_uri,
    )
    try:
        server = Server(settings)
    except EmbedsvcError as error:
        _fail(error)
    server.start()
    server.wait_for_signal()


@app.command()
def migrate(data_dir: DataDir = None, database_url: DatabaseUrl = None) -> None:
    """Apply the SQL schema migrations (the server also does this on start)."""
    _logging()
    from embedsvc.storage import open_sql
    from embedsvc.storage.lock import MAINTENANCE_HINT

    settings = _settings(data_dir=data_dir, database_url=database_url)
    try:
        repository, lock = open_sql(settings, MAINTENANCE_HINT)
    except EmbedsvcError as error:
        _fail(error)
    revision = repository.revision
    repository.close()
    lock.release()
    typer.echo(f"schema at revision {revision}")


@app.command()
def reindex(
    collection: str, data_dir: DataDir = None, database_url: DatabaseUrl = None
) -> None:
    """Rebuild a collection's vector index from the vectors in the SQL store."""
    _logging()
    from embedsvc.storage import open_storage
    from embedsvc.storage.lock import MAINTENANCE_HINT

    settings = _settings(data_dir=data_dir, database_url=database_url)
    if not settings.data_dir.exists() and not settings.database_url:
        _fail(InvalidArgument(f"no data dir at {settings.data_dir}; give --data-dir"))
    try:
        storage = open_storage(settings, MAINTENANCE_HINT)
        try:
            info = storage.repository.get_collection(collection)
            with storage.collection_lock(info):
                size = storage.vectors.rebuild(info)
        finally:
            storage.close()
    except EmbedsvcError as error:
        _fail(error)
    typer.echo(f"collection {collection}: {size} vectors indexed")


@app.command()
def backup(
    directory: Annotated[Path, typer.Argument(help="New or empty folder for the snapshot")],
    server: Annotated[str | None, typer.Option(
        help="HOST:PORT of the running server that owns the store (DIR is on its machine)"
    )] = None,
    api_key: Annotated[str, typer.Option(envvar="EMBEDSVC_API_KEY", help="API key for --server")]
    = "",
    data_dir: DataDir = None, database_url: DatabaseUrl = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON only on stdout")] = False,
) -> None:
    """A consistent snapshot of a store (SQL and vector index at the same generation): of a
    running server with --server, else of the data dir itself."""
    _logging()
    directory = directory.absolute()
    try:
        if server:
            from embedsvc.client import Client

            with Client(server, api_key=api_key, timeout=3600) as client:
                taken = client.backup(str(directory))
        else:
            taken = _embedded_backup(directory, data_dir, database_url)
    except EmbedsvcError as error:
        _fail(error)
    _report_backup(taken, as_json)


def _embedded_backup(
    directory: Path, data_dir: Path | None, database_url: str | None
) -> Backup:
    from embedsvc.services.backup import take_backup
    from embedsvc.services.collections import CollectionLocks
    from embedsvc.storage import open_storage
    from embedsvc.storage.lock import BACKUP_HINT

    settings = _settings(data_dir=data_dir, database_url=database_url)
    if not settings.data_dir.exists() and not settings.database_url:
        _fail(InvalidArgument(f"no data dir at {settings.data_dir}; give --data-dir"))
    storage = open_storage(settings, BACKUP_HINT)
    try:
        return take_backup(storage, CollectionLocks(storage.collection_lock), directory)
    finally:
        storage.close()


@app.command()
def restore(
    directory: Annotated[Path, typer.Argument(help="A folder written by `embedsvc backup`")],
    data_dir: DataDir = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON only on stdout")] = False,
) -> None:
    """Copy a backup into a new (or empty) data dir; a server started on it serves at once."""
    _logging()
    from embedsvc.services.backup import restore as restore_backup

    settings = _settings(data_dir=data_dir)
    try:
        restored = restore_backup(directory, settings.data_dir)
    except EmbedsvcError as error:
        _fail(error)
    _report_backup(restored, as_json)


def _report_backup(backup: Backup, as_json: bool) -> None:
    if as_json:
        import dataclasses

        sys.stdout.write(json.dumps(dataclasses.asdict(backup)) + "\n")
        return
    for item in backup.collections:
        typer.echo(f"{item.name}: {item.documents} documents, {item.chunks} chunks "
                   f"(generation {item.generation})", err=True)
    if backup.note:
        typer.echo(f"note: {backup.note}", err=True)
    typer.echo(f"{backup.database} store in {backup.directory}", err=True)


@app.command()
def chunk(
    path: Annotated[Path, typer.Argument(help="File to chunk ('-' reads stdin)")],
    language: Annotated[
        str | None, typer.Option(help="Code language; default: from the file extension")
    ] = None,
    max_tokens: Annotated[int, typer.Option(help="Token budget per chunk (0 = model window)")]
    = 0,
    overlap_sentences: Annotated[int, typer.Option(help="Prose: sentences of overlap")] = 0,
    model: Model = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per chunk")] = False,
) -> None:
    """Show how a file is chunked: spans, symbols, token counts, context and text."""
    from embedsvc.services.embedding import checked_chunks

    settings = _settings(model=model)
    text = sys.stdin.read() if str(path) == "-" else _read_text(path)
    try:
        chunks = checked_chunks(
            _default_encoder(settings), settings.max_text_chars, text, language or "",
            "" if str(path) == "-" else str(path), max_tokens, overlap_sentences,
        ).chunks
    except EmbedsvcError as error:
        _fail(error)
    for item in chunks:
        record = {
            "ordinal": item.ordinal, "start_line": item.start_line, "end_line": item.end_line,
            "start_char": item.start_char, "end_char": item.end_char, "symbol": item.symbol,
            "kind": item.kind, "token_count": item.token_count, "context": item.context,
            "text": item.text,
        }
        if as_json:
            sys.stdout.write(json.dumps(record, ensure_ascii=False) + "\n")
        else:
            title = f"{item.start_line}-{item.end_line} {item.kind} {item.symbol}".rstrip()
            typer.echo(f"--- chunk {item.ordinal}: lines {title} ({item.token_count} tokens)")
            typer.echo(item.text)


@app.command()
def embed(
    file: Annotated[Path | None, typer.Argument(help="Texts, one per line (default: stdin)")]
    = None,
    layers: Annotated[int | None, typer.Option(help="Run only the first N layers")] = None,
    dims: Annotated[int | None, typer.Option(help="Keep the leading D dimensions")] = None,
    tempscale: Annotated[float | None, typer.Option(help="Attention temperature (1 = off)")]
    = None,
    precision: Annotated[
        str | None, typer.Option(help="fp32, bf16 or int8 (default: CPU's best)")
    ]
    = None,
    model: Model = None,
    out: Annotated[Path | None, typer.Option(help="Write a .npy file instead of JSON lines")]
    = None,
    on_overflow: Annotated[str, typer.Option(help="truncate or error")] = "truncate",
    prompt: Annotated[str, typer.Option(help='Put before every text, e.g. "query: "')] = "",
) -> None:
    """Embed texts (one per line) with an encoder profile; JSON lines or a .npy file."""
    if on_overflow not in ("truncate", "error"):
        raise typer.BadParameter("use truncate or error", param_hint="--on-overflow")
    texts = (_read_text(file) if file else sys.stdin.read()).splitlines()
    if not texts:
        _fail(InvalidArgument("no texts: give a file or stdin with one text per line"))
    blank = [number for number, line in enumerate(texts, 1) if not line.strip()]
    if blank:
        _fail(InvalidArgument(
            f"line {blank[0]} is blank ({len(blank)} blank lines): each line is one text and one "
            "output row, so remove blank lines first"
        ))
    overrides = {
        key: value for key, value in
        {"layers": layers, "dimensions": dims, "tempscale": tempscale, "precision": precision}
        .items() if value is not None
    }
    encoder = _default_encoder(_settings(model=model))
    try:
        counts = encoder.token_counts([prompt + text for text in texts])
        truncated = encoder.check_overflow(counts, on_overflow == "truncate")
        vectors = encoder.encode(
            texts, encoder.profile(**overrides), token_counts=counts, prompt=prompt
        )
    except EmbedsvcError as error:
        _fail(error)
    finally:
        encoder.close()
    if any(truncated):
        typer.echo(f"{sum(truncated)} of {len(texts)} texts were truncated to "
                   f"{encoder.info.max_tokens} tokens", err=True)
    if out is not None:
        import numpy as np

        np.save(out, vectors)
        typer.echo(f"wrote {vectors.shape[0]} x {vectors.shape[1]} vectors to {out}", err=True)
        return
    for text, vector in zip(texts, vectors.tolist(), strict=True):
        sys.stdout.write(json.dumps({"text": text, "embedding": vector}) + "\n")


train_app = typer.Typer(help="Fine-tune models.", no_args_is_help=True)
app.add_typer(train_app, name="train")


@train_app.command("2dmse")
def train_2dmse(
    pairs: Annotated[Path, typer.Option(help='JSONL: {"anchor": ..., "positive": ...}')],
    out: Annotated[Path, typer.Option(help="Directory for the trained model")],
    base: Annotated[str, typer.Option(help="Base model dir or package ('' = bundled)")] = "",
    epochs: Annotated[int, typer.Option(help="Passes over the pairs")] = 1,
    batch_size: Annotated[int, typer.Option(help="Pairs per step (in-batch negatives)")] = 32,
    max_steps: Annotated[int | None, typer.Option(help="Stop after N steps")] = None,
    learning_rate: Annotated[float, typer.Option(help="AdamW learning rate")] = 2e-5,
) -> None:
    """2D Matryoshka fine-tuning: Matryoshka2dLoss around MultipleNegativesRankingLoss, so the
    model serves well with fewer layers and fewer dims. The output loads with --model DIR."""
    _logging()
    from embedsvc.encoding.training import train_2dmse as train

    try:
        path = train(pairs, base, out, epochs=epochs, batch_size=batch_size,
                     max_steps=max_steps, learning_rate=learning_rate)
    except EmbedsvcError as error:
        _fail(error)
    typer.echo(f"trained model saved to {path}; serve it with --model {path}", err=True)


from embedsvc.titles.cli import titles_app, train_titles  # noqa: E402

app.add_typer(titles_app, name="titles")
train_app.command("titles")(train_titles)

from embedsvc.linking.cli import link_app, train_linker  # noqa: E402

app.add_typer(link_app, name="link")
train_app.command("linker")(train_linker)


def main() -> None:
    app()
