"""Collections with an ANN index (hnsw, ivf) through the core on SQLite and PostgreSQL, the
gRPC API and the indexer CLI: the type and parameters are stored, searched with, reloaded."""

from __future__ import annotations

import json

import grpc
import pytest

from embedsvc.client import Client
from embedsvc.errors import InvalidArgument
from embedsvc.types import Condition, DocumentInput
from tests.conftest import API_KEY
from tests.test_indexer import make_repo, run_indexer

TOPICS = ["pets", "code", "news", "food"]
SENTENCES = {
    "pets": "The cat sat on the mat and purred at the fish number {i}.",
    "code": "Python function {i} parses the configuration file and returns a dict.",
    "news": "Tomorrow {i} will be sunny in Berlin with a light breeze from the west.",
    "food": "Recipe {i}: simmer the tomatoes with garlic and basil for twenty minutes.",
}


def documents(count: int, start: int = 0) -> list[DocumentInput]:
    return [DocumentInput(f"d{i}", SENTENCES[TOPICS[i % 4]].format(i=i), "",
                          {"topic": TOPICS[i % 4], "n": i}) for i in range(start, count)]


@pytest.mark.parametrize(("index", "params", "resolved"), [
    ("hnsw", {"m": 8}, {"m": 8, "ef_construction": 80, "ef_search": 256}),
    ("ivf", {"nlist": 2, "train_size": 8}, {"nlist": 2, "nprobe": 16, "train_size": 8}),
])
def test_an_ann_collection_searches_filters_deletes_and_reopens(make_core, index, params,
                                                                 resolved):
    core = make_core()
    created = core.create_collection("docs", index=index, index_params=params)
    assert (created.index, dict(created.index_params)) == (index, resolved)
    core.upsert("docs", documents(24))
    hits = core.search("docs", "a cat purring on a mat", k=5, mode="dense")
    assert len(hits) == 5 and {h.metadata["topic"] for h in hits[:3]} == {"pets"}
    only = core.search("docs", "a cat purring on a mat", k=6, mode="dense",
                       where=[Condition("topic", "news")])
    assert len(only) == 6 and {h.metadata["topic"] for h in only} == {"news"}
    core.delete_documents("docs", [f"d{i}" for i in range(0, 24, 4)])  # every pets document
    assert all(h.metadata["topic"] != "pets" for h in core.search(
        "docs", "a cat purring on a mat", k=18, mode="dense"))
    core.close()

    reopened = make_core()
    info = reopened.get_collection("docs")
    assert (info.index, dict(info.index_params), info.document_count) == (index, resolved, 18)
    hits = reopened.search("docs", "sunny weather in Berlin", k=18, mode="dense")
    assert len(hits) == 18 and hits[0].metadata["topic"] == "news"
    assert reopened.storage.vectors.count(info) == 18


def test_the_default_index_comes_from_the_settings(make_core):
    core = make_core()
    assert core.create_collection("plain").index == "flat"
    core.settings.faiss_index = "hnsw"
    core.settings.hnsw_ef_search = 12
    info = core.create_collection("graph")
    assert (info.index, info.index_params["ef_search"]) == ("hnsw", 12)


@pytest.mark.parametrize(("index", "params", "names"), [
    ("annoy", {}, "index must be one of flat, hnsw, ivf"),
    ("flat", {"m": 8}, "index 'flat' takes no parameters; got m"),
    ("hnsw", {"nprobe": 4}, "index 'hnsw' takes m, ef_construction, ef_search; got nprobe"),
    ("hnsw", {"m": 1}, "index_params m must be an integer between 4 and 256, got 1"),
    ("ivf", {"nprobe": 0}, "index_params nprobe must be an integer between 1"),
    ("hnsw", {"ef_construction": 10**9}, "ef_construction must be an integer between 8 and 4096"),
])
def test_bad_index_options_say_what_to_fix(make_core, index, params, names):
    core = make_core()
    with pytest.raises(InvalidArgument, match=names):
        core.create_collection("bad", index=index, index_params=params)
    assert core.all_collections() == []


def test_index_options_over_grpc(api_server):
    with Client(f"127.0.0.1:{api_server.port}", api_key=API_KEY) as client:
        info = client.create_collection("ann-grpc", index="hnsw", index_params={"ef_search": 32})
        assert (info.index, info.index_params["ef_search"]) == ("hnsw", 32)
        assert client.get_collection("ann-grpc").index_params == info.index_params
        client.upsert("ann-grpc", documents(8))
        assert client.search("ann-grpc", "tomatoes with garlic", k=1, mode="dense")[0] \
            .metadata["topic"] == "food"
        with pytest.raises(grpc.RpcError) as error:
            client.create_collection("ann-bad", index="ivf", index_params={"m": 8})
        assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "index 'ivf' takes nlist, nprobe, train_size; got m" in error.value.details()
        client.delete_collection("ann-grpc")


@pytest.mark.slow
def test_the_indexer_creates_an_hnsw_collection(tmp_path):
    repo, data = make_repo(tmp_path / "repo"), tmp_path / "data"
    result = run_indexer("index", str(repo), "--collection", "code", "--data-dir", str(data),
                         "--index", "hnsw", "--index-param", "m=8", "--json")
    assert result.returncode in (0, 1), result.stderr  # 1: the repo's unreadable files
    stats = json.loads(run_indexer("stats", "-c", "code", "--data-dir", str(data), "--json")
                       .stdout)
    assert (stats["index"], stats["index_params"]["m"]) == ("hnsw", 8)
    bad = run_indexer("index", str(repo), "--collection", "other", "--data-dir", str(data),
                      "--index-param", "m")
    assert bad.returncode == 2 and "NAME=INTEGER" in bad.stderr
