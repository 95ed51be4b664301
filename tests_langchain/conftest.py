"""One real embedsvc server for the whole LangChain run, started from the main environment."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from embedsvc.client import Client

ROOT = Path(__file__).resolve().parent.parent
SERVE = Path(os.environ.get("EMBEDSVC_SERVE_BIN", ROOT / ".venv" / "bin" / "embedsvc"))
API_KEY = "langchain-key"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def server_target() -> Iterator[str]:
    port = _free_port()
    with tempfile.TemporaryDirectory(prefix="embedsvc-langchain-") as tmp:
        log = Path(tmp) / "server.log"
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
               "EMBEDSVC_FLUSH_INTERVAL": "3600", "EMBEDSVC_API_KEY": API_KEY}
        with log.open("wb") as out:
            process = subprocess.Popen(
                [str(SERVE), "serve", "--data-dir", str(Path(tmp) / "data"), "--port", str(port)],
                env=env, stdout=out, stderr=subprocess.STDOUT,
            )
        target = f"127.0.0.1:{port}"
        try:
            with Client(target, timeout=2) as client:
                client.wait_until_serving(180, alive=lambda: process.poll() is None)
        except (RuntimeError, TimeoutError) as error:
            process.kill()
            raise RuntimeError(f"{error}:\n{log.read_text()[-3000:]}") from None
        os.environ["EMBEDSVC_TARGET"] = target
        os.environ["EMBEDSVC_API_KEY"] = API_KEY
        yield target
        process.send_signal(signal.SIGTERM)
        process.wait(60)
