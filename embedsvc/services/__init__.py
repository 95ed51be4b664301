"""The use cases, on the ports: collections, documents (prepare + commit), search, embedding.

They speak `embedsvc.types` and know nothing of gRPC, SQL or FAISS.
"""
