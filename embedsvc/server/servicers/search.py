"""SearchService: chunk- and document-level search, dense, lexical or hybrid, with filters."""

from __future__ import annotations

import numpy as np

from embedsvc import convert
from embedsvc.core import Core
from embedsvc.errors import InvalidArgument
from embedsvc.server.rpc import ServiceSpec, deadline, rpc
from embedsvc.v1 import search_pb2, search_pb2_grpc


class SearchServicer(search_pb2_grpc.SearchServiceServicer):
    def __init__(self, core: Core) -> None:
        self.core = core

    @rpc
    def Search(self, request, context):  # noqa: N802
        if request.level not in convert.LEVEL_NAMES:
            raise InvalidArgument(f"unknown level {request.level}; use CHUNK or DOCUMENT", "level")
        if request.mode not in convert.MODE_NAMES:
            raise InvalidArgument(
                f"unknown mode {request.mode}; use DENSE, LEXICAL or HYBRID", "mode"
            )
        hits = self.core.search(
            request.collection, request.query, request.k or 10,
            convert.conditions_in(request.filter), convert.LEVEL_NAMES[request.level],
            convert.profile_overrides(request.query_profile),
            is_active=context.is_active, deadline=deadline(context),
            mode=convert.MODE_NAMES[request.mode], funnel_dims=request.funnel_dims,
            query_vector=np.asarray(request.query_vector, dtype=np.float32)
            if request.query_vector else None,
        )
        return search_pb2.SearchResponse(hits=[convert.hit_out(hit) for hit in hits])


SERVICE = ServiceSpec(
    search_pb2.DESCRIPTOR.services_by_name["SearchService"].full_name,
    search_pb2_grpc.add_SearchServiceServicer_to_server,
    SearchServicer,
)
