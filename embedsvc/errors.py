"""Domain errors of the core. Each names one gRPC status code, so the server stays a thin shell
while the core itself never imports gRPC."""

from __future__ import annotations


class EmbedsvcError(Exception):
    """Base class: a request the core refuses, with a message that says what to fix."""

    status: str = "INTERNAL"


class InvalidArgument(EmbedsvcError):
    """``field`` is the request field at fault (``texts[3]``, ``documents[0].id``), for a
    machine-readable google.rpc.BadRequest beside the message."""

    status = "INVALID_ARGUMENT"

    def __init__(self, message: str, field: str = "") -> None:
        super().__init__(message)
        self.field = field


class NotFound(EmbedsvcError):
    status = "NOT_FOUND"


class AlreadyExists(EmbedsvcError):
    status = "ALREADY_EXISTS"


class FailedPrecondition(EmbedsvcError):
    status = "FAILED_PRECONDITION"


class ResourceExhausted(EmbedsvcError):
    status = "RESOURCE_EXHAUSTED"


class DeadlineExceeded(EmbedsvcError):
    status = "DEADLINE_EXCEEDED"


class Cancelled(EmbedsvcError):
    status = "CANCELLED"


class DataDirLocked(EmbedsvcError):
    """Another process owns the data dir; the caller should talk to it instead."""

    status = "FAILED_PRECONDITION"


class Unauthenticated(EmbedsvcError):
    status = "UNAUTHENTICATED"


class Unavailable(EmbedsvcError):
    status = "UNAVAILABLE"


def error_class(status: str) -> type[EmbedsvcError]:
    """The error class of a status code name; the base class for codes without their own."""
    for cls in (InvalidArgument, NotFound, AlreadyExists, FailedPrecondition, ResourceExhausted,
                DeadlineExceeded, Cancelled, Unauthenticated, Unavailable):
        if cls.status == status:
            return cls
    return EmbedsvcError
