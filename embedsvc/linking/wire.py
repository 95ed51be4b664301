"""Linking types to and from their protobuf messages (shared by the servicer and the client)."""

from __future__ import annotations

from embedsvc.linking.concepts import Candidate, KnowledgeBaseInfo, Linked, Mention
from embedsvc.v1 import linking_pb2


def mention_out(mention: Mention) -> linking_pb2.Mention:
    return linking_pb2.Mention(
        text=mention.text, context=mention.context, start=mention.start, end=mention.end
    )


def mention_in(message: linking_pb2.Mention) -> Mention:
    return Mention(message.text, message.context, message.start, message.end)


def linked_out(linked: Linked) -> linking_pb2.LinkedMention:
    return linking_pb2.LinkedMention(
        mention=linked.mention, nil=linked.nil, expansion=linked.expansion,
        candidates=[
            linking_pb2.Candidate(
                concept_id=c.concept_id, name=c.name, score=c.score, sources=list(c.sources),
                alias=c.alias,
            )
            for c in linked.candidates
        ],
    )


def linked_in(message: linking_pb2.LinkedMention, kb_version: int = 0) -> Linked:
    return Linked(
        message.mention,
        [
            Candidate(c.concept_id, c.name, c.score, tuple(c.sources), c.alias)
            for c in message.candidates
        ],
        message.nil, message.expansion, kb_version,
    )


def kb_out(info: KnowledgeBaseInfo) -> linking_pb2.KnowledgeBase:
    return linking_pb2.KnowledgeBase(
        name=info.name, version=info.version, model=info.model, concepts=info.concepts,
        aliases=info.aliases, format=info.source_format, collection=info.collection,
        reranker=info.reranker,
    )


def kb_in(message: linking_pb2.KnowledgeBase) -> KnowledgeBaseInfo:
    return KnowledgeBaseInfo(
        message.name, message.version, message.model, message.concepts, message.aliases,
        message.format, message.collection, message.reranker,
    )
