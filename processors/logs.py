"""JSON logs for every reelscope process: one line per event, secrets never included.

Lines about a media carry `media_id`, `event_id`, `stage` and a `trace_id`, bound as structlog
context variables around the work (`bound_contextvars`), never passed by hand. The trace is a
W3C trace id (32 hex): the API takes it from the upload's `traceparent` header or makes one,
and every Kafka message published in that context carries it in its own `traceparent` header
(`trace_headers`), so one id follows an upload from the HTTP request through both stages to
its result, and on into any downstream consumer that reads the header.
"""

from __future__ import annotations

import logging
import re
import secrets
import sys
from collections.abc import Iterable, Mapping
from typing import Final
from uuid import UUID

import structlog

TRACE_HEADER: Final = "traceparent"
_TRACEPARENT: Final = re.compile(r"^[0-9a-f]{2}-(?P<trace>[0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$")
Headers = Iterable[tuple[str, bytes]] | Mapping[str, bytes] | None


def configure(level: str = "INFO") -> None:
    """Send structlog and stdlib logs (uvicorn, aiokafka) as JSON lines to stderr.

    Does nothing when the host process configured structlog already (the CLI does),
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
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                structlog.processors.JSONRenderer(),
            ],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        server_log = logging.getLogger(name)  # hand uvicorn's lines to the JSON handler
        server_log.handlers[:] = []
        server_log.propagate = True
    # api.logs.RequestObserver writes the access log
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)
    for noisy in ("aiokafka", "kafka", "faust", "mode", "httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))


def parse_traceparent(value: str | bytes | None) -> str | None:
    """The trace id of a W3C `traceparent` value; None if absent or malformed (all-zero ids are
    invalid by the standard)."""
    if isinstance(value, bytes):
        value = value.decode("ascii", "replace")
    found = _TRACEPARENT.match(value.strip().lower()) if value else None
    trace = found["trace"] if found else None
    return trace if trace and trace.strip("0") else None


def trace_of(headers: Headers, fallback: UUID) -> str:
    """The trace a Kafka message carries, else one made from `fallback` (the event id: a
    producer that sends no header still gets one trace per event, the same on every replay)."""
    pairs = headers.items() if isinstance(headers, Mapping) else headers or ()
    found = next((parse_traceparent(v) for k, v in pairs if k.lower() == TRACE_HEADER), None)
    return found or fallback.hex


def new_trace_id() -> str:
    return secrets.token_hex(16)


def trace_headers() -> list[tuple[str, bytes]]:
    """The `traceparent` header of the trace bound to this context (none if none is bound),
    with a new span id for the message."""
    trace = structlog.contextvars.get_contextvars().get("trace_id")
    if not trace:
        return []
    return [(TRACE_HEADER, f"00-{trace}-{secrets.token_hex(8)}-01".encode())]
