"""What every servicer method shares: error mapping to status codes, the client deadline and
cancellation."""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import grpc
from google.protobuf import any_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from embedsvc import deadlines
from embedsvc.errors import EmbedsvcError, InvalidArgument

log = logging.getLogger(__name__)
Handler = TypeVar("Handler", bound=Callable[..., Any])
# Status messages travel in trailing metadata; gRPC refuses the whole response past 16 KiB.
MAX_MESSAGE_CHARS = 2000


@dataclass(frozen=True)
class ServiceSpec:
    """One gRPC service: its full name (for health and reflection), the generated function
    that adds a servicer to a server, and how to build the servicer from the core."""

    name: str
    add_to_server: Callable[[Any, grpc.Server], None]
    make: Callable[[Any], Any]


def bounded(message: str) -> str:
    """A message short enough for gRPC's trailing metadata (16 KiB), whatever it quotes."""
    if len(message) <= MAX_MESSAGE_CHARS:
        return message
    return message[: MAX_MESSAGE_CHARS - 20] + f"... ({len(message)} characters)"


def bad_request(error: InvalidArgument) -> grpc.Status:
    """INVALID_ARGUMENT with a google.rpc.BadRequest naming the field, when the error knows it."""
    message = bounded(str(error))
    status = status_pb2.Status(code=code_pb2.INVALID_ARGUMENT, message=message)
    if error.field:
        detail = any_pb2.Any()
        detail.Pack(error_details_pb2.BadRequest(field_violations=[
            error_details_pb2.BadRequest.FieldViolation(field=bounded(error.field),
                                                        description=message),
        ]))
        status.details.append(detail)
    return rpc_status.to_status(status)


NO_DEADLINE_S = 10**7  # gRPC reports a call without a deadline as one in the far future


def deadline(context: grpc.ServicerContext) -> float | None:
    """The client's deadline on the monotonic clock, or None without one."""
    remaining = context.time_remaining()
    if remaining is None or remaining > NO_DEADLINE_S:
        return None
    return time.monotonic() + remaining


def cancellation(context: grpc.ServicerContext) -> deadlines.Cancellation:
    """Set when the call ends. Work below unregisters before a normal answer is sent, so it
    stops only the work of a caller that went away (a closed channel, a cancelled call)."""
    cancel = deadlines.Cancellation()
    if not context.add_callback(cancel.cancel):  # the call has ended already
        cancel.cancel()
    return cancel


def rpc(method: Handler) -> Handler:
    """Turn core errors into their status code; anything unexpected becomes INTERNAL, logged."""

    @functools.wraps(method)
    def wrapper(self: Any, request: Any, context: grpc.ServicerContext) -> Any:
        try:
            with deadlines.scoped(deadline(context), cancellation(context)):
                return method(self, request, context)
        except InvalidArgument as error:
            context.abort_with_status(bad_request(error))
        except EmbedsvcError as error:
            context.abort(getattr(grpc.StatusCode, error.status), bounded(str(error)))
        except Exception:
            log.exception("%s failed", method.__name__)
            context.abort(grpc.StatusCode.INTERNAL, f"{method.__name__} failed; see server log")

    return wrapper  # type: ignore[return-value]


def rpc_stream(method: Handler) -> Handler:
    """`rpc` for a method that yields its responses: errors raised while streaming, too."""

    @functools.wraps(method)
    def wrapper(self: Any, request: Any, context: grpc.ServicerContext) -> Any:
        try:
            with deadlines.scoped(deadline(context)):
                yield from method(self, request, context)
        except InvalidArgument as error:
            context.abort_with_status(bad_request(error))
        except EmbedsvcError as error:
            context.abort(getattr(grpc.StatusCode, error.status), bounded(str(error)))
        except Exception:
            if not context.is_active():
                return  # the client went away; nothing to answer
            log.exception("%s failed", method.__name__)
            context.abort(grpc.StatusCode.INTERNAL, f"{method.__name__} failed; see server log")

    return wrapper  # type: ignore[return-value]
