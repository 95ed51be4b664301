"""OpenTelemetry tracing, off unless configured: a span per RPC (from the gRPC
instrumentation) and spans of our own for the stages below it (chunk, encode, commit, search).

Unconfigured, `span` costs a no-op context manager. With `EMBEDSVC_OTLP_ENDPOINT` set, spans go
to that OTLP collector (gRPC); tests configure an in-memory exporter instead.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

_provider: TracerProvider | None = None


def configure(provider: TracerProvider | None) -> None:
    """Send our spans to ``provider`` (None: back to off)."""
    global _provider
    _provider = provider


def provider() -> TracerProvider | None:
    return _provider


def otlp_provider(endpoint: str, service: str = "embedsvc") -> TracerProvider:
    """A provider exporting to an OTLP/gRPC collector at ``endpoint`` (e.g. http://host:4317)."""
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

    tracer_provider = TracerProvider(resource=Resource.create({"service.name": service}))
    tracer_provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
    return tracer_provider


@contextmanager
def span(name: str, **attributes: Any) -> Iterator[None]:
    """A child span of the current one, when tracing is on."""
    if _provider is None:
        yield
        return
    with _provider.get_tracer("embedsvc").start_as_current_span(name, attributes=attributes):
        yield

