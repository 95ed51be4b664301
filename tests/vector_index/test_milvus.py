"""The vector-index contract on the Milvus adapter, against one Milvus Lite for the session,
plus what only a backend with filter fields of its own must get right."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from embedsvc.config import Settings
from embedsvc.storage.milvus_index import MilvusVectorIndex
from embedsvc.types import Condition
from tests.conftest import postgres_schema
from tests.vector_index.contract import VectorIndexContract, basis, prepared


class TestMilvus(VectorIndexContract):
    make_index = staticmethod(MilvusVectorIndex)

    @pytest.fixture
    def database_url(self, postgres_url) -> Iterator[str]:
        """PostgreSQL only: the adapter's SQL is the repository's, already run on both."""
        with postgres_schema(postgres_url) as url:
            yield url

    @pytest.fixture
    def settings(self, tmp_path, database_url, milvus_uri) -> Settings:
        # Each test's store gets collections of its own in the shared Milvus.
        return Settings(data_dir=tmp_path / "data", database_url=database_url,
                        vector_backend="milvus", milvus_uri=milvus_uri,
                        milvus_prefix=f"t{uuid.uuid4().hex[:12]}")

    def assert_forgotten(self, index, info):
        held = index.client.list_collections()
        assert not [name for name in held if name.startswith(f"{index.prefix}_{info.id}_")]
        assert index._applied(info) is None

    def test_new_metadata_reaches_chunks_whose_content_is_unchanged(self, repository, opened):
        index = opened()
        info = self.collection(repository, index)
        odd = 'a "quoted" \\ back\'slash\n and é'
        self.write(repository, index, info, prepared("a", [basis(0), basis(1)], {"k": 1}))
        self.write(repository, index, info, prepared("a", [basis(0), basis(1)], {"k": odd}))
        assert index.search(info, basis(0), 5, "chunk", [Condition("k", 1)]) == []
        hits = index.search(info, basis(0), 5, "chunk", [Condition("k", odd)])
        assert sorted(i for i, _ in hits) == sorted(self.chunk_ids(repository, info, "a"))
        assert len(index.search(info, basis(0), 5, "document", [Condition("k", odd)])) == 1
        # SQL's meaning: 1.0 is 1, "1" and true are not.
        self.write(repository, index, info, prepared("b", [basis(2)], {"n": 1.0, "t": True}))
        assert len(index.search(info, basis(2), 5, "chunk", [Condition("n", 1)])) == 1
        assert index.search(info, basis(2), 5, "chunk", [Condition("n", "1")]) == []
        assert index.search(info, basis(2), 5, "chunk", [Condition("t", 1)]) == []

    def test_a_write_after_a_missed_one_repairs_first(self, repository, opened):
        index = opened()
        info = self.collection(repository, index)
        repository.write_documents(info, [prepared("lost", [basis(3)])])  # never mirrored
        self.write(repository, index, info, prepared("next", [basis(4)]))
        assert set(index.ids(info).tolist()) == set(repository.ids(info, "chunk").tolist())
        assert index.search(info, basis(3), 1)[0][0] == self.chunk_ids(repository, info,
                                                                      "lost")[0]
