"""The vector-index contract on the FAISS adapter, once per index type, plus what only the
approximate indexes must get right: HNSW tombstones and rebuilds, IVF training."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from embedsvc.storage import faiss_index
from embedsvc.storage.faiss_index import FaissVectorIndex
from embedsvc.types import Condition
from tests.vector_index.contract import VectorIndexContract, basis, prepared

QUERIES = [basis(i, 0.2, 100 + i) for i in range(8)]


class TestFaiss(VectorIndexContract):
    make_index = staticmethod(FaissVectorIndex)

    def assert_forgotten(self, index, info):
        assert not (index.data_dir / "indexes" / str(info.id)).exists()

    def saved(self, repository, opened, documents: int = 24):
        """A collection of ``documents`` one-chunk documents, written and flushed."""
        index = opened()
        info = self.collection(repository, index)
        self.write(repository, index, info, *(prepared(f"d{i}", [basis(i, 0.3, i)])
                                               for i in range(documents)))
        index.flush()
        return info

    def in_memory(self, settings, repository, info) -> FaissVectorIndex:
        index = FaissVectorIndex(settings.model_copy(update={"faiss_mmap": False}), repository)
        index.sync(info)
        return index

    def test_a_mapped_reopen_searches_like_memory_then_takes_writes(
            self, settings, repository, opened, caplog):
        info = self.saved(repository, opened)
        mapped = opened()
        mapped.sync(info)
        chunks = mapped._get(info).chunks
        assert chunks.mapped and mapped._get(info).documents.mapped
        memory = self.in_memory(settings, repository, info)
        assert not memory._get(info).chunks.mapped
        for level in ("chunk", "document"):
            for query in QUERIES:
                assert mapped.search(info, query, 5, level) == memory.search(info, query, 5, level)
                assert mapped.search(info, query, 5, level, funnel_dims=4) == memory.search(
                    info, query, 5, level, funnel_dims=4)
        memory.close()

        _, changes = repository.delete_documents(info, ["d1", "d2"])
        mapped.apply(info, changes)
        self.write(repository, mapped, info, prepared("new", [basis(3, 0.01, 7)]))
        assert not chunks.mapped  # read into memory by the first write
        new = self.chunk_ids(repository, info, "new")
        assert mapped.search(info, basis(3), 1)[0][0] == new[0]
        assert set(mapped.ids(info).tolist()) == set(repository.ids(info, "chunk").tolist())
        mapped.flush()
        with caplog.at_level(logging.WARNING):
            again = opened()
            again.sync(info)
        assert "repaired" not in caplog.text
        assert again._get(info).chunks.mapped
        assert set(again.ids(info).tolist()) == set(repository.ids(info, "chunk").tolist())
        assert again.search(info, basis(3), 1)[0][0] == new[0]

    @pytest.mark.parametrize("failing", ["_sync_file", "fault_point"])
    def test_a_save_that_dies_leaves_the_saved_files_usable(
            self, settings, repository, opened, monkeypatch, failing):
        """Dying before any rename keeps every file as it was; dying between the files (the
        chunks renamed, the documents and the state not) is repaired on the next open; a
        process that lives on saves again."""
        info = self.saved(repository, opened)
        directory = settings.data_dir / "indexes" / str(info.id)
        before = {path.name: path.read_bytes() for path in directory.iterdir()}
        mapped = opened()
        mapped.sync(info)
        self.write(repository, mapped, info, prepared("new", [basis(5, 0.01, 9)]))

        def crash(*_: object) -> None:
            raise OSError("the disk went away")

        monkeypatch.setattr(faiss_index, failing, crash)
        with pytest.raises(OSError):
            mapped.flush()
        monkeypatch.undo()
        after = {path.name: path.read_bytes() for path in directory.iterdir()
                 if path.suffix != ".tmp"}
        unchanged = {"documents.faiss", "state.json"} | (
            {"chunks.faiss"} if failing == "_sync_file" else set())
        assert {name: after[name] for name in unchanged} == {
            name: before[name] for name in unchanged}
        new = self.chunk_ids(repository, info, "new")
        assert mapped.search(info, basis(5), 1)[0][0] == new[0]  # still serving
        reopened = opened()
        reopened.sync(info)
        assert set(reopened.ids(info).tolist()) == set(repository.ids(info, "chunk").tolist())
        assert set(reopened.ids(info, "document").tolist()) == set(
            repository.ids(info, "document").tolist())
        assert reopened.search(info, basis(5), 1)[0][0] == new[0]
        assert mapped._get(info).dirty
        mapped.flush()
        state = faiss_index.json.loads((directory / "state.json").read_text())
        assert state["generation"] == repository.generation(info.id)

    def test_a_saved_index_reopens_without_a_repair(self, repository, opened, caplog):
        index = opened()
        info = self.collection(repository, index)
        self.write(repository, index, info, *(prepared(f"d{i}", [basis(i, 0.1, i)])
                                               for i in range(12)))
        _, changes = repository.delete_documents(info, ["d3"])
        index.apply(info, changes)
        index.flush()
        with caplog.at_level(logging.WARNING):
            reopened = opened()
            reopened.sync(info)
        assert "repaired" not in caplog.text
        assert type(reopened._get(info).chunks) is type(index._get(info).chunks)
        assert set(reopened.ids(info).tolist()) == set(repository.ids(info, "chunk").tolist())
        assert reopened.search(info, basis(5), 1) == index.search(info, basis(5), 1)


class TestFaissHnsw(TestFaiss):
    index = "hnsw"
    index_params = {"m": 8, "ef_construction": 16, "ef_search": 8}

    def test_deleted_vectors_are_skipped_then_rebuilt_away(self, repository, opened):
        index = opened()
        info = self.collection(repository, index)
        self.write(repository, index, info, *(prepared(f"d{i}", [basis(i % 4, 0.2, i)])
                                               for i in range(20)))
        gone = [f"d{i}" for i in range(0, 16, 4)]  # 4 of 20: below the rebuild fraction
        gone_ids = {i for name in gone for i in self.chunk_ids(repository, info, name)}
        _, changes = repository.delete_documents(info, gone)
        index.apply(info, changes)
        chunks = index._get(info).chunks
        assert chunks.tombstones == 4
        assert len(chunks) == index.count(info) == 16
        assert set(index.ids(info).tolist()) == set(repository.ids(info, "chunk").tolist())
        hits = index.search(info, basis(0), 20)
        assert len(hits) == 16 and not gone_ids & {i for i, _ in hits}
        index.flush()  # tombstones are saved with the graph
        reopened = opened()
        reopened.sync(info)
        assert reopened._get(info).chunks.tombstones == 4
        assert not gone_ids & {i for i, _ in reopened.search(info, basis(0), 20)}

        _, changes = repository.delete_documents(info, ["d1", "d2"])  # 6 of 20: rebuilt
        reopened.apply(info, changes)
        chunks = reopened._get(info).chunks
        assert (chunks.tombstones, len(chunks)) == (0, 14)
        assert set(reopened.ids(info).tolist()) == set(repository.ids(info, "chunk").tolist())
        assert len(reopened.search(info, basis(1), 20)) == 14

    def test_deletes_on_a_mapped_graph_stay_mapped_and_survive_its_first_add(
            self, repository, opened, caplog):
        """Tombstones live in the id map, in memory: a mapped graph takes deletes and saves
        them without reading the vectors in; its first add reads them in, tombstones kept."""
        info = self.saved(repository, opened, documents=40)
        mapped = opened()
        mapped.sync(info)
        chunks = mapped._get(info).chunks
        gone = {i for name in ("d0", "d8") for i in self.chunk_ids(repository, info, name)}
        _, changes = repository.delete_documents(info, ["d0"])
        mapped.apply(info, changes)
        mapped.flush()  # the graph's file is replaced while it is mapped
        _, changes = repository.delete_documents(info, ["d8"])  # a tombstone not yet saved
        mapped.apply(info, changes)
        assert chunks.mapped and chunks.tombstones == 2
        assert not gone & {i for i, _ in mapped.search(info, basis(0), 40)}
        self.write(repository, mapped, info, prepared("new", [basis(0, 0.01, 3)]))
        assert not chunks.mapped and chunks.tombstones == 2
        hits = {i for i, _ in mapped.search(info, basis(0), 40)}
        assert not gone & hits and set(self.chunk_ids(repository, info, "new")) <= hits
        assert set(mapped.ids(info).tolist()) == set(repository.ids(info, "chunk").tolist())
        mapped.flush()
        with caplog.at_level(logging.WARNING):
            reopened = opened()
            reopened.sync(info)
        assert "repaired" not in caplog.text
        assert reopened._get(info).chunks.tombstones == 2

    def test_a_replaced_document_vector_keeps_its_id_once(self, repository, opened):
        index = opened()
        info = self.collection(repository, index)
        self.write(repository, index, info, prepared("a", [basis(0)]), prepared("b", [basis(1)]))
        self.write(repository, index, info, prepared("a", [basis(2)], version=2))
        documents = index.search(info, basis(2), 5, "document")
        assert [i for i, _ in documents].count(documents[0][0]) == 1
        assert len(documents) == 2 and documents[0][1] > 0.99
        assert sorted(index.ids(info, "document").tolist()) == sorted(
            repository.ids(info, "document").tolist())


class TestFaissIvf(TestFaiss):
    index = "ivf"
    index_params = {"nlist": 4, "nprobe": 1, "train_size": 8}

    def test_exact_until_trained_then_clustered_with_deletes(self, repository, opened):
        index = opened()
        info = self.collection(repository, index)
        self.write(repository, index, info, *(prepared(f"d{i}", [basis(i, 0.3, i)])
                                               for i in range(6)))
        assert not index._get(info).chunks.trained
        self.write(repository, index, info, *(prepared(f"e{i}", [basis(i, 0.3, 50 + i)])
                                               for i in range(30)))
        chunks = index._get(info).chunks
        assert chunks.trained and chunks._index.nlist == 4
        _, changes = repository.delete_documents(info, [f"e{i}" for i in range(10)])
        index.apply(info, changes)
        assert set(index.ids(info).tolist()) == set(repository.ids(info, "chunk").tolist())
        assert len(index.search(info, basis(3), 50)) == 26  # probing 1 of 4 finds fewer: exact
        only = self.chunk_ids(repository, info, "e20")
        allowed = np.asarray(only, dtype=np.int64)
        assert [i for i, _ in index._get(info).chunks.search(basis(0), 3, allowed)] == only

    def test_filter_on_a_trained_index_returns_k(self, repository, opened):
        index = opened()
        info = self.collection(repository, index)
        self.write(repository, index, info, *(
            prepared(f"d{i}", [basis(i, 0.3, i)], {"odd": i % 2}) for i in range(40)))
        hits = index.search(info, basis(0), 10, "chunk", [Condition("odd", 1)])
        assert len(hits) == 10
