"""TitleNormalizationService: load catalogs, normalize raw job titles against them."""

from __future__ import annotations

from embedsvc.core import Core
from embedsvc.server.rpc import ServiceSpec, rpc
from embedsvc.titles import convert
from embedsvc.v1 import titles_pb2, titles_pb2_grpc


class TitleNormalizationServicer(titles_pb2_grpc.TitleNormalizationServiceServicer):
    def __init__(self, core: Core) -> None:
        self.core = core

    @rpc
    def LoadCatalog(self, request, context):  # noqa: N802
        entries = [convert.entry_in(entry) for entry in request.entries]
        return convert.load_out(self.core.load_catalog(request.catalog, entries, request.model))

    @rpc
    def ListCatalogs(self, request, context):  # noqa: N802
        return titles_pb2.ListCatalogsResponse(
            catalogs=[convert.catalog_out(info) for info in self.core.catalogs()]
        )

    @rpc
    def NormalizeTitles(self, request, context):  # noqa: N802
        results = self.core.normalize_titles(
            request.catalog, [convert.query_in(query) for query in request.queries],
            request.k or 10, not request.no_cleanup,
            request.threshold if request.HasField("threshold") else None,
        )
        return titles_pb2.NormalizeTitlesResponse(
            results=[convert.normalized_out(result) for result in results]
        )


SERVICE = ServiceSpec(
    titles_pb2.DESCRIPTOR.services_by_name["TitleNormalizationService"].full_name,
    titles_pb2_grpc.add_TitleNormalizationServiceServicer_to_server,
    TitleNormalizationServicer,
)
