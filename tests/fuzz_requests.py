"""Random and adversarial requests for every RPC, as hypothesis strategies (used by the fuzz
test in the suite and by the longer run in bench/fuzz.py).

Messages are sent through the raw stubs, so the client's own checks never filter them; what a
message cannot carry (a negative uint32, a lone surrogate) is dropped before sending.
"""

from __future__ import annotations

from collections.abc import Callable

import grpc
from google.protobuf import json_format, struct_pb2
from hypothesis import strategies as st

from embedsvc.client import Client
from embedsvc.titles.types import CatalogEntry
from embedsvc.v1 import (
    admin_pb2,
    admin_pb2_grpc,
    chunking_pb2,
    chunking_pb2_grpc,
    embedding_pb2,
    embedding_pb2_grpc,
    index_pb2,
    index_pb2_grpc,
    linking_pb2,
    linking_pb2_grpc,
    search_pb2,
    search_pb2_grpc,
    titles_pb2,
    titles_pb2_grpc,
    types_pb2,
)

KEPT = "kb"  # the collection the fuzzer never deletes; its "keep" document must survive
CATALOG = "jobs"  # a job-title catalog and a knowledge base loaded before fuzzing
KB = "places"
KB_CSV = "concept_id,name,aliases\nD1,Germany,Deutschland|Federal Republic\nD2,France,\n"
FAILURES = {grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN}

ADVERSARIAL_TEXT = ["", " ", "\x00", "\n\t", "a\x00b", "é" * 40, "🙂" * 30, "x" * 60_000,
                    "'; DROP TABLE chunks; --", "%s%n", "\u202e", "kb", "keep", "²", "1" * 20]
WORDS = ["cats", "sleep", "rain", "Hamburg", "def", "return", "x", "database", "open", "the"]


def mostly(valid: st.SearchStrategy, wild: st.SearchStrategy) -> st.SearchStrategy:
    """Most draws well-formed, so requests get past the first check and reach deep."""
    return st.integers(0, 4).flatmap(lambda draw: wild if draw == 4 else valid)


texts = mostly(st.lists(st.sampled_from(WORDS), min_size=1, max_size=30).map(" ".join),
               st.text(max_size=80) | st.sampled_from(ADVERSARIAL_TEXT))
names = mostly(st.sampled_from([KEPT, "other"]),
               st.sampled_from(["missing", "abc\n", "", "x" * 200]) | texts)
numbers = st.one_of(st.integers(-(2**63), 2**63), st.floats(allow_nan=True, allow_infinity=True))
small = mostly(st.integers(0, 20), st.integers(0, 2**32 - 1) | st.sampled_from([385, 2**31]))
scalars = st.one_of(st.none(), st.booleans(), numbers, texts)
values = mostly(
    st.integers(0, 3) | st.sampled_from(["a", "b"]),
    st.recursive(
        scalars,
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(texts, inner, max_size=3),
        max_leaves=8,
    ),
)
keys = mostly(st.sampled_from(["topic", "n", "tag"]), texts)
metadata = st.dictionaries(keys, values, max_size=4)
document_ids = mostly(st.sampled_from([f"d{i}" for i in range(8)]), texts).filter(
    lambda doc_id: doc_id != "keep")  # the one document that must survive


def profiles():
    return mostly(st.just(types_pb2.EncoderProfile()), st.builds(
        types_pb2.EncoderProfile, layers=small, dimensions=small,
        tempscale=st.floats(allow_nan=True, allow_infinity=True, width=32),
        precision=st.sampled_from(["", "fp32", "bf16", "int8", "\x00"]) | texts,
    ))


def documents():
    languages = mostly(st.sampled_from(["", "python"]), st.sampled_from(["go", "cobol"]) | texts)
    return st.builds(_document, document_ids, texts, languages, metadata)


def _document(doc_id: str, text: str, language: str, meta: dict) -> types_pb2.Document:
    struct = struct_pb2.Struct()
    struct.update(meta)
    return types_pb2.Document(id=doc_id, text=text, language=language, metadata=struct)


def _condition(key: str, value: object) -> types_pb2.Condition:
    condition = types_pb2.Condition(key=key)
    json_format.ParseDict(value, condition.equals)
    return condition


def _prepared(document: types_pb2.Document, spans: list[tuple[int, int]],
              vectors: list[list[float]]) -> index_pb2.PreparedDocument:
    chunks = [
        index_pb2.PreparedChunk(
            chunk=types_pb2.Chunk(ordinal=i, start_char=a, end_char=b,
                                  text=document.text[a:b]),
            vector=vector,
        )
        for i, ((a, b), vector) in enumerate(zip(spans, vectors, strict=False))
    ]
    return index_pb2.PreparedDocument(document=document, chunks=chunks)


