"""The contract every vector backend meets, run against real rows in a real SQL repository.

A backend's test file subclasses `VectorIndexContract` and says how to build its index; the
cases here are the same for all of them (txtai's `testann/testdense` pattern).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from embedsvc.config import Settings
from embedsvc.errors import NotFound
from embedsvc.filters import Range
from embedsvc.ports import Repository, VectorIndex
from embedsvc.storage.sql.repository import SqlRepository
from embedsvc.types import (
    Chunk,
    CollectionInfo,
    Condition,
    DocumentInput,
    EncoderProfile,
    PreparedChunk,
    PreparedDocument,
)

DIMENSIONS = 8


def unit(vector: np.ndarray) -> np.ndarray:
    return (vector / np.linalg.norm(vector)).astype(np.float32)


def basis(i: int, noise: float = 0.0, seed: int = 0) -> np.ndarray:
    """A unit vector near axis ``i`` (axes repeat past DIMENSIONS)."""
    vector = np.zeros(DIMENSIONS, dtype=np.float32)
    vector[i % DIMENSIONS] = 1.0
    vector += noise * np.random.default_rng(seed).standard_normal(DIMENSIONS)
    return unit(vector)


def prepared(doc_id: str, vectors: list[np.ndarray], metadata: dict | None = None,
             version: int = 1) -> PreparedDocument:
    texts = [f"{doc_id} version {version} part {i}." for i in range(len(vectors))]
    text = " ".join(texts)
    chunks, start = [], 0
    for i, (piece, vector) in enumerate(zip(texts, vectors, strict=True)):
        chunk = Chunk(i, piece, start, start + len(piece), 1, 1, 5)
        chunks.append(PreparedChunk(chunk, vector))
        start += len(piece) + 1
    return PreparedDocument(
        DocumentInput(doc_id, text, "", metadata or {}), chunks, unit(np.mean(vectors, axis=0))
    )


class VectorIndexContract:
    """Subclasses implement `make_index(settings, repository)`; ``index`` and
    ``index_params`` are the collections' (a backend with several index types runs the
    contract once per type)."""

    index = "flat"
    index_params: dict[str, int] = {}

    def make_index(self, settings: Settings, repository: Repository) -> VectorIndex:
        raise NotImplementedError

    @pytest.fixture
    def settings(self, tmp_path: Path, database_url: str) -> Settings:
        return Settings(data_dir=tmp_path / "data", database_url=database_url)

    @pytest.fixture
    def repository(self, settings: Settings) -> Iterator[SqlRepository]:
        repository = SqlRepository(settings.resolved_database_url())
        yield repository
        repository.close()

    @pytest.fixture
    def opened(self, settings, repository) -> Iterator:
        """Open indexes on the same settings and repository; each is closed at the end."""
        indexes: list[VectorIndex] = []

        def open_index() -> VectorIndex:
            index = self.make_index(settings, repository)
            indexes.append(index)
            return index

        yield open_index
        for index in indexes:
            index.close()

    def collection(self, repository, index, name: str = "c", metric: str = "cosine"
                   ) -> CollectionInfo:
        info = repository.create_collection(CollectionInfo(
            name=name, model="test", model_fingerprint="0" * 32, dimensions=DIMENSIONS,
            metric=metric, max_chunk_tokens=64,
            profile=EncoderProfile(layers=1, dimensions=DIMENSIONS), index=self.index,
            index_params=self.index_params,
        ))
        index.sync(info)
        return info

    def write(self, repository, index, info, *documents: PreparedDocument) -> None:
        _, changes = repository.write_documents(info, list(documents))
        index.apply(info, changes)

    def chunk_ids(self, repository, info, doc_id: str) -> list[int]:
        return [chunk.id for chunk in repository.get_document(info, doc_id).chunks]

    # -- the contract ------------------------------------------------------------------

    def test_search_ranks_chunks_and_documents_best_first(self, repository, opened):
        index = opened()
        info = self.collection(repository, index)
        self.write(repository, index, info, prepared("a", [basis(0), basis(1)]),
                   prepared("b", [basis(2), basis(3)]), prepared("c", [basis(0, 0.3, 1)]))
        hits = index.search(info, basis(0), 3)
        assert hits[0][0] == self.chunk_ids(repository, info, "a")[0]
        assert hits[0][1] == pytest.approx(1.0, abs=1e-5)
        assert hits[1][0] == self.chunk_ids(repository, info, "c")[0]
        assert [score for _, score in hits] == sorted((s for _, s in hits), reverse=True)
        documents = index.search(info, basis(2), 1, "document")
        assert len(documents) == 1
        assert repository.chunk_hits([(self.chunk_ids(repository, info, "b")[0], 1.0)])
        assert len(index.ids(info, "document")) == 3
        assert (index.count(info), index.count(info, "document")) == (5, 3)

    def test_l2_scores_are_negative_squared_distances(self, repository, opened):
        index = opened()
        info = self.collection(repository, index, metric="l2")
        self.write(repository, index, info, prepared("a", [basis(0)]), prepared("b", [basis(1)]))
        (best, best_score), (_, other_score) = index.search(info, basis(0), 2)
        assert best == self.chunk_ids(repository, info, "a")[0]
        assert best_score == pytest.approx(0.0, abs=1e-5)
        assert other_score == pytest.approx(-2.0, abs=1e-4)

    def test_replaced_and_deleted_documents_leave_the_index(self, repository, opened):
        index = opened()
        info = self.collection(repository, index)
        self.write(repository, index, info, prepared("a", [basis(0), basis(1)]),
                   prepared("b", [basis(2)]))
        old = set(self.chunk_ids(repository, info, "a"))
        self.write(repository, index, info, prepared("a", [basis(4)], version=2))
        assert not old & set(index.ids(info).tolist())
        assert index.search(info, basis(4), 1)[0][0] == self.chunk_ids(repository, info, "a")[0]
        _, changes = repository.delete_documents(info, ["b"])
        index.apply(info, changes)
        assert set(index.ids(info).tolist()) == set(repository.ids(info, "chunk").tolist())
        assert len(index.ids(info, "document")) == 1

    def test_filtered_search_returns_k_when_k_match(self, repository, opened):
        index = opened()
        info = self.collection(repository, index)
        near = [prepared(f"near{i}", [basis(0, 0.05, i)], {"kind": "near"}) for i in range(40)]
        far = [prepared(f"far{i}", [basis(5, 0.05, i)], {"kind": "far", "n": i})
               for i in range(5)]
        self.write(repository, index, info, *near, *far)
        hits = index.search(info, basis(0), 5, "chunk", [Condition("kind", "far")])
        far_ids = {self.chunk_ids(repository, info, f"far{i}")[0] for i in range(5)}
        assert {chunk_id for chunk_id, _ in hits} == far_ids
        documents = index.search(info, basis(0), 3, "document", [Condition("kind", "far")])
        assert len(documents) == 3
        assert index.search(info, basis(0), 5, "chunk", [Condition("kind", "none")]) == []
        both = index.search(info, basis(0), 5, "chunk",
                            [Condition("kind", "far"), Condition("n", 3)])
        assert [chunk_id for chunk_id, _ in both] == self.chunk_ids(repository, info, "far3")

        def found(*conditions: Condition) -> set[int]:
            return {chunk_id for chunk_id, _ in index.search(info, basis(0), 50, "chunk",
                                                                 list(conditions))}

        def chunks_of(*numbers: int) -> set[int]:
            return {self.chunk_ids(repository, info, f"far{n}")[0] for n in numbers}

        assert found(Condition("n", [1, 3], "in")) == chunks_of(1, 3)
        assert found(Condition("n", Range(gte=3), "range")) == chunks_of(3, 4)
        assert found(Condition("kind", ["near"], "not_in")) == chunks_of(0, 1, 2, 3, 4)
        assert found(Condition("n", True, "exists"), Condition("n", 2, "not_equals")) == \
            chunks_of(0, 1, 3, 4)

    def test_sync_repairs_what_sql_holds(self, repository, opened):
        index = opened()
        info = self.collection(repository, index)
        self.write(repository, index, info, prepared("a", [basis(0)]))
        index.flush()
        # Writes committed to SQL but never mirrored (a crash before the index update).
        repository.write_documents(info, [prepared("b", [basis(1), basis(2)])])
        repository.delete_documents(info, ["a"])
        reopened = opened()
        reopened.sync(info)
        assert set(reopened.ids(info).tolist()) == set(repository.ids(info, "chunk").tolist())
        assert set(reopened.ids(info, "document").tolist()) == set(
            repository.ids(info, "document").tolist())
        assert reopened.search(info, basis(2), 1)[0][0] == self.chunk_ids(repository, info,
                                                                         "b")[1]

    def test_flushed_index_reopens_with_the_same_vectors(self, repository, opened):
        index = opened()
        info = self.collection(repository, index)
        self.write(repository, index, info, prepared("a", [basis(0), basis(3)]))
        index.flush()
        reopened = opened()
        reopened.sync(info)
        assert sorted(reopened.ids(info).tolist()) == sorted(index.ids(info).tolist())
        assert reopened.search(info, basis(3), 1) == index.search(info, basis(3), 1)

    def test_what_belongs_to_no_collection_is_forgotten(self, repository, opened):
        index = opened()
        gone = self.collection(repository, index, name="gone")
        kept = self.collection(repository, index, name="kept")
        self.write(repository, index, gone, prepared("a", [basis(0)]))
        self.write(repository, index, kept, prepared("b", [basis(1)]))
        index.flush()
        repository.delete_collection(gone)  # a crash before the index heard of it
        reopened = opened()
        reopened.retain([kept])
        reopened.sync(kept)
        assert len(reopened.ids(kept)) == 1
        self.assert_forgotten(reopened, gone)

    def assert_forgotten(self, index: VectorIndex, info: CollectionInfo) -> None:
        """Backends check that nothing of ``info`` is kept any more."""
        raise NotImplementedError

    def test_rebuild_and_drop(self, repository, opened):
        index = opened()
        info = self.collection(repository, index)
        self.write(repository, index, info, prepared("a", [basis(0), basis(1)]))
        assert index.rebuild(info) == 2
        assert len(index.ids(info)) == 2
        index.drop(info)
        with pytest.raises(NotFound):
            index.search(info, basis(0), 1)
        other = self.collection(repository, index, name="d")
        assert index.search(other, basis(0), 1) == []
