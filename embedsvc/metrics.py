"""Prometheus metrics, in one registry, named `embedsvc_*` (the README lists them).

The request latency is split like text-embeddings-inference's `te_*` metrics: time queued
before the first forward pass, tokenization, and inference. Recording is cheap and always on;
`serve` exposes them over HTTP only when a metrics port is set.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

REGISTRY = CollectorRegistry()
_FAST = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
_SIZES = (1, 2, 4, 8, 16, 32, 64, 128, 256)
_TOKENS = (64, 256, 1024, 2048, 4096, 8192, 16384, 32768)

REQUESTS = Counter("embedsvc_requests", "RPCs answered, by method and status code",
                   ["method", "code"], registry=REGISTRY)
REQUEST_SECONDS = Histogram("embedsvc_request_duration_seconds", "RPC latency, by method",
                            ["method"], buckets=_FAST, registry=REGISTRY)
QUEUE_SECONDS = Histogram("embedsvc_queue_duration_seconds",
                          "Time an encode request waited before its first forward pass",
                          buckets=_FAST, registry=REGISTRY)
TOKENIZATION_SECONDS = Histogram("embedsvc_tokenization_duration_seconds",
                                 "Time spent counting tokens of texts to encode",
                                 buckets=_FAST, registry=REGISTRY)
INFERENCE_SECONDS = Histogram("embedsvc_inference_duration_seconds",
                              "Time of one forward pass", buckets=_FAST, registry=REGISTRY)
BATCH_TEXTS = Histogram("embedsvc_batch_texts", "Texts in one forward pass",
                        buckets=_SIZES, registry=REGISTRY)
BATCH_TOKENS = Histogram("embedsvc_batch_padded_tokens",
                         "Padded tokens (longest text x texts) of one forward pass",
                         buckets=_TOKENS, registry=REGISTRY)
QUEUE_TEXTS = Gauge("embedsvc_queue_texts", "Texts accepted for encoding and not yet done",
                    registry=REGISTRY)
CHUNKS = Counter("embedsvc_chunks", "Chunks written by upserts, embedded or reused",
                 ["outcome"], registry=REGISTRY)
INDEX_SAVE_SECONDS = Histogram("embedsvc_index_save_duration_seconds",
                               "Time to save one collection's vector index",
                               buckets=_FAST, registry=REGISTRY)


class IndexSizes(Collector):
    """`embedsvc_index_vectors{collection, level}`, read from the vector index at scrape."""

    def __init__(self, sizes: Callable[[], Iterator[tuple[str, str, int]]]) -> None:
        self._sizes = sizes

    def collect(self):
        family = GaugeMetricFamily("embedsvc_index_vectors", "Vectors in a collection's index",
                                   labels=["collection", "level"])
        for collection, level, count in self._sizes():
            family.add_metric([collection, level], count)
        yield family


class Exposition:
    """The registry served at http://host:port/metrics, with the index sizes of one store."""

    def __init__(
        self, host: str, port: int, sizes: Callable[[], Iterator[tuple[str, str, int]]]
    ) -> None:
        self._sizes = IndexSizes(sizes)
        REGISTRY.register(self._sizes)
        try:
            self._server, _ = start_http_server(port, addr=host, registry=REGISTRY)
        except BaseException:
            REGISTRY.unregister(self._sizes)
            raise
        self.port = self._server.server_port

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        REGISTRY.unregister(self._sizes)
