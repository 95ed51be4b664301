"""The vector-index contract on the FAISS adapter, once per index type, plus what only the
approximate indexes must get right: HNSW tombstones and rebuilds, IVF training."""

from __future__ import annotations

import logging

import numpy as np

from embedsvc.storage.faiss_index import FaissVectorIndex
from embedsvc.types import Condition
from tests.vector_index.contract import VectorIndexContract, basis, prepared


class TestFaiss(VectorIndexContract):
    make_index = staticmethod(FaissVectorIndex)

    def assert_forgotten(self, index, info):
        assert not (index.data_dir / "indexes" / str(info.id)).exists()

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
