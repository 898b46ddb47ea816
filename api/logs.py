"""Observe every request once: a JSON access-log line (no keys, tokens or bodies) and metrics,
under the request's trace id (`processors.logs`: its `traceparent`, else a new one), which the
response names in `x-trace-id` and every event the request publishes carries."""

from __future__ import annotations

import time

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.metrics import Metrics, route_of
from processors.logs import new_trace_id, parse_traceparent

log = structlog.get_logger("reelscope.api.access")


class RequestObserver:
    """Log and count each request by route template and status, under a request id.

    Pure ASGI, so request bodies (uploads) stream through untouched.
    """

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        trace_id = parse_traceparent(headers.get(b"traceparent")) or new_trace_id()
        status = 500
        start = time.perf_counter()

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-trace-id", trace_id.encode())]
            await send(message)

        with structlog.contextvars.bound_contextvars(trace_id=trace_id):
            try:
                await self.app(scope, receive, send_wrapper)
            finally:
                route, method = route_of(scope), str(scope.get("method", ""))
                seconds = time.perf_counter() - start
                self.metrics.requests.labels(method, route, str(status)).inc()
                self.metrics.latency.labels(method, route).observe(seconds)
                log.info(
                    "request",
                    method=method,
                    route=route,
                    status=status,
                    ms=round(seconds * 1000, 1),
                )
