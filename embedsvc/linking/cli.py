"""`embedsvc link`: load terminologies and link mentions, embedded in a data dir or against a
running server (--server). With --json, stdout carries only JSON, one line per answer."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any

import typer

from embedsvc.errors import EmbedsvcError, InvalidArgument
from embedsvc.linking.concepts import Linked, Mention, mention_of

link_app = typer.Typer(help="Entity linking: terminologies and mentions.", no_args_is_help=True)

Server = Annotated[str | None, typer.Option(help="HOST:PORT of a running server")]
DataDir = Annotated[Path | None, typer.Option(help="Data dir, embedded [env EMBEDSVC_DATA_DIR]")]
ApiKey = Annotated[str, typer.Option(envvar="EMBEDSVC_API_KEY", help="API key for --server")]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON only on stdout")]
# Mentions per request when reading a queries file.
BATCH = 64


@contextmanager
def _api(server: str | None, data_dir: Path | None, api_key: str) -> Iterator[Any]:
    """A client of the running server, else the product in process on the data dir."""
    from embedsvc.cli import _logging, _settings

    _logging()
    if server:
        from embedsvc.client import Client

        with Client(server, api_key=api_key) as client:
            yield client
        return
    from embedsvc.core import Core

    core = Core(_settings(data_dir=data_dir))
    try:
        yield core
    finally:
        core.close()


@link_app.command("load")
def load(
    file: Annotated[Path, typer.Argument(help="Terminology: .jsonl, .obo or .csv")],
    kb: Annotated[str, typer.Option(help="Name of the terminology (a new version of it)")],
    model: Annotated[str, typer.Option(help="Served model for the alias vectors")] = "",
    reranker: Annotated[str, typer.Option(
        help="Re-ranker directory from `embedsvc train linker` (on the server's machine)"
    )] = "",
    source_format: Annotated[str, typer.Option(
        "--format", help="jsonl, obo or csv (default: from the extension)"
    )] = "",
    server: Server = None, data_dir: DataDir = None, api_key: ApiKey = "",
    as_json: AsJson = False,
) -> None:
    """Load a terminology; the previous version serves until this one is complete."""
    from embedsvc.cli import _fail, _read_text

    content = _read_text(file)
    try:
        with _api(server, data_dir, api_key) as api:
            info = api.load_knowledge_base(kb, content, source_format, model, file.name,
                                           reranker)
    except EmbedsvcError as error:
        _fail(error)
    if as_json:
        sys.stdout.write(json.dumps(asdict(info)) + "\n")
    else:
        reranked = f", re-ranker {info.reranker}" if info.reranker else ""
        typer.echo(f"{info.name} v{info.version}: {info.concepts} concepts, {info.aliases} "
                   f"aliases ({info.source_format}), model {info.model}{reranked}")


@link_app.command("mentions")
def mentions(
    mention: Annotated[str | None, typer.Argument(help="One mention (or use --queries)")] = None,
    kb: Annotated[str, typer.Option(help="Terminology to link to")] = "",
    context: Annotated[str, typer.Option(help="Text around the mention")] = "",
    k: Annotated[int, typer.Option(help="Candidates per mention")] = 10,
    threshold: Annotated[float, typer.Option(help="Best score below this = NIL")] = 0.0,
    queries: Annotated[Path | None, typer.Option(
        help='File with one mention a line: text, or JSON {"mention", "context"}'
    )] = None,
    generators: Annotated[list[str] | None, typer.Option(
        "--generator", help="sparse or dense (repeatable; default both, fused)"
    )] = None,
    rerank: Annotated[bool, typer.Option(
        help="Re-order with the KB's re-ranker; scores become probabilities over the list"
    )] = False,
    server: Server = None, data_dir: DataDir = None, api_key: ApiKey = "",
    as_json: AsJson = False,
) -> None:
    """Link mentions; with --queries and --json, one JSON line per input line, in order."""
    from embedsvc.cli import _fail, _read_text

    if (mention is None) == (queries is None):
        _fail(InvalidArgument("give one MENTION or --queries FILE"))
    try:
        lines = ([mention] if queries is None else _read_text(queries).splitlines())
        inputs = [_input(line, context, number) for number, line in enumerate(lines, 1)]
        with _api(server, data_dir, api_key) as api:
            for start in range(0, len(inputs), BATCH):
                batch = inputs[start:start + BATCH]
                asked = [m for m in batch if m is not None]
                answers = iter(api.link_entities(
                    kb, asked, k, threshold, generators or (), rerank=rerank
                ) if asked else [])
                for item in batch:
                    _print(next(answers) if item is not None else None, as_json)
    except EmbedsvcError as error:
        _fail(error)


def _input(line: str, context: str, number: int) -> Mention | None:
    """A mention from a line (None for a blank one, answered as NIL to keep lines aligned)."""
    if not line.strip():
        return None
    if line.lstrip().startswith("{"):
        try:
            value = json.loads(line)
        except json.JSONDecodeError as error:
            raise InvalidArgument(f"line {number}: not JSON ({error.msg})") from None
        if not isinstance(value, dict):
            raise InvalidArgument(f"line {number}: expected a JSON object")
        return mention_of(value)
    return Mention(line.strip(), context)


def _print(linked: Linked | None, as_json: bool) -> None:
    if linked is None:
        linked = Linked("", [], True)
    if as_json:
        sys.stdout.write(json.dumps({
            "mention": linked.mention,
            "candidates": [
                {"concept_id": c.concept_id, "name": c.name, "score": round(c.score, 4),
                 "sources": list(c.sources)}
                for c in linked.candidates
            ],
            "nil": linked.nil,
        }, ensure_ascii=False) + "\n")
        return
    expansion = f" (= {linked.expansion})" if linked.expansion else ""
    typer.echo(f"{linked.mention}{expansion}{'  NIL' if linked.nil else ''}")
    for candidate in linked.candidates:
        typer.echo(f"  {candidate.score:.3f}  {candidate.concept_id}  {candidate.name}  "
                   f"[{'+'.join(candidate.sources)}]")


def train_linker(
    kb: Annotated[str, typer.Option(help="Loaded terminology whose candidates to re-rank")],
    mentions_file: Annotated[Path, typer.Option(
        "--mentions", help='JSONL: {"mention": ..., "concept_id": ..., "context"?: ...}'
    )],
    out: Annotated[Path, typer.Option(help="Directory for the re-ranker")],
    data_dir: DataDir = None,
    negatives: Annotated[int, typer.Option(help="Hard negatives per mention")] = 15,
    steps: Annotated[int, typer.Option(help="Optimizer steps (0 = one pass)")] = 0,
    mentions_per_step: Annotated[int, typer.Option(help="Candidate lists per step")] = 4,
    learning_rate: Annotated[float, typer.Option(help="AdamW learning rate")] = 3e-5,
    rank_regularization: Annotated[float, typer.Option(
        help="Weight of the L2 pull toward the generators' scores (xMEN's lambda)"
    )] = 0.1,
    train_layers: Annotated[int, typer.Option(
        help="Train only the top N transformer layers and the head (0 = all)"
    )] = 0,
    base: Annotated[str, typer.Option(help="Base model dir or package ('' = bundled)")] = "",
    seed: Annotated[int, typer.Option(help="Random seed")] = 0,
) -> None:
    """Train a cross-encoder re-ranker for a terminology: each mention against its gold
    concept and the generators' hard negatives (listwise loss + rank regularization). Use it
    with `embedsvc link load FILE --kb NAME --reranker DIR` and `link mentions --rerank`."""
    from embedsvc.cli import _fail
    from embedsvc.linking.training import train_linker as train

    try:
        with _api(None, data_dir, "") as core:
            path = train(
                core.linking, kb, mentions_file, out, negatives, steps=steps,
                mentions_per_step=mentions_per_step, learning_rate=learning_rate,
                rank_regularization=rank_regularization, train_layers=train_layers,
                base_model=base, seed=seed,
            )
    except EmbedsvcError as error:
        _fail(error)
    typer.echo(f"re-ranker saved to {path}; use it with `embedsvc link load FILE --kb {kb} "
               f"--reranker {path}` and `embedsvc link mentions --rerank`", err=True)
