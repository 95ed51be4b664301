"""EntityLinkingService: link mentions to a terminology's concepts; load terminologies."""

from __future__ import annotations

from embedsvc.core import Core
from embedsvc.linking import wire
from embedsvc.server.rpc import ServiceSpec, deadline, rpc
from embedsvc.v1 import linking_pb2, linking_pb2_grpc


class EntityLinkingServicer(linking_pb2_grpc.EntityLinkingServiceServicer):
    def __init__(self, core: Core) -> None:
        self.core = core

    @rpc
    def LinkEntities(self, request, context):  # noqa: N802
        results = self.core.link_entities(
            request.kb, [wire.mention_in(m) for m in request.mentions], request.k or 10,
            request.threshold, list(request.generators),
            not request.no_abbreviation_expansion, request.rerank,
            is_active=context.is_active, deadline=deadline(context),
        )
        return linking_pb2.LinkEntitiesResponse(
            results=[wire.linked_out(result) for result in results],
            kb_version=results[0].kb_version,
        )

    @rpc
    def LoadKnowledgeBase(self, request, context):  # noqa: N802
        return wire.kb_out(self.core.load_knowledge_base(
            request.kb, request.content, request.format, request.model, request.filename,
            request.reranker,
        ))

    @rpc
    def ListKnowledgeBases(self, request, context):  # noqa: N802
        return linking_pb2.ListKnowledgeBasesResponse(
            knowledge_bases=[wire.kb_out(info) for info in self.core.knowledge_bases()]
        )


SERVICE = ServiceSpec(
    linking_pb2.DESCRIPTOR.services_by_name["EntityLinkingService"].full_name,
    linking_pb2_grpc.add_EntityLinkingServiceServicer_to_server,
    EntityLinkingServicer,
)
