"""Metrics scraped over HTTP, tracing spans, and TLS end to end."""

from __future__ import annotations

import datetime
import ipaddress
import re
import urllib.request
from pathlib import Path

import grpc
import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from embedsvc import tracing
from embedsvc.client import Client
from embedsvc.config import Settings
from embedsvc.core import Core
from embedsvc.errors import InvalidArgument, Unavailable
from embedsvc.server.app import Server
from tests.conftest import free_port


def sample(text: str, name: str, **labels: str) -> float:
    """The value of one sample in a Prometheus exposition."""
    for line in text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', line.partition("}")[0]))
        if all(found.get(key) == value for key, value in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"no sample {name} {labels} in the scrape")


@pytest.mark.slow
def test_metrics_are_scraped_over_http(server_factory):
    port = free_port()
    server = server_factory(EMBEDSVC_METRICS_PORT=str(port)).start()
    with server.client() as client:
        client.create_collection("kb", max_chunk_tokens=32)
        text = " ".join(f"Sentence {i} about rain in Hamburg." for i in range(30))
        client.upsert("kb", [{"id": "a", "text": text}])
        client.upsert("kb", [{"id": "a", "text": text + " One more."}])
        client.search("kb", "rain", k=2)
        with pytest.raises(InvalidArgument):
            client.embed([""])
        chunks = client.get_collection("kb").chunk_count
    scrape = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=30).read().decode()
    search = "/embedsvc.v1.SearchService/Search"
    assert sample(scrape, "embedsvc_requests_total", method=search, code="OK") == 1
    assert sample(scrape, "embedsvc_requests_total",
                  method="/embedsvc.v1.EmbeddingService/Embed", code="INVALID_ARGUMENT") == 1
    assert sample(scrape, "embedsvc_request_duration_seconds_count", method=search) == 1
    assert sample(scrape, "embedsvc_inference_duration_seconds_count") >= 2
    assert sample(scrape, "embedsvc_queue_duration_seconds_count") >= 2
    assert sample(scrape, "embedsvc_tokenization_duration_seconds_count") >= 1
    assert sample(scrape, "embedsvc_batch_padded_tokens_sum") > 0
    assert sample(scrape, "embedsvc_chunks_total", outcome="reused") >= 1
    assert sample(scrape, "embedsvc_chunks_total", outcome="embedded") > chunks / 2
    assert sample(scrape, "embedsvc_index_vectors", collection="kb", level="chunk") == chunks
    assert sample(scrape, "embedsvc_index_vectors", collection="kb", level="document") == 1
    assert sample(scrape, "embedsvc_queue_texts") == 0
    assert server.stop() == 0


def test_every_rpc_and_its_stages_are_traced(tmp_path: Path, encoder):
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracing.configure(provider)
    settings = Settings(data_dir=tmp_path / "data", port=free_port())
    server = Server(settings, Core(settings, encoder))
    try:
        server.start()
        with Client(f"127.0.0.1:{server.port}") as client:
            client.create_collection("kb")
            client.upsert("kb", [{"id": "a", "text": "Cats sleep most of the day."}])
            client.search("kb", "cats", k=1)
    finally:
        server.stop()
        tracing.configure(None)
    spans = exporter.get_finished_spans()
    by_name = {span.name: span for span in spans}
    rpc = by_name["/embedsvc.v1.SearchService/Search"]
    for stage in ("search.encode", "search.candidates", "search.hydrate"):
        assert by_name[stage].parent.span_id == rpc.context.span_id
        assert by_name[stage].context.trace_id == rpc.context.trace_id
    upsert = by_name["/embedsvc.v1.IndexService/UpsertDocuments"]
    assert {by_name[s].parent.span_id for s in ("upsert.chunk", "upsert.encode",
                                                "upsert.commit")} == {upsert.context.span_id}
    assert by_name["index.apply"].parent.span_id == by_name["upsert.commit"].context.span_id


def make_certificate(directory: Path, name: str) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and its key."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([
            x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
        ]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / f"{name}.crt", directory / f"{name}.key"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ))
    return cert_file, key_file


@pytest.mark.slow
def test_tls_end_to_end_and_a_wrong_ca_is_unavailable(server_factory, tmp_path: Path):
    cert, key = make_certificate(tmp_path, "server")
    other, _ = make_certificate(tmp_path, "other")
    server = server_factory(EMBEDSVC_TLS_CERT_FILE=str(cert), EMBEDSVC_TLS_KEY_FILE=str(key))
    server.start(tls_root=cert.read_bytes())
    with Client(server.target, root_certificates=cert.read_bytes()) as client:
        assert client.health() == "SERVING"
        assert client.embed(["over TLS"]).shape == (1, 384)
    with Client(server.target, root_certificates=other.read_bytes(), timeout=10,
                attempts=1) as stranger, pytest.raises(Unavailable) as error:
        stranger.health()
    assert error.value.code() == grpc.StatusCode.UNAVAILABLE
    with Client(server.target, timeout=10, attempts=1) as plaintext, pytest.raises(Unavailable):
        plaintext.health()
    assert server.stop() == 0
