"""The vector-index contract on the FAISS adapter."""

from embedsvc.storage.faiss_index import FaissVectorIndex
from tests.vector_index.contract import VectorIndexContract


class TestFaiss(VectorIndexContract):
    make_index = staticmethod(FaissVectorIndex)
