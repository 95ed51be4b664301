"""EmbeddingService: Embed, EmbedStream, Info and Tokenize."""

from __future__ import annotations

from embedsvc import convert
from embedsvc.core import Core
from embedsvc.errors import InvalidArgument
from embedsvc.server.rpc import ServiceSpec, deadline, rpc, rpc_stream
from embedsvc.server.streaming import Rebatcher
from embedsvc.types import Embedded
from embedsvc.v1 import embedding_pb2, embedding_pb2_grpc


class EmbeddingServicer(embedding_pb2_grpc.EmbeddingServiceServicer):
    def __init__(self, core: Core) -> None:
        self.core = core

    def _embed(self, request, texts: list[str], context) -> Embedded:
        """``texts`` embedded with ``request``'s options."""
        if request.on_overflow not in embedding_pb2.OverflowPolicy.values():
            raise InvalidArgument(
                f"unknown on_overflow {request.on_overflow}; use TRUNCATE or ERROR"
            )
        return self.core.embed(
            texts,
            normalize=request.normalize if request.HasField("normalize") else True,
            dimensions=request.dimensions or None,
            allow_truncation=request.on_overflow != embedding_pb2.OVERFLOW_POLICY_ERROR,
            profile=convert.profile_overrides(request.profile), model=request.model,
            prompt=request.prompt, is_active=context.is_active, deadline=deadline(context),
        )

    @rpc
    def Embed(self, request, context):  # noqa: N802 - gRPC signature
        return convert.embedded_out(self._embed(request, list(request.texts), context))

    @rpc_stream
    def EmbedStream(self, request_iterator, context):  # noqa: N802
        rebatcher = Rebatcher(
            lambda request, texts: self._embed(request, texts, context),
            self.core.settings.max_batch_texts,
        )
        for result in rebatcher.answer(request_iterator):
            yield convert.embedded_out(result)

    @rpc
    def Info(self, request, context):  # noqa: N802
        return convert.info_out(self.core.info(request.model))

    @rpc
    def Tokenize(self, request, context):  # noqa: N802
        tokenized, model = self.core.tokenize(
            list(request.texts), model=request.model, collection=request.collection,
            add_special_tokens=(request.add_special_tokens
                                if request.HasField("add_special_tokens") else True),
        )
        return convert.tokenized_out(tokenized, model)


SERVICE = ServiceSpec(
    embedding_pb2.DESCRIPTOR.services_by_name["EmbeddingService"].full_name,
    embedding_pb2_grpc.add_EmbeddingServiceServicer_to_server,
    EmbeddingServicer,
)
