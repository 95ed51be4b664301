"""EmbeddingService: Embed and Info."""

from __future__ import annotations

from embedsvc import convert
from embedsvc.core import Core
from embedsvc.errors import InvalidArgument
from embedsvc.server.rpc import ServiceSpec, deadline, rpc
from embedsvc.v1 import embedding_pb2, embedding_pb2_grpc


class EmbeddingServicer(embedding_pb2_grpc.EmbeddingServiceServicer):
    def __init__(self, core: Core) -> None:
        self.core = core

    @rpc
    def Embed(self, request, context):  # noqa: N802 - gRPC signature
        if request.on_overflow not in embedding_pb2.OverflowPolicy.values():
            raise InvalidArgument(
                f"unknown on_overflow {request.on_overflow}; use TRUNCATE or ERROR"
            )
        result = self.core.embed(
            list(request.texts),
            normalize=request.normalize if request.HasField("normalize") else True,
            dimensions=request.dimensions or None,
            allow_truncation=request.on_overflow != embedding_pb2.OVERFLOW_POLICY_ERROR,
            profile=convert.profile_overrides(request.profile), model=request.model,
            prompt=request.prompt, is_active=context.is_active, deadline=deadline(context),
        )
        return convert.embedded_out(result)

    @rpc
    def Info(self, request, context):  # noqa: N802
        return convert.info_out(self.core.info(request.model))


SERVICE = ServiceSpec(
    embedding_pb2.DESCRIPTOR.services_by_name["EmbeddingService"].full_name,
    embedding_pb2_grpc.add_EmbeddingServiceServicer_to_server,
    EmbeddingServicer,
)
