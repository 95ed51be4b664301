"""The langchain-tests standard suites against a real server (see conftest.py)."""

from __future__ import annotations

import uuid

import pytest
from langchain_tests.integration_tests import (
    EmbeddingsIntegrationTests,
    VectorStoreIntegrationTests,
)
from langchain_tests.unit_tests import EmbeddingsUnitTests

from embedsvc.integrations.langchain import EmbedsvcEmbeddings, EmbedsvcVectorStore
from tests_langchain.conftest import API_KEY


class TestEmbeddingsUnit(EmbeddingsUnitTests):
    @property
    def embeddings_class(self) -> type[EmbedsvcEmbeddings]:
        return EmbedsvcEmbeddings

    @property
    def embedding_model_params(self) -> dict:
        return {"target": "127.0.0.1:1", "api_key": "k"}  # constructing connects to nothing

    @property
    def init_from_env_params(self) -> tuple[dict, dict, dict]:
        env = {"EMBEDSVC_TARGET": "10.0.0.1:50051", "EMBEDSVC_API_KEY": "from-env"}
        return env, {}, {"target": "10.0.0.1:50051", "api_key": "from-env"}


class TestEmbeddingsIntegration(EmbeddingsIntegrationTests):
    @pytest.fixture(autouse=True)
    def _server(self, server_target: str) -> None:
        self.target = server_target

    @property
    def embeddings_class(self) -> type[EmbedsvcEmbeddings]:
        return EmbedsvcEmbeddings

    @property
    def embedding_model_params(self) -> dict:
        return {"target": self.target, "api_key": API_KEY}


class TestVectorStore(VectorStoreIntegrationTests):
    @pytest.fixture
    def vectorstore(self, server_target: str):
        """An empty collection per test, deleted afterwards."""
        store = EmbedsvcVectorStore(server_target, collection=f"lc-{uuid.uuid4().hex[:8]}",
                                    api_key=API_KEY)
        try:
            yield store
        finally:
            store.delete()
