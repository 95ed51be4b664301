"""`embedsvc titles load|normalize`: on a data dir (embedded) or through a server (--server).

With --json, stdout carries only JSON (with --queries: one line per input line, in order);
logs go to stderr. Exit status 2 when the command could not be done, 1 when some query lines
were refused (the others are answered).
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer

from embedsvc.errors import EmbedsvcError, InvalidArgument

titles_app = typer.Typer(help="Job-title normalization against catalogs.", no_args_is_help=True)

Catalog = Annotated[str, typer.Option("--catalog", "-c", help="Catalog name")]
DataDir = Annotated[
    Path | None, typer.Option(help="Data dir (SQLite + FAISS) [env EMBEDSVC_DATA_DIR]")
]
Server = Annotated[str | None, typer.Option(help="HOST:PORT of a running server")]
ApiKey = Annotated[str, typer.Option(envvar="EMBEDSVC_API_KEY", help="API key for --server")]
Models = Annotated[list[str] | None, typer.Option(
    "--models", help="Embedded: more models, NAME=DIR, repeatable [env EMBEDSVC_MODELS]"
)]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON only on stdout")]
BATCH = 256


def _fail(message: str) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(2)


@contextmanager
def _api(data_dir: Path | None, server: str | None, api_key: str,
         models: list[str] | None) -> Iterator[Any]:
    """The server's client, or the core on the data dir; refusals become one line and exit 2."""
    import grpc

    api = None
    try:
        if server:
            from embedsvc.client import Client

            api = Client(server, api_key=api_key, timeout=600)
        else:
            from embedsvc.config import Settings
            from embedsvc.core import Core

            named = dict(item.partition("=")[::2] for item in models or [])
            if any(not name or not spec for name, spec in named.items()):
                _fail("use --models NAME=DIR")
            overrides: dict[str, Any] = {"models": named} if named else {}
            if data_dir is not None:
                overrides["data_dir"] = data_dir
            api = Core(Settings(**overrides))
        yield api
    except grpc.RpcError as error:
        _fail(f"{server}: {error.code().name}: {error.details()}")
    except EmbedsvcError as error:
        _fail(str(error))
    finally:
        if api is not None:
            api.close()


@titles_app.command()
def load(
    file: Annotated[Path, typer.Argument(help="Catalog: .jsonl or .csv, one entry a line")],
    catalog: Catalog,
    model: Annotated[str, typer.Option(help="A served model by name ('' = default)")] = "",
    data_dir: DataDir = None, server: Server = None, api_key: ApiKey = "",
    models: Models = None, as_json: AsJson = False,
) -> None:
    """Load or reload a catalog; searches meanwhile see the old version until it is done."""
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    from embedsvc.titles.catalog import read_catalog

    try:
        entries = read_catalog(file)
    except InvalidArgument as error:
        _fail(str(error))
    with _api(data_dir, server, api_key, models) as api:
        result = api.load_catalog(catalog, entries, model)
    info = result.catalog
    if as_json:
        typer.echo(json.dumps({
            "catalog": info.name, "version": info.version, "model": info.model,
            "entries": info.entries, "labels": info.labels,
            "vectors_embedded": result.embedded, "vectors_reused": result.reused,
        }))
        return
    typer.echo(f"catalog {info.name} v{info.version}: {info.entries} entries, {info.labels} "
               f"labels, model {info.model} ({result.embedded} vectors embedded, "
               f"{result.reused} reused)")


@titles_app.command()
def normalize(
    title: Annotated[str | None, typer.Argument(help="A raw job title")] = None,
    catalog: Catalog = "",
    skill: Annotated[list[str] | None, typer.Option("--skill", help="A skill of the ad, "
                                                    "repeatable")] = None,
    description: Annotated[str, typer.Option(help="The ad's description")] = "",
    k: Annotated[int, typer.Option(help="Candidates per title")] = 5,
    queries: Annotated[Path | None, typer.Option(
        help='Titles, one a line ("-" = stdin); a line may be JSON {"title", "skills", '
             '"description"}'
    )] = None,
    threshold: Annotated[float | None, typer.Option(help="No match below this score")] = None,
    no_cleanup: Annotated[bool, typer.Option("--no-cleanup", help="Match titles as written")]
    = False,
    data_dir: DataDir = None, server: Server = None, api_key: ApiKey = "",
    models: Models = None, as_json: AsJson = False,
) -> None:
    """Map raw titles to catalog entries: top-k with score, matched label and signals."""
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    from embedsvc.titles.types import TitleQuery

    if not catalog:
        _fail("give --catalog NAME")
    if (title is None) == (queries is None):
        _fail("give a TITLE or --queries FILE")
    if title is not None:
        lines: list[str] = [title]
        parsed = [TitleQuery(title, tuple(skill or ()), description)]
    else:
        lines, parsed = _read_queries(queries)
    failed = 0
    with _api(data_dir, server, api_key, models) as api:
        for start in range(0, len(parsed), BATCH):
            batch = parsed[start:start + BATCH]
            good = [q for q in batch if isinstance(q, TitleQuery) and q.title.strip()]
            answers = iter(api.normalize_titles(catalog, good, k, not no_cleanup, threshold)
                           if good else [])
            for line, query in zip(lines[start:start + BATCH], batch, strict=True):
                if not isinstance(query, TitleQuery) or not query.title.strip():
                    failed += 1
                    reason = query if isinstance(query, str) else "title is empty"
                    _print_refused(line, reason, as_json)
                    continue
                _print_answer(next(answers), as_json)
    if failed:
        raise typer.Exit(1)


