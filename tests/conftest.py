"""Shared fixtures: the bundled model (loaded once), SQL backends, and real server processes."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
# One cache of exported models for the whole run, inherited by every server process: the
# model is exported (and quantized) once per run, not once per test.
_OWN_CACHE = "EMBEDSVC_CACHE_DIR" not in os.environ
if _OWN_CACHE:
    os.environ["EMBEDSVC_CACHE_DIR"] = tempfile.mkdtemp(prefix="embedsvc-test-cache-")

POSTGRES_ADMIN_URL = os.environ.get(
    "EMBEDSVC_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
BIN = Path(sys.executable).parent


def pytest_sessionfinish(session: pytest.Session) -> None:
    if _OWN_CACHE:
        shutil.rmtree(os.environ["EMBEDSVC_CACHE_DIR"], ignore_errors=True)


@pytest.fixture(scope="session")
def encoder():
    from embedsvc.encoding.sentence_transformer import SentenceTransformerEncoder

    return SentenceTransformerEncoder.from_spec()


@pytest.fixture(scope="session", autouse=True)
def exported_model(request) -> None:
    """Export the bundled model into the run's cache before any test starts a process, so
    server and indexer processes load it in a second instead of each waiting for the export.
    Runs that touch no model (the chunker tests alone) skip it."""
    if any("chunking" not in item.nodeid for item in request.session.items):
        request.getfixturevalue("encoder").info  # noqa: B018 - loading is the point


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A database of its own for this test run, dropped afterwards."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.exc import OperationalError

    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"embedsvc_test_{uuid.uuid4().hex[:12]}"
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except OperationalError as error:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL is required in CI but unreachable: {error}")
        pytest.skip(f"PostgreSQL unreachable: {error}")
    url = POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    yield url
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@contextlib.contextmanager
def postgres_schema(base: str) -> Iterator[str]:
    """A fresh schema in the run's PostgreSQL database, as a URL that uses it; dropped after."""
    from sqlalchemy import create_engine, text

    schema = f"t_{uuid.uuid4().hex[:10]}"
    engine = create_engine(base, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield f"{base}?options=-csearch_path%3D{schema}"
    finally:
        with engine.connect() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        engine.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request, tmp_path: Path) -> Iterator[str]:
    """Each test gets an empty store: a fresh SQLite file, or a fresh PostgreSQL schema."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.db'}"
        return
    with postgres_schema(request.getfixturevalue("postgres_url")) as url:
        yield url


@pytest.fixture
def make_core(tmp_path: Path, database_url: str, encoder):
    """Open cores on one data dir and database; each is closed at the end."""
    from embedsvc.config import Settings
    from embedsvc.core import Core

    cores: list[Core] = []

    def make() -> Core:
        core = Core(Settings(data_dir=tmp_path / "data", database_url=database_url), encoder)
        cores.append(core)
        return core

    yield make
    for core in cores:
        with contextlib.suppress(Exception):
            core.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ServerProcess:
    """`embedsvc serve` in a subprocess, talking over a real socket."""

    def __init__(self, data_dir: Path, database_url: str = "", **env: str) -> None:
        self.data_dir = data_dir
        self.database_url = database_url
        self.extra_env = env
        self.port = free_port()
        self.process: subprocess.Popen | None = None
        self.log = data_dir.parent / f"server-{self.port}.log"

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self, timeout: float = 120.0, tls_root: bytes | None = None) -> ServerProcess:
        env = {**os.environ, **self.extra_env, "EMBEDSVC_FLUSH_INTERVAL": "3600"}
        if self.database_url:
            env["EMBEDSVC_DATABASE_URL"] = self.database_url
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [str(BIN / "embedsvc"), "serve", "--data-dir", str(self.data_dir),
                 "--port", str(self.port)],
                env=env, stdout=log, stderr=subprocess.STDOUT,
            )
        self.wait_serving(timeout, tls_root)
        return self

    def wait_serving(self, timeout: float, tls_root: bytes | None = None) -> None:
        from embedsvc.client import Client

        with Client(self.target, timeout=2, root_certificates=tls_root) as client:
            try:
                client.wait_until_serving(timeout, alive=lambda: self.process.poll() is None)
            except (RuntimeError, TimeoutError) as error:
                raise RuntimeError(f"{error}:\n{self.log.read_text()[-3000:]}") from None

    def client(self, **kwargs):
        from embedsvc.client import Client

        return Client(self.target, **kwargs)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 120.0) -> int:
        if self.process is None or self.process.poll() is not None:
            return self.process.returncode if self.process else 0
        self.process.send_signal(sig)
        return self.process.wait(timeout)


@contextlib.contextmanager
def server_on_store(request: pytest.FixtureRequest, data_dir: Path,
                    **env: str) -> Iterator[ServerProcess]:
    """A server on the store ``request.param`` names: SQLite in its data dir, or a fresh
    PostgreSQL schema; stopped, and the schema dropped, afterwards."""
    with contextlib.ExitStack() as stack:
        url = ""
        if request.param == "postgres":
            url = stack.enter_context(postgres_schema(request.getfixturevalue("postgres_url")))
        process = ServerProcess(data_dir, url, **env).start()
        stack.callback(process.stop)
        yield process


@pytest.fixture
def server_factory(tmp_path: Path) -> Iterator:
    servers: list[ServerProcess] = []

    def make(data_dir: Path | None = None, database_url: str = "", **env: str) -> ServerProcess:
        server = ServerProcess(data_dir or tmp_path / "data", database_url, **env)
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.stop(signal.SIGKILL)


@pytest.fixture(scope="session")
def small_model_dir(tmp_path_factory) -> Path:
    """A second model, built here: the bundled one cut to 2 layers, with e5-style prompts in
    its sentence-transformers config (so its fingerprint and its vectors differ)."""
    from sentence_transformers import SentenceTransformer

    from embedsvc.encoding.models import resolve_model_path

    model = SentenceTransformer(str(resolve_model_path("")), device="cpu")
    transformer = model[0].auto_model
    transformer.encoder.layer = transformer.encoder.layer[:2]
    transformer.config.num_hidden_layers = 2
    model.prompts = {"query": "query: ", "document": "passage: "}
    path = tmp_path_factory.mktemp("models") / "mini-l2"
    model.save(str(path))
    return path


API_KEY = "test-key"


@pytest.fixture(scope="session")
def api_server(tmp_path_factory, encoder) -> Iterator:
    """One in-process server for the client-facing tests: gRPC and the OpenAI-compatible HTTP
    endpoint on real sockets, with an API key, sharing the loaded model."""
    from embedsvc.config import Settings
    from embedsvc.core import Core
    from embedsvc.server.app import Server

    settings = Settings(
        data_dir=tmp_path_factory.mktemp("api") / "data", port=free_port(),
        http_port=free_port(), api_key=API_KEY, flush_interval=3600,
    )
    server = Server(settings, Core(settings, encoder))
    server.start()
    yield server
    server.stop()
