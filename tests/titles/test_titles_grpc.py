"""NormalizeTitles end to end over gRPC against a real server process, on SQLite and on
PostgreSQL: load, normalize with and without skills, no-match answers, reloads while searches
run, bad input."""

from __future__ import annotations

import threading

import grpc
import pytest

from embedsvc.errors import InvalidArgument, NotFound
from embedsvc.titles.types import CatalogEntry, TitleQuery
from tests.conftest import server_on_store
from tests.titles.conftest import CATALOG_V1, CATALOG_V2


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def server(request, tmp_path_factory):
    """One server per store: catalogs, their versions and vectors live in its SQL."""
    with server_on_store(request, tmp_path_factory.mktemp("titles") / "data") as process:
        yield process


@pytest.fixture(scope="module")
def client(server):
    with server.client() as client:
        loaded = client.load_catalog("jobs", CATALOG_V1)
        assert (loaded.catalog.version, loaded.catalog.entries) == (1, len(CATALOG_V1))
        yield client


def test_raw_titles_find_their_entries_with_the_matched_label(client):
    results = client.normalize_titles("jobs", [
        TitleQuery("Sr. Java Dev (m/f/d) – Berlin"),
        TitleQuery("Mgr, Area Sales"),
        TitleQuery("Engineer, maintenance, aircraft"),
    ], k=3)
    best = [(r.candidates[0].id, r.candidates[0].label) for r in results]
    assert best == [("15-1252", "Java Developer"), ("11-2022", "Area Sales Manager"),
                    ("49-3011", "Aircraft Maintenance Engineer")]
    first = results[0]
    assert first.cleaned.text == "java developer"
    assert first.cleaned.attributes == {
        "gender_tag": ["m/f/d"], "location": ["Berlin"], "seniority": ["senior"]}
    assert set(first.candidates[0].signals) >= {"lexical", "dense"}
    scores = [candidate.score for candidate in first.candidates]
    assert scores == sorted(scores, reverse=True)


def test_skills_are_extra_evidence(client):
    plain = client.normalize_titles("jobs", [TitleQuery("Associate")], k=5, threshold=0)[0]
    with_skills = client.normalize_titles(
        "jobs", [TitleQuery("Associate", skills=("cash register", "customer service"))], k=5,
        threshold=0,
    )[0]
    top = with_skills.candidates[0]
    assert top.id == "41-2031" and "skills" in top.signals and top.evidence > 0
    plain_score = next(c.score for c in plain.candidates if c.id == "41-2031")
    margin = lambda r: r.candidates[0].score - r.candidates[1].score  # noqa: E731
    assert top.score > plain_score or margin(with_skills) > margin(plain)


def test_nothing_close_is_no_match_not_a_wrong_entry(client):
    result = client.normalize_titles("jobs", [TitleQuery("quantum chromodynamics lattice")])[0]
    assert result.candidates == [] and not result.matched
    forced = client.normalize_titles("jobs", [TitleQuery("quantum chromodynamics lattice")],
                                     threshold=0)[0]
    assert len(forced.candidates) == len(CATALOG_V1)  # k=10 > entries: all of them


def test_bad_input_gets_its_status_and_a_message(client):
    with pytest.raises(InvalidArgument, match=r"queries\[1\]: title is empty") as error:
        client.normalize_titles("jobs", [TitleQuery("nurse"), TitleQuery("  ")])
    assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    with pytest.raises(NotFound, match="catalog 'nope' is not loaded"):
        client.normalize_titles("nope", [TitleQuery("nurse")])
    with pytest.raises(InvalidArgument, match="k must be between"):
        client.normalize_titles("jobs", [TitleQuery("nurse")], k=5000)
    with pytest.raises(InvalidArgument, match=r"entries\[1\] \('2'\): title is empty"):
        client.load_catalog("jobs", [CatalogEntry("1", "Nurse"), CatalogEntry("2", "")])
    with pytest.raises(InvalidArgument, match="catalog name"):
        client.load_catalog("no spaces", [CatalogEntry("1", "Nurse")])
    assert [info.version for info in client.catalogs()] == [1]  # nothing was loaded


def test_reload_is_atomic_while_searches_run(client):
    """Every answer during reloads names only one version's entries; unchanged labels keep
    their vectors."""
    v1 = {entry.id for entry in CATALOG_V1}
    v2 = {entry.id for entry in CATALOG_V2}
    mixed, answered, errors = [], [], []
    stop = threading.Event()
    queries = [TitleQuery(title) for title in ("java programmer", "cashier", "charge nurse",
                                               "aircraft mechanic", "sales manager")]

    def search() -> None:
        while not stop.is_set():
            try:
                results = client.normalize_titles("jobs", queries, k=5, threshold=0)
            except grpc.RpcError as error:  # pragma: no cover - reported below
                errors.append(error)
                return
            ids = {c.id for r in results for c in r.candidates}
            answered.append(ids)
            if not (ids <= v1 or ids <= v2):
                mixed.append(ids)

    threads = [threading.Thread(target=search) for _ in range(2)]
    for thread in threads:
        thread.start()
    try:
        second = client.load_catalog("jobs", CATALOG_V2)
        third = client.load_catalog("jobs", CATALOG_V1)
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    assert errors == [] and mixed == [] and answered
    assert (second.catalog.version, third.catalog.version) == (2, 3)
    # Only the renamed titles were embedded again: alt labels and profiles kept their vectors.
    assert second.embedded == len(CATALOG_V2) and second.reused == 8 + 4
    # Retired versions are dropped; catalog versions are not listed as user collections.
    assert client.get_collection("titles.jobs.v3").chunk_count > 0
    for retired in ("titles.jobs.v1", "titles.jobs.v2"):
        with pytest.raises(NotFound):
            client.get_collection(retired)
    assert not any(info.name.startswith("titles.") for info in client.all_collections())
