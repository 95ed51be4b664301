"""ChunkingService: how the server would chunk a text, with nothing stored."""

from __future__ import annotations

from embedsvc import convert
from embedsvc.core import Core
from embedsvc.server.rpc import ServiceSpec, rpc
from embedsvc.v1 import chunking_pb2, chunking_pb2_grpc


class ChunkingServicer(chunking_pb2_grpc.ChunkingServiceServicer):
    def __init__(self, core: Core) -> None:
        self.core = core

    @rpc
    def Chunk(self, request, context):  # noqa: N802
        result = self.core.chunk(
            request.text, language=request.language, path=request.path,
            max_tokens=request.max_tokens, overlap_sentences=request.overlap_sentences,
            model=request.model,
        )
        return convert.chunked_out(result)


SERVICE = ServiceSpec(
    chunking_pb2.DESCRIPTOR.services_by_name["ChunkingService"].full_name,
    chunking_pb2_grpc.add_ChunkingServiceServicer_to_server,
    ChunkingServicer,
)
