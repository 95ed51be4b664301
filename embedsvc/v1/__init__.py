"""Generated gRPC stubs for the embedsvc.v1 API (make protos regenerates them)."""
