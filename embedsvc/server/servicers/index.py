"""IndexService: collections and their documents."""

from __future__ import annotations

from embedsvc import convert
from embedsvc.core import Core
from embedsvc.errors import InvalidArgument
from embedsvc.server.rpc import ServiceSpec, rpc
from embedsvc.v1 import index_pb2, index_pb2_grpc


class IndexServicer(index_pb2_grpc.IndexServiceServicer):
    def __init__(self, core: Core) -> None:
        self.core = core

    @rpc
    def CreateCollection(self, request, context):  # noqa: N802
        if request.metric not in convert.METRIC_NAMES:
            raise InvalidArgument(f"unknown metric {request.metric}; use COSINE or L2")
        info = self.core.create_collection(
            request.name, model=request.model, dimensions=request.dimensions,
            metric=convert.METRIC_NAMES[request.metric],
            max_chunk_tokens=request.max_chunk_tokens,
            profile=convert.profile_overrides(request.profile),
            chunking=request.chunking or "auto",
            query_prompt=request.query_prompt if request.HasField("query_prompt") else None,
            document_prompt=(
                request.document_prompt if request.HasField("document_prompt") else None
            ),
            index=request.index, index_params=dict(request.index_params),
        )
        return convert.collection_out(info)

    @rpc
    def GetCollection(self, request, context):  # noqa: N802
        return convert.collection_out(self.core.get_collection(request.name))

    @rpc
    def ListCollections(self, request, context):  # noqa: N802
        page = self.core.list_collections(request.page_size, request.page_token)
        return index_pb2.ListCollectionsResponse(
            collections=[convert.collection_out(info) for info in page.items],
            next_page_token=page.next_page_token,
        )

    @rpc
    def DeleteCollection(self, request, context):  # noqa: N802
        self.core.delete_collection(request.name)
        return index_pb2.DeleteCollectionResponse()

    @rpc
    def UpsertDocuments(self, request, context):  # noqa: N802
        if request.documents and request.prepared:
            raise InvalidArgument(
                "send documents or prepared documents in one request, not both"
            )
        if request.prepared:
            results = self.core.upsert_prepared(
                request.collection, [convert.prepared_in(p) for p in request.prepared],
                request.model_fingerprint,
            )
        else:
            results = self.core.upsert(
                request.collection, [convert.document_in(d) for d in request.documents]
            )
        return index_pb2.UpsertDocumentsResponse(results=[convert.result_out(r) for r in results])

    @rpc
    def GetDocument(self, request, context):  # noqa: N802
        return convert.stored_document_out(self.core.get_document(request.collection, request.id))

    @rpc
    def ListDocuments(self, request, context):  # noqa: N802
        page = self.core.list_documents(
            request.collection, request.page_size, request.page_token, request.id_prefix
        )
        return index_pb2.ListDocumentsResponse(
            ids=[doc.id for doc in page.items],
            documents=[convert.summary_out(doc) for doc in page.items],
            next_page_token=page.next_page_token,
        )

    @rpc
    def DeleteDocuments(self, request, context):  # noqa: N802
        return convert.deleted_out(
            self.core.delete_documents(request.collection, list(request.ids))
        )


SERVICE = ServiceSpec(
    index_pb2.DESCRIPTOR.services_by_name["IndexService"].full_name,
    index_pb2_grpc.add_IndexServiceServicer_to_server,
    IndexServicer,
)
