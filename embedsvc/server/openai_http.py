"""OpenAI-compatible embeddings over HTTP: `POST /v1/embeddings` and `GET /v1/models`.

Applications written against the OpenAI embeddings API (or its official client, which asks for
base64 by default) point `base_url` here. The endpoint calls the same core as gRPC `Embed`, so
the vectors, limits, API key and admission count are the same; refusals are OpenAI-style error
JSON with the HTTP status of the matching gRPC code.
"""

from __future__ import annotations

import base64
import hmac
import json
import logging
import socket
import threading
from typing import Any

import numpy as np
import uvicorn
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from embedsvc.config import Settings
from embedsvc.core import Core
from embedsvc.errors import (
    EmbedsvcError,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    ResourceExhausted,
)
from embedsvc.server.admission import Admission

log = logging.getLogger(__name__)
# gRPC status -> (HTTP status, OpenAI error type)
HTTP_STATUS = {
    "INVALID_ARGUMENT": (400, "invalid_request_error"),
    "FAILED_PRECONDITION": (400, "invalid_request_error"),
    "UNAUTHENTICATED": (401, "authentication_error"),
    "NOT_FOUND": (404, "invalid_request_error"),
    "RESOURCE_EXHAUSTED": (429, "rate_limit_error"),
    "CANCELLED": (499, "invalid_request_error"),
    "UNAVAILABLE": (503, "server_error"),
    "DEADLINE_EXCEEDED": (504, "server_error"),
}
ENCODING_FORMATS = ("float", "base64")
STARTUP_SECONDS = 30.0


def error_response(status: str, message: str, param: str | None = None,
                   code: str | None = None) -> JSONResponse:
    http_status, kind = HTTP_STATUS.get(status, (500, "server_error"))
    body = {"error": {"message": message, "type": kind, "param": param, "code": code}}
    return JSONResponse(body, status_code=http_status)


