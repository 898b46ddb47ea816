"""JSON errors for every failure: `{"error": {"code", "message", "hint"}}` with the right status.

Pages for people (`/review`) answer the same errors as readable HTML instead: `install` takes
the path prefix of those pages and the function that renders an error as a page.

ApiError                    raised by our code; carries status, code, message, hint, headers
RequestValidationError      FastAPI's; answered 422 with the offending fields listed
StarletteHTTPException      unknown routes and methods; answered 404/405 in the same shape
Exception                   anything else; answered 500 without details (logged instead)
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
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


PageRenderer = Callable[[Request, ApiError], Response]


def _as_api_error(exc: Exception) -> ApiError:
    """Every exception as the ApiError it is answered with."""
    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, RequestValidationError):
        hint = "correct the listed fields; /docs shows every field"
        return invalid_fields(field_errors(exc.errors()), hint)
    if isinstance(exc, StarletteHTTPException):
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        hint = "see /docs for the routes and methods this API offers"
        return ApiError(exc.status_code, code, str(exc.detail), hint, headers=exc.headers)
    return ApiError(500, "internal", "internal error", "retry; report it if it persists")


def install(app: FastAPI, pages: tuple[str, PageRenderer] | None = None) -> None:
    """Answer every error as JSON in one shape; under `pages`' prefix, as its rendered page."""

    async def answer(request: Request, exc: Exception) -> Response:
        err = _as_api_error(exc)
        if err.status >= 500 and not isinstance(exc, ApiError | StarletteHTTPException):
            log.error("unhandled_error", error_type=type(exc).__name__, path=request.url.path)
        if pages is not None and request.url.path.startswith(pages[0]):
            return pages[1](request, err)
        return JSONResponse(err.body(), status_code=err.status, headers=err.headers)

    for kind in (ApiError, RequestValidationError, StarletteHTTPException, Exception):
        app.add_exception_handler(kind, answer)
