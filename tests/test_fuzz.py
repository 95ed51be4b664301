"""A bounded fuzzer over every RPC against a live server: no request gets INTERNAL or
UNKNOWN, the server stays SERVING, and the stored data stays intact."""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import server_on_store
from tests.fuzz_requests import FAILURES, REQUESTS, intact, seed, sendable, sender

EXAMPLES_PER_METHOD = 20  # bench/fuzz.py runs many more


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def server(request, tmp_path_factory):
    with server_on_store(
        request, tmp_path_factory.mktemp("fuzz") / "data", EMBEDSVC_MAX_TEXT_CHARS="100000",
        EMBEDSVC_MAX_QUEUE_TEXTS="64",
    ) as process:
        with process.client() as client:
            seed(client)
        yield process


@pytest.mark.slow
@pytest.mark.parametrize("method", sorted(REQUESTS))
def test_random_requests_never_fail_the_server(server, method):
    counts: Counter = Counter()
    with server.client() as client:
        send = sender(client.channel)

        @settings(max_examples=EXAMPLES_PER_METHOD, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        @given(request=REQUESTS[method][2], data=st.data())
        def fuzz(request, data):
            if not sendable(request):
                return
            code = send(method, request)
            counts[code.name] += 1
            assert code not in FAILURES, f"{method} answered {code.name} to {request!r}"[:2000]

        fuzz()
        assert sum(counts.values()) > 0
        assert intact(client)