class OpenAIEndpoint:
    """The routes, over one core; ``admission`` is the gRPC server's, so both count alike."""

    def __init__(self, core: Core, settings: Settings, admission: Admission) -> None:
        self.core = core
        self.settings = settings
        self.admission = admission
        self.app = Starlette(routes=[
            Route("/v1/embeddings", self.embeddings, methods=["POST"]),
            Route("/v1/models", self.models, methods=["GET"]),
            Route("/v1/models/{model:path}", self.model, methods=["GET"]),
        ])

    def _authorized(self, request: Request) -> bool:
        key = self.settings.api_key
        if not key:
            return True
        offered = request.headers.get("x-api-key", "")
        scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
        if not offered and scheme.lower() == "bearer":
            offered = credentials.strip()
        return bool(offered) and hmac.compare_digest(offered.encode(), key.encode())

    async def _guarded(self, request: Request, handle: Any) -> JSONResponse:
        """Key, admission and error mapping around one request."""
        if not self._authorized(request):
            return error_response(
                "UNAUTHENTICATED", "missing or wrong API key: send 'Authorization: Bearer <key>'",
                code="invalid_api_key",
            )
        refused = self.admission.enter()
        if refused is not None:
            return error_response(refused[0].name, refused[1])
        try:
            return await handle(request)
        except InvalidArgument as error:
            return error_response(error.status, str(error), error.field or None)
        except PayloadTooLarge as error:
            response = error_response(error.status, str(error))
            response.status_code = 413
            return response
        except EmbedsvcError as error:
            return error_response(error.status, str(error))
        except Exception:
            log.exception("%s %s failed", request.method, request.url.path)
            return error_response("INTERNAL", "the request failed; see the server log")
        finally:
            self.admission.leave()

    async def embeddings(self, request: Request) -> JSONResponse:
        return await self._guarded(request, self._embeddings)

    async def models(self, request: Request) -> JSONResponse:
        return await self._guarded(request, self._models)

    async def model(self, request: Request) -> JSONResponse:
        return await self._guarded(request, self._model)

    async def _models(self, request: Request) -> JSONResponse:
        return JSONResponse({"object": "list", "data": [
            _model_object(entry.name) for entry in self.core.models.entries()
        ]})

    async def _model(self, request: Request) -> JSONResponse:
        name = request.path_params["model"]
        self._served(name)
        return JSONResponse(_model_object(name))

    def _served(self, name: str) -> str:
        """``name`` if this server serves it ('' = the default model), else 404."""
        names = [entry.name for entry in self.core.models.entries()]
        if name and name not in names:
            raise NotFound(f"model {name!r} is not served here; GET /v1/models lists "
                           f"{', '.join(names)}")
        return name

    async def _embeddings(self, request: Request) -> JSONResponse:
        body = await self._json(request)
        model = body.get("model") or ""
        if not isinstance(model, str):
            raise InvalidArgument("model must be a string", "model")
        model = self._served(model)
        encoding = body.get("encoding_format") or "float"
        if encoding not in ENCODING_FORMATS:
            raise InvalidArgument(
                f"encoding_format must be float or base64, got {encoding!r}", "encoding_format"
            )
        dimensions = body.get("dimensions")
        if dimensions is not None and (isinstance(dimensions, bool)
                                       or not isinstance(dimensions, int)):
            raise InvalidArgument("dimensions must be an integer", "dimensions")
        texts = self._texts(body.get("input"), model)
        result = await run_in_threadpool(
            self.core.embed, texts, dimensions=dimensions, model=model
        )
        data = [
            {"object": "embedding", "index": index, "embedding": _encoded(vector, encoding)}
            for index, vector in enumerate(result.vectors)
        ]
        tokens = int(sum(result.token_counts))
        return JSONResponse({
            "object": "list", "data": data, "model": result.model,
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        })

    async def _json(self, request: Request) -> dict[str, Any]:
        limit = self.settings.max_request_bytes
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            raise _too_large(int(declared), limit)
        raw = await request.body()
        if len(raw) > limit:
            raise _too_large(len(raw), limit)
        try:
            body = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as error:
            raise InvalidArgument(f"the request body is not JSON: {error}") from None
        if not isinstance(body, dict):
            raise InvalidArgument("the request body must be a JSON object")
        return body

    def _texts(self, value: Any, model: str) -> list[str]:
        """``input`` as texts: a string, strings, or token id arrays (of this model's
        tokenizer, decoded back to text)."""
        if isinstance(value, str):
            return [value]
        if not isinstance(value, list) or not value:
            raise InvalidArgument(
                "input must be a string, a non-empty array of strings, or token arrays", "input"
            )
        if all(isinstance(item, str) for item in value):
            return value
        if all(_is_token(item) for item in value):
            return [self._decode(value, model, "input")]
        if all(isinstance(item, list) for item in value):
            return [self._decode(item, model, f"input[{position}]")
                    for position, item in enumerate(value)]
        raise InvalidArgument(
            "input mixes kinds: give strings, or token ids, or arrays of token ids", "input"
        )

    def _decode(self, ids: list[Any], model: str, where: str) -> str:
        tokenizer = self.core.models.get(model).tokenizer.backend_tokenizer  # the Rust one
        size = tokenizer.get_vocab_size(with_added_tokens=True)
        if not ids or not all(_is_token(token) and token < size for token in ids):
            raise InvalidArgument(
                f"{where} must be a non-empty array of token ids between 0 and {size - 1} "
                "(this model's tokenizer)", where,
            )
        return tokenizer.decode(ids, skip_special_tokens=True)


def _is_token(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


class PayloadTooLarge(ResourceExhausted):
    """RESOURCE_EXHAUSTED as gRPC says it, 413 over HTTP: retrying the same body cannot help."""


def _too_large(size: int, limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(
        f"the request body is {size} bytes, more than {limit} (EMBEDSVC_MAX_REQUEST_BYTES); "
        "send fewer inputs per request"
    )


def _encoded(vector: np.ndarray, encoding: str) -> list[float] | str:
    if encoding == "base64":
        return base64.b64encode(vector.astype("<f4").tobytes()).decode("ascii")
    return vector.tolist()


def _model_object(name: str) -> dict[str, Any]:
    return {"id": name, "object": "model", "created": 0, "owned_by": "embedsvc"}


class HttpServer:
    """uvicorn serving an ASGI app from a thread of the server process."""

    def __init__(self, app: Any, host: str, port: int) -> None:
        self._socket = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
        try:
            self._socket.bind((host, port))
        except OSError as error:
            self._socket.close()
            raise FailedPrecondition(
                f"cannot listen on {host}:{port} for HTTP: {error.strerror}; pick another "
                "with --http-port"
            ) from None
        self.port = self._socket.getsockname()[1]
        config = uvicorn.Config(app, log_level="warning", lifespan="off", access_log=False)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, name="http",
            daemon=True,
        )

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        self._server.should_exit = True
        self._thread.join(10)
        self._socket.close()
