"""Structured JSON logs (structlog); one line per request, with no keys, tokens or bodies."""

from __future__ import annotations

import logging
import sys
import time
import uuid

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.metrics import route_of

log = structlog.get_logger("reelscope.api.access")


def configure(level: str = "INFO") -> None:
    """Send structlog and stdlib logs (uvicorn, aiokafka) as JSON lines to stderr.

    Does nothing when the host process configured structlog already (`reelscope api` does),
    so one process never renders a line twice.
    """
    if structlog.is_configured():
        return
    shared: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(),
        ],
    ))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        server_log = logging.getLogger(name)  # hand uvicorn's lines to the JSON handler
        server_log.handlers[:] = []
        server_log.propagate = True
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)  # AccessLogMiddleware logs it
    logging.getLogger("aiokafka").setLevel(max(logging.WARNING, root.level))


class AccessLogMiddleware:
    """Log method, route template, status and duration of each request under a request id."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = uuid.uuid4().hex[:16]
        status = 500
        start = time.perf_counter()

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", request_id.encode())]
            await send(message)

        with structlog.contextvars.bound_contextvars(request_id=request_id):
            try:
                await self.app(scope, receive, send_wrapper)
            finally:
                log.info(
                    "request", method=scope.get("method"), route=route_of(scope),
                    status=status, ms=round((time.perf_counter() - start) * 1000, 1),
                )
