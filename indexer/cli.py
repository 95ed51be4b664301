"""`indexer`: index folders and repositories into embedsvc, embedded (--data-dir) or remote
(--server). With --json, stdout carries only JSON; progress and logs go to stderr."""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from embedsvc.errors import EmbedsvcError
from embedsvc.ports import EmbedsvcApi
from embedsvc.types import MODES, CollectionInfo, Hit
from indexer.backends import open_backend
from indexer.job import IndexOptions, Summary, run_index
from indexer.walk import root_prefixes

app = typer.Typer(help="Index folders and repositories into embedsvc collections.",
                  no_args_is_help=True)
stderr = Console(stderr=True)

DataDir = Annotated[Path, typer.Option(
    envvar="EMBEDSVC_DATA_DIR", help="Data dir to work on directly (embedded mode)"
)]
Server = Annotated[str | None, typer.Option(help="HOST:PORT of a running server (remote mode)")]
ApiKey = Annotated[str, typer.Option(envvar="EMBEDSVC_API_KEY", help="API key for --server")]
Collection = Annotated[str, typer.Option("--collection", "-c", help="Collection name")]
Json = Annotated[bool, typer.Option("--json", help="Print JSON only on stdout")]


@app.callback()
def _store(vector_backend: Annotated[str | None, typer.Option(
    help="Where the data dir's vectors are searched: faiss or milvus (Milvus Lite in the data "
         "dir, or EMBEDSVC_MILVUS_URI) [env EMBEDSVC_VECTOR_BACKEND]",
)] = None) -> None:
    """Index folders and repositories into embedsvc collections."""
    if vector_backend:  # the embedded store reads its settings from the environment
        os.environ["EMBEDSVC_VECTOR_BACKEND"] = vector_backend


def _emit(data: Any) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def _collection_dict(info: CollectionInfo) -> dict[str, Any]:
    return {
        "name": info.name, "model": info.model, "dimensions": info.dimensions,
        "metric": info.metric, "max_chunk_tokens": info.max_chunk_tokens,
        "chunking": info.chunking, "index": info.index, "index_params": dict(info.index_params),
        "documents": info.document_count, "chunks": info.chunk_count,
    }


def _hit_dict(hit: Hit) -> dict[str, Any]:
    chunk = hit.chunk
    return {
        "document_id": hit.document_id, "score": round(float(hit.score), 6),
        "start_line": chunk.start_line, "end_line": chunk.end_line,
        "start_char": chunk.start_char, "end_char": chunk.end_char,
        "symbol": chunk.symbol, "text": chunk.text, "metadata": hit.metadata,
    }


def _index_params(pairs: list[str]) -> dict[str, int]:
    params = {}
    for pair in pairs:
        name, _, value = pair.partition("=")
        try:
            params[name.strip()] = int(value)
        except ValueError:
            raise typer.BadParameter(f"{pair!r} is not NAME=INTEGER",
                                     param_hint="--index-param") from None
    return params


def _fail(message: str) -> NoReturn:
    stderr.print(f"[red]error:[/red] {escape(message)}", highlight=False)
    raise typer.Exit(2)


@contextmanager
def _backend(
    data_dir: Path, server: str | None, api_key: str, create: bool = False,
    retry_for: float = 0.0,
) -> Iterator[EmbedsvcApi]:
    """Open the backend; any refusal becomes one clear line on stderr and exit code 2. Only
    `index` (``create``) may start a new data dir: elsewhere a wrong folder is an error, not
    a new empty store."""
    import grpc

    from embedsvc.config import Settings

    if not (server or create or data_dir.exists() or Settings().database_url):
        _fail(f"no data dir at {data_dir}; give --data-dir (or EMBEDSVC_DATA_DIR), or --server")
    backend: EmbedsvcApi | None = None
    try:
        backend = open_backend(data_dir, server, api_key, retry_for)
        yield backend
    except grpc.RpcError as error:
        _fail(f"{server}: {error.code().name}: {error.details()}")
    except EmbedsvcError as error:
        _fail(str(error))
    finally:
        if backend is not None:
            backend.close()


def _progress() -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}"), TimeElapsedColumn(), TimeRemainingColumn(),
        console=stderr, transient=False,
    )


