"""One gRPC servicer per file: a thin mapping between protobuf messages and the core."""
