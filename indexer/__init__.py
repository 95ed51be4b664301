"""`indexer`: batch indexing of folders and repositories into an embedsvc store."""