@app.command()
def index(
    paths: Annotated[list[Path], typer.Argument(help="Folders or files to index", exists=True)],
    collection: Collection,
    data_dir: DataDir = Path("./data"), server: Server = None, api_key: ApiKey = "",
    include: Annotated[list[str], typer.Option(help="Only paths matching this glob")] = [],  # noqa: B006
    exclude: Annotated[list[str], typer.Option(help="Skip paths matching this glob")] = [],  # noqa: B006
    max_bytes: Annotated[int, typer.Option(help="Skip files larger than this")] = 1_000_000,
    prune: Annotated[bool, typer.Option(help="Delete documents whose file disappeared")] = True,
    dims: Annotated[int, typer.Option(help="Dimensions of a new collection (0 = all)")] = 0,
    max_chunk_tokens: Annotated[int, typer.Option(help="Chunk budget of a new collection")] = 0,
    index_type: Annotated[str, typer.Option(
        "--index", help="Vector index of a new collection: flat (exact), hnsw or ivf "
        "(default: the server's, EMBEDSVC_FAISS_INDEX)",
    )] = "",
    index_param: Annotated[list[str], typer.Option(
        help="A parameter of that index as NAME=INTEGER, e.g. m=32 or nprobe=16 (repeatable)",
    )] = [],  # noqa: B006
    base: Annotated[Path | None, typer.Option(
        help="Ids are paths relative to this (default: the current directory if it holds every "
        "path, else the path itself)", exists=True, file_okay=False,
    )] = None,
    retry_for: Annotated[float, typer.Option(
        min=0, help="Seconds to keep retrying a server that is restarting or busy",
    )] = 120.0,
    ray: Annotated[str | None, typer.Option(
        metavar="[ADDRESS]",
        help="Chunk and embed on Ray encoder actors; commit here. Alone (or 'local'): a new "
        "local Ray instance on 127.0.0.1 only; ADDRESS: that Ray cluster, e.g. 10.0.0.5:6379",
    )] = None,
    ray_actors: Annotated[int, typer.Option(min=1, help="Encoder actors with --ray")] = 2,
    ray_actor_cpus: Annotated[float, typer.Option(
        min=0.01, help="Logical CPUs Ray reserves for each encoder actor",
    )] = 1.0,
    as_json: Json = False,
) -> None:
    """Index PATHS incrementally: only new or changed files are chunked and embedded, and
    documents whose file is gone from PATHS are deleted. Exit 0: all indexed; 1: some files
    failed (the others are indexed); 2: the run could not be done."""
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    writer = None
    if ray is not None:
        from indexer.ray_cluster import require_ray
        from indexer.ray_job import RayWriter

        try:
            require_ray()
        except EmbedsvcError as error:
            _fail(str(error))
        writer = RayWriter(ray, ray_actors, ray_actor_cpus)
    try:
        root_prefixes(paths, base)
    except ValueError as error:
        raise typer.BadParameter(str(error), param_hint="--base") from None
    options = IndexOptions(
        include=include, exclude=exclude, max_bytes=max_bytes, prune=prune,
        collection_options={"dimensions": dims, "max_chunk_tokens": max_chunk_tokens,
                            "index": index_type, "index_params": _index_params(index_param)},
        skip_dirs=[] if server else [data_dir], base=base,
    )
    with (_backend(data_dir, server, api_key, create=True, retry_for=retry_for) as backend,
          _progress() as bar):
        task = bar.add_task("files to embed", total=None, rate="")
        started = time.monotonic()

        def report(done: int, total: int, tokens: int) -> None:
            elapsed = max(time.monotonic() - started, 1e-6)
            bar.update(task, completed=done, total=total, rate=f"{tokens / elapsed:,.0f} tok/s")

        summary = run_index(backend, paths, collection, options, report, writer)
    if as_json:
        _emit(summary.as_json())
    else:
        _print_summary(summary)
    if summary.failed:
        raise typer.Exit(1)


def _print_summary(summary: Summary) -> None:
    for problem in summary.problems:
        stderr.print(f"  {problem['path']}: {problem.get('error') or problem.get('skipped')}",
                     highlight=False)
    for doc_id in summary.pruned:
        stderr.print(f"  {doc_id}: deleted, its file is gone", highlight=False)
    stderr.print(
        f"files: {summary.seen} seen, {summary.new} new, {summary.changed} changed, "
        f"{summary.unchanged} unchanged, {summary.deleted} deleted, {summary.failed} failed, "
        f"{summary.skipped} skipped | chunks: {summary.embedded} embedded, {summary.reused} "
        f"reused, {summary.chunks_deleted} deleted | {summary.seconds:.1f}s",
        highlight=False,
    )


def _filters(filters: list[str]) -> dict[str, Any]:
    where: dict[str, Any] = {}
    for item in filters:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise typer.BadParameter(f"{item!r}: use key=value", param_hint="--filter")
        where[key] = value
    return where


