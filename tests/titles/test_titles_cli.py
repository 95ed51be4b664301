"""`embedsvc titles load|normalize` and `embedsvc train titles`, run in process (the gRPC
tests run a real server; here the point is the commands' output and exit codes)."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from embedsvc.cli import app
from tests.titles.conftest import CATALOG_V1, write_jsonl


def run(*args: str, stdin: str = ""):
    return CliRunner().invoke(app, list(args), input=stdin)


def test_load_then_normalize_queries_as_json_lines(tmp_path: Path, catalog_file: Path):
    data = str(tmp_path / "data")
    bad = tmp_path / "bad.jsonl"
    bad.write_text(catalog_file.read_text() + '{"id": "x", "title": ""}\n', encoding="utf-8")
    refused = run("titles", "load", str(bad), "--catalog", "jobs", "--data-dir", data)
    assert refused.exit_code == 2 and f"{bad}:6 ('x'): title is empty" in refused.stderr

    loaded = run("titles", "load", str(catalog_file), "-c", "jobs", "--data-dir", data, "--json")
    assert loaded.exit_code == 0, loaded.stderr
    assert json.loads(loaded.stdout) == {
        "catalog": "jobs", "version": 1, "model": "all-MiniLM-L6-v2", "entries": 5,
        "labels": 13, "vectors_embedded": 17, "vectors_reused": 0,
    }
    queries = "\n".join([
        "Sr. Java Dev (m/f/d) – Berlin", "", "quantum chromodynamics lattice",
        json.dumps({"title": "Associate", "skills": ["cash register", "customer service"]}),
    ]) + "\n"
    answered = run("titles", "normalize", "-c", "jobs", "--queries", "-", "--json", "--k", "2",
                   "--data-dir", data, stdin=queries)
    assert answered.exit_code == 1  # the empty line was refused, the others answered
    lines = [json.loads(line) for line in answered.stdout.splitlines()]
    assert [line["query"] for line in lines] == [
        "Sr. Java Dev (m/f/d) – Berlin", "", "quantum chromodynamics lattice", "Associate"]
    assert lines[0]["candidates"][0]["id"] == "15-1252"
    assert set(lines[0]["candidates"][0]) >= {"id", "title", "label", "score"}
    assert lines[1]["error"] == "title is empty" and lines[2]["candidates"] == []
    assert lines[3]["candidates"][0]["id"] == "41-2031"
    assert "skills" in lines[3]["candidates"][0]["signals"]

    unknown = run("titles", "normalize", "nurse", "-c", "nope", "--data-dir", data)
    assert unknown.exit_code == 2 and "catalog 'nope' is not loaded" in unknown.stderr


def test_trained_model_serves_a_catalog(tmp_path: Path):
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text("".join(
        json.dumps({"anchor": entry.title, "positive": ", ".join(entry.skills)}) + "\n"
        for entry in CATALOG_V1 if entry.skills
    ), encoding="utf-8")
    catalog = write_jsonl(tmp_path / "catalog.jsonl", CATALOG_V1)
    model = tmp_path / "model"
    trained = run("train", "titles", "--pairs", str(pairs), "--catalog-file", str(catalog),
                  "--out", str(model), "--batch-size", "4", "--max-steps", "2")
    assert trained.exit_code == 0, trained.stderr
    assert (model / "config_sentence_transformers.json").exists()
    data = str(tmp_path / "data")
    served = ("--models", f"vacancy={model}", "--data-dir", data)
    loaded = run("titles", "load", str(catalog), "-c", "jobs", "--model", "vacancy", *served,
                 "--json")
    assert loaded.exit_code == 0, loaded.stderr
    assert json.loads(loaded.stdout)["model"] == "vacancy"
    answered = run("titles", "normalize", "charge nurse", "-c", "jobs", "--json", *served)
    assert answered.exit_code == 0, answered.stderr
    assert json.loads(answered.stdout)["candidates"][0]["id"] == "29-1141"
