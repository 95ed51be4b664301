"""`embedsvc serve` as a subprocess on a fresh data dir and a free port, for benchmarks."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

from embedsvc.client import Client

SERVER_BIN = Path(sys.executable).parent / "embedsvc"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class BenchServer:
    """A real server process; use as a context manager so it is always stopped with SIGTERM."""

    def __init__(self, log: Path, **env: str) -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix="embedsvc-bench-")
        self.port = free_port()
        self.log = log  # outside the data dir, so it outlives the server for post-mortems
        self.env = {
            **os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
            # No background index saves competing for the cores during a measurement.
            "EMBEDSVC_FLUSH_INTERVAL": "3600", **env,
        }
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"

    def __enter__(self) -> BenchServer:
        data_dir = Path(self._tmp.name) / "data"
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                [str(SERVER_BIN), "serve", "--data-dir", str(data_dir), "--port", str(self.port)],
                env=self.env, stdout=log, stderr=subprocess.STDOUT,
            )
        try:
            self._wait_serving(timeout=180.0)
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    def _wait_serving(self, timeout: float) -> None:
        process = self.process
        assert process is not None
        with Client(self.target, timeout=2) as client:
            try:
                client.wait_until_serving(timeout, alive=lambda: process.poll() is None)
            except (RuntimeError, TimeoutError) as error:
                raise RuntimeError(f"{error}:\n{self.log.read_text()[-3000:]}") from None

    def stop(self) -> None:
        """SIGTERM (the server drains and saves), SIGKILL if it hangs; then drop the data dir."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._tmp.cleanup()