def _where(text: str) -> dict[str, Any]:
    if not text:
        return {}
    try:
        where = json.loads(text)
    except json.JSONDecodeError as error:
        raise typer.BadParameter(f"not JSON: {error}", param_hint="--where") from None
    if not isinstance(where, dict):
        raise typer.BadParameter("give a JSON object of conditions", param_hint="--where")
    return where


@app.command()
def search(
    query: Annotated[str | None, typer.Argument(help="The query (or use --queries)")] = None,
    collection: Collection = ...,  # type: ignore[assignment]
    k: Annotated[int, typer.Option("--k", min=1, help="Hits per query")] = 10,
    level: Annotated[str, typer.Option(help="chunk or document")] = "chunk",
    filters: Annotated[list[str], typer.Option("--filter", help="key=value")] = [],  # noqa: B006
    where_json: Annotated[str, typer.Option(
        "--where", help='Conditions as JSON, e.g. \'{"ext": {"in": ["py", "pyi"]}}\'',
    )] = "",
    mode: Annotated[str, typer.Option(help="dense, lexical or hybrid (default: hybrid)")] = "",
    queries: Annotated[Path | None, typer.Option(help="File with one query per line")] = None,
    data_dir: DataDir = Path("./data"), server: Server = None, api_key: ApiKey = "",
    as_json: Json = False,
) -> None:
    """Search a collection; with --queries, answer every line in one process, in order."""
    if (query is None) == (queries is None):
        raise typer.BadParameter("give either QUERY or --queries FILE")
    if level not in ("chunk", "document"):
        raise typer.BadParameter("use chunk or document", param_hint="--level")
    if mode not in ("", *MODES):
        raise typer.BadParameter(f"use {', '.join(MODES)}", param_hint="--mode")
    where = {**_filters(filters), **_where(where_json)}
    lines = [query] if query is not None else [
        line.strip() for line in queries.read_text().splitlines() if line.strip()
    ]
    with _backend(data_dir, server, api_key) as backend:
        for line in lines:
            found = backend.search(collection, line, k, where, level, mode=mode)
            hits = [_hit_dict(hit) for hit in found]
            if as_json:
                _emit({"query": line, "hits": hits})
                continue
            typer.echo(f"# {line}")
            for rank, hit in enumerate(hits, 1):
                where_text = f"{hit['document_id']}:{hit['start_line']}-{hit['end_line']}"
                symbol = f" {hit['symbol']}" if hit["symbol"] else ""
                typer.echo(f"{rank:>3}. {hit['score']:.3f} {where_text}{symbol}")


@app.command()
def stats(
    collection: Collection, data_dir: DataDir = Path("./data"), server: Server = None,
    api_key: ApiKey = "", as_json: Json = False,
) -> None:
    """Documents, chunks and settings of a collection."""
    with _backend(data_dir, server, api_key) as backend:
        data = _collection_dict(backend.get_collection(collection))
    if as_json:
        _emit(data)
    else:
        for key, value in data.items():
            typer.echo(f"{key}: {value}")


@app.command()
def delete(
    doc_ids: Annotated[list[str], typer.Argument(help="Document ids to delete")],
    collection: Collection, data_dir: DataDir = Path("./data"), server: Server = None,
    api_key: ApiKey = "", as_json: Json = False,
) -> None:
    """Delete documents by id."""
    with _backend(data_dir, server, api_key) as backend:
        result = backend.delete_documents(collection, doc_ids)
    if as_json:
        _emit({"deleted": result.deleted, "not_found": result.not_found,
               "chunks_deleted": result.chunks_deleted})
    else:
        typer.echo(f"deleted {len(result.deleted)} documents ({result.chunks_deleted} chunks); "
                   f"not found: {result.not_found}")


@app.command()
def collections(
    data_dir: DataDir = Path("./data"), server: Server = None, api_key: ApiKey = "",
    as_json: Json = False,
) -> None:
    """List the collections of a store."""
    with _backend(data_dir, server, api_key) as backend:
        rows = [_collection_dict(info) for info in backend.all_collections()]
    if as_json:
        _emit(rows)
        return
    for row in rows:
        typer.echo(f"{row['name']}\t{row['documents']} documents\t{row['chunks']} chunks")


def main() -> None:
    app(args=ray_flag(sys.argv[1:]))


def ray_flag(args: list[str]) -> list[str]:
    """`--ray` with no value (last, or before another option) means `--ray local`: typer has
    no options whose value may be left out."""
    fixed = []
    for position, arg in enumerate(args):
        fixed.append(arg)
        following = args[position + 1] if position + 1 < len(args) else "-"
        if arg == "--ray" and following.startswith("-"):
            fixed.append("local")
    return fixed