vectors = st.lists(
    st.lists(st.floats(allow_nan=True, allow_infinity=True, width=32), max_size=400)
    | st.just([0.1] * 384),
    max_size=3,
)
spans = st.lists(st.tuples(st.integers(-5, 300), st.integers(-5, 300)), max_size=3)

catalog_names = mostly(st.sampled_from([CATALOG, "other"]), names)
kb_names = mostly(st.sampled_from([KB, "other"]), names)
scores = mostly(st.floats(0, 1), st.floats(allow_nan=True, allow_infinity=True))
labels = st.lists(texts, max_size=3)
catalog_entries = st.lists(st.builds(
    titles_pb2.CatalogEntry, id=mostly(st.sampled_from(["1", "2", "3"]), texts), title=texts,
    alt_labels=labels, skills=labels, description=mostly(st.just(""), texts),
), max_size=4)
kb_contents = mostly(
    st.sampled_from([KB_CSV, '{"concept_id": "X", "canonical_name": "Spain"}',
                     "[Term]\nid: P:1\nname: Portugal\n"]),
    texts | st.sampled_from(["concept_id,name\n,\n", "{", "[Term]\nid:\n", "a,b\n" * 3]),
)
mentions = st.lists(st.builds(
    linking_pb2.Mention, text=texts, context=mostly(st.just(""), texts),
    start=mostly(st.just(0), small), end=mostly(st.just(0), small),
), max_size=4)

# method -> (stub class, attribute, strategy of requests)
REQUESTS: dict[str, tuple[type, str, st.SearchStrategy]] = {
    "Embed": (embedding_pb2_grpc.EmbeddingServiceStub, "Embed", st.builds(
        embedding_pb2.EmbedRequest, texts=st.lists(texts, max_size=10), normalize=st.booleans(),
        dimensions=mostly(st.integers(0, 384), small), on_overflow=mostly(
            st.integers(0, 2), st.integers(3, 9)),
        profile=profiles(), model=mostly(st.just(""), st.just("nope") | texts),
        prompt=mostly(st.just(""), texts),
    )),
    "Info": (embedding_pb2_grpc.EmbeddingServiceStub, "Info", st.builds(
        embedding_pb2.InfoRequest, model=mostly(st.just(""), st.just("nope") | texts))),
    "CreateCollection": (index_pb2_grpc.IndexServiceStub, "CreateCollection", st.builds(
        index_pb2.CreateCollectionRequest, name=names, model=st.sampled_from(["", "nope"]),
        dimensions=small, metric=mostly(st.integers(0, 2), st.integers(3, 5)),
        max_chunk_tokens=mostly(st.sampled_from([0, 32, 64]), small), profile=profiles(),
        chunking=st.sampled_from(["", "auto", "text", "code", "none", "bogus"]),
        query_prompt=mostly(st.just(""), texts), document_prompt=mostly(st.just(""), texts),
    )),
    "GetCollection": (index_pb2_grpc.IndexServiceStub, "GetCollection",
                      st.builds(index_pb2.GetCollectionRequest, name=names)),
    "ListCollections": (index_pb2_grpc.IndexServiceStub, "ListCollections", st.builds(
        index_pb2.ListCollectionsRequest, page_size=small,
        page_token=mostly(st.just(""), texts))),
    "DeleteCollection": (index_pb2_grpc.IndexServiceStub, "DeleteCollection", st.builds(
        index_pb2.DeleteCollectionRequest, name=names.filter(lambda name: name != KEPT))),
    "UpsertDocuments": (index_pb2_grpc.IndexServiceStub, "UpsertDocuments", st.one_of(
        st.builds(index_pb2.UpsertDocumentsRequest, collection=names,
                  documents=st.lists(documents(), max_size=4)),
        st.builds(
            index_pb2.UpsertDocumentsRequest, collection=names,
            prepared=st.lists(st.builds(_prepared, documents(), spans, vectors), max_size=2),
            model_fingerprint=st.sampled_from(["", "0" * 32]) | texts,
        ),
    )),
    "GetDocument": (index_pb2_grpc.IndexServiceStub, "GetDocument", st.builds(
        index_pb2.GetDocumentRequest, collection=names, id=document_ids | st.just("keep"))),
    "ListDocuments": (index_pb2_grpc.IndexServiceStub, "ListDocuments", st.builds(
        index_pb2.ListDocumentsRequest, collection=names, page_size=small,
        page_token=mostly(st.just(""), texts), id_prefix=mostly(st.just(""), texts),
    )),
    "DeleteDocuments": (index_pb2_grpc.IndexServiceStub, "DeleteDocuments", st.builds(
        index_pb2.DeleteDocumentsRequest, collection=names,
        ids=st.lists(document_ids, max_size=5),
    )),
    "Search": (search_pb2_grpc.SearchServiceStub, "Search", st.builds(
        search_pb2.SearchRequest, collection=names, query=texts, k=small,
        filter=st.builds(types_pb2.Filter, conditions=st.lists(
            st.builds(_condition, keys, values), max_size=3)),
        level=mostly(st.integers(0, 2), st.integers(3, 5)), query_profile=profiles(),
    )),
    "Chunk": (chunking_pb2_grpc.ChunkingServiceStub, "Chunk", st.builds(
        chunking_pb2.ChunkRequest, text=texts,
        language=mostly(st.sampled_from(["", "python"]), st.just("cobol") | texts),
        path=mostly(st.sampled_from(["", "a.py", "b.go"]), texts),
        max_tokens=mostly(st.sampled_from([0, 32, 128]), small),
        overlap_sentences=mostly(st.integers(0, 2), small), model=mostly(st.just(""), texts),
    )),
    "LoadCatalog": (titles_pb2_grpc.TitleNormalizationServiceStub, "LoadCatalog", st.builds(
        titles_pb2.LoadCatalogRequest, catalog=catalog_names, entries=catalog_entries,
        model=mostly(st.just(""), st.just("nope") | texts),
    )),
    "ListCatalogs": (titles_pb2_grpc.TitleNormalizationServiceStub, "ListCatalogs",
                     st.just(titles_pb2.ListCatalogsRequest())),
    "NormalizeTitles": (titles_pb2_grpc.TitleNormalizationServiceStub, "NormalizeTitles",
                        st.builds(
        titles_pb2.NormalizeTitlesRequest, catalog=catalog_names, queries=st.lists(st.builds(
            titles_pb2.TitleQuery, title=texts, skills=labels,
            description=mostly(st.just(""), texts)), max_size=4),
        k=small, no_cleanup=st.booleans(), threshold=scores,
    )),
    "LoadKnowledgeBase": (linking_pb2_grpc.EntityLinkingServiceStub, "LoadKnowledgeBase",
                          st.builds(
        linking_pb2.LoadKnowledgeBaseRequest, kb=kb_names, content=kb_contents,
        format=st.sampled_from(["", "csv", "jsonl", "obo", "bogus"]),
        model=mostly(st.just(""), st.just("nope") | texts),
        filename=mostly(st.sampled_from(["", "kb.csv", "kb.obo"]), texts),
    )),
    "ListKnowledgeBases": (linking_pb2_grpc.EntityLinkingServiceStub, "ListKnowledgeBases",
                           st.just(linking_pb2.ListKnowledgeBasesRequest())),
    "LinkEntities": (linking_pb2_grpc.EntityLinkingServiceStub, "LinkEntities", st.builds(
        linking_pb2.LinkEntitiesRequest, kb=kb_names, mentions=mentions, k=small,
        rerank=st.booleans(), threshold=scores,
        generators=st.lists(st.sampled_from(["sparse", "dense", "bogus", ""]), max_size=3),
        no_abbreviation_expansion=st.booleans(),
    )),
    "Backup": (admin_pb2_grpc.AdminServiceStub, "Backup", st.builds(
        admin_pb2.BackupRequest, directory=st.sampled_from(["", "relative/dir", "/"]))),
}


