"""One Milvus Lite server for the whole test session, on 127.0.0.1 (starting one costs
seconds; tests keep apart by collection prefix)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest


@pytest.fixture(scope="session")
def milvus_uri(tmp_path_factory) -> Iterator[str]:
    from milvus_lite.adapter.grpc.server import start_server_in_thread

    server, db, port = start_server_in_thread(
        data_dir=str(tmp_path_factory.mktemp("milvus") / "lite"), host="127.0.0.1", port=0
    )
    yield f"http://127.0.0.1:{port}"
    server.stop(grace=1)
    db.close()
