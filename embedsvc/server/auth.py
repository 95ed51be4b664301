"""Optional API key: every RPC but health checks needs it when one is configured."""

from __future__ import annotations

import hmac

import grpc

from embedsvc.server.handlers import refusal

OPEN_PREFIXES = ("/grpc.health.v1.Health/",)


class ApiKeyInterceptor(grpc.ServerInterceptor):
    """Accepts `authorization: Bearer KEY` or `x-api-key: KEY` metadata."""

    def __init__(self, api_key: str) -> None:
        self._key = api_key.encode()

    def intercept_service(self, continuation, handler_call_details):
        if handler_call_details.method.startswith(OPEN_PREFIXES):
            return continuation(handler_call_details)
        metadata = dict(handler_call_details.invocation_metadata or ())
        offered = metadata.get("x-api-key", "")
        scheme, _, credentials = metadata.get("authorization", "").partition(" ")
        if not offered and scheme.lower() == "bearer":
            offered = credentials.strip()
        if offered and hmac.compare_digest(offered.encode(), self._key):
            return continuation(handler_call_details)
        return refusal(
            grpc.StatusCode.UNAUTHENTICATED,
            "missing or wrong API key: send metadata 'authorization: Bearer <key>' "
            "(or 'x-api-key: <key>')"
        )
