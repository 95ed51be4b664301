"""EmbedStream: many embed requests on one stream, re-batched on the server.

A reader thread takes requests off the stream as they arrive; the answering side embeds the
texts of every request waiting at once (consecutive ones with the same options, up to a
request's worth of texts) in one call, so a client streaming one text per message pays for
well-filled forward passes instead of one padded pass per text. Answers keep request order.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from embedsvc.errors import InvalidArgument
from embedsvc.types import Embedded
from embedsvc.v1 import embedding_pb2

EmbedFn = Callable[[embedding_pb2.EmbedRequest, list[str]], Embedded]
_END = object()


class _Failed:
    def __init__(self, error: BaseException) -> None:
        self.error = error


def _read(requests: Iterable[Any], inbox: queue.Queue) -> None:
    try:
        for request in requests:
            inbox.put(request)
        inbox.put(_END)
    except BaseException as error:  # the client cancelled, or a message did not parse
        inbox.put(_Failed(error))


def _options(request: embedding_pb2.EmbedRequest) -> bytes:
    """Everything but the texts: requests that agree on it can share one embed call."""
    options = embedding_pb2.EmbedRequest()
    options.CopyFrom(request)
    del options.texts[:]
    return options.SerializeToString(deterministic=True)


def _slice(result: Embedded, start: int, stop: int) -> Embedded:
    return Embedded(result.vectors[start:stop], result.token_counts[start:stop],
                    result.truncated[start:stop], result.model)


class Rebatcher:
    """Answers a stream of EmbedRequests with ``embed(options_request, texts)``."""

    def __init__(self, embed: EmbedFn, max_texts: int) -> None:
        self.embed = embed
        self.max_texts = max_texts

    def answer(self, requests: Iterable[Any]) -> Iterator[Embedded]:
        inbox: queue.Queue = queue.Queue()
        threading.Thread(target=_read, args=(requests, inbox), name="embed-stream-reader",
                         daemon=True).start()
        position = 0
        carried: Any = None
        while True:
            first = carried if carried is not None else inbox.get()
            carried = None
            if first is _END:
                return
            if isinstance(first, _Failed):
                raise first.error
            group = [first]
            texts = len(first.texts)
            key = _options(first)
            while texts < self.max_texts:
                try:
                    following = inbox.get_nowait()
                except queue.Empty:
                    break
                if (following is _END or isinstance(following, _Failed)
                        or _options(following) != key
                        or texts + len(following.texts) > self.max_texts):
                    carried = following
                    break
                group.append(following)
                texts += len(following.texts)
            yield from self._embed_group(group, position)
            position += len(group)

    def _embed_group(self, group: list[Any], position: int) -> Iterator[Embedded]:
        texts = [text for request in group for text in request.texts]
        try:
            result = self.embed(group[0], texts)
        except InvalidArgument:
            yield from self._one_by_one(group, position)  # say which request is at fault
            return
        start = 0
        for request in group:
            stop = start + len(request.texts)
            yield _slice(result, start, stop)
            start = stop

    def _one_by_one(self, group: list[Any], position: int) -> Iterator[Embedded]:
        for offset, request in enumerate(group):
            try:
                yield self.embed(request, list(request.texts))
            except InvalidArgument as error:
                raise InvalidArgument(f"stream request {position + offset}: {error}",
                                      error.field) from None
