"""The vector-index contract on the FAISS adapter."""

from embedsvc.storage.faiss_index import FaissVectorIndex
from tests.vector_index.contract import VectorIndexContract


class TestFaiss(VectorIndexContract):
    make_index = staticmethod(FaissVectorIndex)

    def assert_forgotten(self, index, info):
        assert not (index.data_dir / "indexes" / str(info.id)).exists()
