"""JSON errors for every failure: `{"error": {"code", "message", "hint"}}` with the right status.

ApiError                    raised by our code; carries status, code, message, hint, headers
RequestValidationError      FastAPI's; answered 422 with the offending fields listed
StarletteHTTPException      unknown routes and methods; answered 404/405 in the same shape
Exception                   anything else; answered 500 without details (logged instead)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from processors.errors import StorageError

log = structlog.get_logger("reelscope.api")

RETRY_AFTER_S = 5
BUCKET = "the bucket"
BROKER = "the broker"
LAKE = "the lake"
# a failed bucket call: S3 errors arrive as StorageError, local-disk ones (full, gone) as OSError
STORE_ERRORS = (StorageError, OSError)


class ApiError(Exception):
    """An error the client can act on; the hint says what to change."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        hint: str = "",
        headers: Mapping[str, str] | None = None,
        fields: Sequence[Mapping[str, str]] = (),
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.hint = hint
        self.headers = dict(headers or {})
        self.fields = [dict(f) for f in fields]

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message, "hint": self.hint}
        if self.fields:
            error["fields"] = self.fields
        return {"error": error}


def unavailable(what: str) -> ApiError:
    """A 503 with Retry-After: the bucket or the broker failed, the request may be retried."""
    return ApiError(
        503,
        "unavailable",
        f"{what} is unavailable; nothing was accepted",
        "retry after the number of seconds in Retry-After",
        headers={"Retry-After": str(RETRY_AFTER_S)},
    )


def invalid(message: str, *, field: str, hint: str) -> ApiError:
    """A 422 naming one field."""
    fields = [{"field": field, "message": message}]
    return ApiError(422, "invalid_request", message, hint, fields=fields)


def invalid_fields(
    fields: Sequence[Mapping[str, str]], hint: str, *, what: str = "fields"
) -> ApiError:
    """A 422 naming every refused field, so that one answer lists all there is to correct."""
    names = ", ".join(f["field"] for f in fields)
    return ApiError(422, "invalid_request", f"invalid {what}: {names}", hint, fields=fields)


def field_errors(errors: Iterable[Mapping[str, Any]], whole: str = "") -> list[dict[str, str]]:
    """Pydantic's errors in the shape of `fields`; an empty location (the whole body) is `whole`."""
    return [{"field": ".".join(map(str, e["loc"])) or whole, "message": e["msg"]} for e in errors]


async def _on_api_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return JSONResponse(exc.body(), status_code=exc.status, headers=exc.headers)


async def _on_validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    hint = "correct the listed fields; /docs shows every field"
    err = invalid_fields(field_errors(exc.errors()), hint)
    return JSONResponse(err.body(), status_code=422)


async def _on_http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
    hint = "see /docs for the routes and methods this API offers"
    body = ApiError(exc.status_code, code, str(exc.detail), hint).body()
    return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)


async def _on_unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.error("unhandled_error", error_type=type(exc).__name__, path=request.url.path)
    body = ApiError(500, "internal", "internal error", "retry; report it if it persists").body()
    return JSONResponse(body, status_code=500)


def install(app: FastAPI) -> None:
    """Answer every error as JSON in one shape."""
    app.add_exception_handler(ApiError, _on_api_error)
    app.add_exception_handler(RequestValidationError, _on_validation)
    app.add_exception_handler(StarletteHTTPException, _on_http)
    app.add_exception_handler(Exception, _on_unexpected)
