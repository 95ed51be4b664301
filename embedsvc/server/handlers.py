"""Wrappers around gRPC method handlers: what every call gets before and after the servicer."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import grpc

_KINDS = ("unary_unary", "unary_stream", "stream_unary", "stream_stream")


def refusal(code: grpc.StatusCode, message: str) -> grpc.RpcMethodHandler:
    """A handler that answers every call with ``code`` at once."""

    def abort(_request: Any, context: grpc.ServicerContext) -> None:
        context.abort(code, message)

    return grpc.unary_unary_rpc_method_handler(abort)


def with_release(
    handler: grpc.RpcMethodHandler,
    release: Callable[[grpc.ServicerContext], None],
    admit: Callable[[], tuple[grpc.StatusCode, str] | None] = lambda: None,
) -> grpc.RpcMethodHandler:
    """``handler`` calling ``release(context)`` exactly once when the call is over, however it
    ends (the context then holds the call's status code). ``admit`` runs first, inside the
    call: a refusal it returns aborts the call, and nothing is released. Admitting inside the
    call, not when the handler is looked up, matters: gRPC drops some calls before their
    handler runs (a message over the size limit, a caller already gone), and those must not
    hold a slot."""
    kind = next(name for name in _KINDS if getattr(handler, name) is not None)
    inner = getattr(handler, kind)
    if handler.response_streaming:
        def behavior(request_or_iterator: Any, context: grpc.ServicerContext) -> Any:
            refused = admit()
            if refused is not None:
                context.abort(*refused)
            try:
                yield from inner(request_or_iterator, context)
            finally:
                release(context)
    else:
        def behavior(request_or_iterator: Any, context: grpc.ServicerContext) -> Any:
            refused = admit()
            if refused is not None:
                context.abort(*refused)
            try:
                return inner(request_or_iterator, context)
            finally:
                release(context)
    return handler._replace(**{kind: behavior})


class _Undecodable:
    def __init__(self, error: Exception) -> None:
        self.error = error


def decoding_guarded(handler: grpc.RpcMethodHandler) -> grpc.RpcMethodHandler:
    """A unary request that does not parse (e.g. invalid UTF-8 in a string field) answers
    INVALID_ARGUMENT instead of the INTERNAL that gRPC gives by default."""
    if handler.request_streaming or handler.request_deserializer is None:
        return handler
    parse = handler.request_deserializer
    kind = "unary_stream" if handler.response_streaming else "unary_unary"
    inner = getattr(handler, kind)

    def deserialize(data: bytes) -> Any:
        try:
            return parse(data)
        except Exception as error:  # protobuf raises DecodeError, or others on bad bytes
            return _Undecodable(error)

    def behavior(request: Any, context: grpc.ServicerContext) -> Any:
        if isinstance(request, _Undecodable):
            context.abort(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"the request could not be decoded ({request.error}); send a valid message "
                "of this method's request type (strings must be UTF-8)",
            )
        return inner(request, context)

    return handler._replace(request_deserializer=deserialize, **{kind: behavior})


class _Collector:
    """Stands in for a grpc.Server while generated code registers a servicer's handlers."""

    def __init__(self) -> None:
        self.services: dict[str, dict[str, grpc.RpcMethodHandler]] = {}

    def add_generic_rpc_handlers(self, _handlers: Any) -> None:
        pass  # the same handlers also arrive by name, below

    def add_registered_method_handlers(
        self, service: str, handlers: dict[str, grpc.RpcMethodHandler]
    ) -> None:
        self.services[service] = handlers


def add_guarded(add_to_server: Callable[[Any, Any], None], servicer: Any,
                server: grpc.Server) -> None:
    """Register ``servicer`` the way its generated function would, each handler guarded."""
    collector = _Collector()
    add_to_server(servicer, collector)
    for service, handlers in collector.services.items():
        guarded = {name: decoding_guarded(handler) for name, handler in handlers.items()}
        server.add_generic_rpc_handlers(
            (grpc.method_handlers_generic_handler(service, guarded),)
        )
        server.add_registered_method_handlers(service, guarded)