def seed(client: Client) -> None:
    """What the fuzzer finds before it starts: a kept document, a catalog and a knowledge base
    (on the served default model), so requests reach past the not-found checks."""
    client.create_collection(KEPT)
    client.upsert(KEPT, [{"id": "keep", "text": "This document must survive the fuzzer."}])
    client.load_catalog(CATALOG, [CatalogEntry("1", "Software Developer", ("Programmer",))])
    client.load_knowledge_base(KB, KB_CSV, "csv", model=client.info().model.name)


def intact(client: Client) -> bool:
    """The seeded data came through: the kept document is found, the catalog and KB listed."""
    return (
        client.health() == "SERVING"
        and client.get_document(KEPT, "keep").document.text.startswith("This document")
        and client.search(KEPT, "survive the fuzzer", k=1)[0].document_id == "keep"
        and CATALOG in {catalog.name for catalog in client.catalogs()}
        and KB in {kb.name for kb in client.knowledge_bases()}
    )


def sender(channel: grpc.Channel) -> Callable[[str, object], grpc.StatusCode]:
    """A function sending one request and returning the status it got."""
    stubs = {name: getattr(stub(channel), attribute)
             for name, (stub, attribute, _) in REQUESTS.items()}

    def send(method: str, request: object) -> grpc.StatusCode:
        try:
            stubs[method](request, timeout=120)
        except grpc.RpcError as error:
            return error.code()
        return grpc.StatusCode.OK

    return send


def sendable(request: object) -> bool:
    """Whether protobuf can serialize the message (lone surrogates cannot be UTF-8)."""
    try:
        request.SerializeToString()
    except (ValueError, UnicodeEncodeError):
        return False
    return True

