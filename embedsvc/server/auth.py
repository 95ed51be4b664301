"""Optional API key: every RPC but health checks needs it when one is configured."""

from __future__ import annotations

import hmac

import grpc

OPEN_PREFIXES = ("/grpc.health.v1.Health/",)


def _deny(message: str) -> grpc.RpcMethodHandler:
    def abort(_request, context: grpc.ServicerContext) -> None:
        context.abort(grpc.StatusCode.UNAUTHENTICATED, message)

    return grpc.unary_unary_rpc_method_handler(abort)


class ApiKeyInterceptor(grpc.ServerInterceptor):
    """Accepts `authorization: Bearer KEY` or `x-api-key: KEY` metadata."""

    def __init__(self, api_key: str) -> None:
        self._key = api_key.encode()

    def intercept_service(self, continuation, handler_call_details):
        if handler_call_details.method.startswith(OPEN_PREFIXES):
            return continuation(handler_call_details)
        metadata = dict(handler_call_details.invocation_metadata or ())
        offered = metadata.get("x-api-key") or metadata.get("authorization", "").removeprefix(
            "Bearer "
        )
        if offered and hmac.compare_digest(offered.encode(), self._key):
            return continuation(handler_call_details)
        return _deny("missing or wrong API key: send metadata 'authorization: Bearer <key>'")