def _read_queries(path: Path) -> tuple[list[str], list[Any]]:
    """Each line as a query, or the reason it is not one (kept in place, to answer in order)."""
    from embedsvc.titles.types import TitleQuery

    try:
        text = sys.stdin.read() if str(path) == "-" else path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        _fail(f"cannot read {path}: {error}")
    lines = text.splitlines()
    parsed: list[Any] = []
    for number, line in enumerate(lines, start=1):
        if not line.lstrip().startswith("{"):
            parsed.append(TitleQuery(line.strip()))
            continue
        try:
            record = json.loads(line)
            skills = record.get("skills", [])
            if not isinstance(skills, list):
                raise TypeError
            parsed.append(TitleQuery(str(record.get("title", "")), tuple(map(str, skills)),
                                     str(record.get("description", ""))))
        except (json.JSONDecodeError, TypeError, AttributeError):
            parsed.append(f'line {number}: expected {{"title", "skills": [...], '
                          '"description"}')
    return lines, parsed


def _print_answer(answer: Any, as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps({
            "query": answer.query,
            "cleaned": answer.cleaned.text,
            "attributes": answer.cleaned.attributes,
            "candidates": [
                {"id": c.id, "title": c.title, "label": c.label, "score": round(c.score, 6),
                 "signals": list(c.signals)}
                for c in answer.candidates
            ],
        }, ensure_ascii=False))
        return
    attributes = "; ".join(f"{kind}: {', '.join(values)}"
                           for kind, values in answer.cleaned.attributes.items())
    typer.echo(f"{answer.query}  ->  {answer.cleaned.text!r}"
               + (f"  [{attributes}]" if attributes else ""))
    if not answer.candidates:
        typer.echo("  no match")
    for c in answer.candidates:
        typer.echo(f"  {c.score:.3f}  {c.id}  {c.title}  (label {c.label!r}; "
                   f"{', '.join(c.signals) or 'fused'})")


def _print_refused(line: str, reason: str, as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps({"query": line, "error": reason, "candidates": []},
                              ensure_ascii=False))
    else:
        typer.echo(f"{line}  ->  refused: {reason}")
    typer.echo(f"error: {reason}", err=True)


def train_titles(
    out: Annotated[Path, typer.Option(help="Directory for the trained model")],
    pairs: Annotated[Path | None, typer.Option(
        help='JSONL: {"anchor": title, "positive": skills, description or another label}'
    )] = None,
    catalog_file: Annotated[Path | None, typer.Option(
        "--catalog-file", help="Also train on a catalog's alt labels and profiles"
    )] = None,
    base: Annotated[str, typer.Option(help="Base model dir or package ('' = bundled)")] = "",
    epochs: Annotated[int, typer.Option(help="Passes over the pairs")] = 1,
    batch_size: Annotated[int, typer.Option(help="Pairs per step (in-batch negatives)")] = 16,
    max_steps: Annotated[int | None, typer.Option(help="Stop after N steps")] = None,
    learning_rate: Annotated[float, typer.Option(help="AdamW learning rate")] = 2e-5,
    matryoshka: Annotated[bool, typer.Option(help="Wrap the loss in 2D Matryoshka")] = False,
    max_tokens: Annotated[int, typer.Option(help="Cut texts here while training")] = 64,
) -> None:
    """VacancySBERT: fine-tune a Siamese bi-encoder on title co-occurrence pairs
    (MultipleNegativesRankingLoss). Serve the result with --models NAME=DIR."""
    logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    from embedsvc.titles.catalog import read_catalog
    from embedsvc.titles.training import train_titles as train

    if pairs is None and catalog_file is None:
        _fail("give --pairs FILE and/or --catalog-file FILE")
    try:
        entries = read_catalog(catalog_file) if catalog_file else []
        path = train(pairs, out, base, entries, epochs=epochs, batch_size=batch_size,
                     max_steps=max_steps, learning_rate=learning_rate, matryoshka=matryoshka,
                     max_tokens=max_tokens)
    except EmbedsvcError as error:
        _fail(str(error))
    typer.echo(f"trained model saved to {path}; serve it with --models titles={path} and "
               "load a catalog with --model titles", err=True)
