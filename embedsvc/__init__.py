"""embedsvc: a retrieval and embedding service for long documents and source code."""

__version__ = "0.1.0"
