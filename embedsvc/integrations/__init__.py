"""Adapters for RAG frameworks (LangChain, LlamaIndex) over the embedsvc clients."""
