"""Trace ids: W3C `traceparent` in, one trace per event when none came, a header out."""

from __future__ import annotations

import pytest
import structlog

from processors.logs import parse_traceparent, trace_headers, trace_of
from schemas.ids import uuid7

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"


@pytest.mark.parametrize(
    ("value", "trace"),
    [
        (f"00-{TRACE}-00f067aa0ba902b7-01", TRACE),
        (f"00-{TRACE.upper()}-00f067aa0ba902b7-00".encode(), TRACE),
        (f" 00-{TRACE}-00f067aa0ba902b7-01 ", TRACE),
        (f"00-{'0' * 32}-00f067aa0ba902b7-01", None),  # all-zero: invalid by the standard
        (f"00-{TRACE[:-1]}-00f067aa0ba902b7-01", None),
        (f"00-{TRACE}-00f067aa0ba902b7", None),
        ("\x00\xff" + TRACE, None),
        ("", None),
        (None, None),
    ],
)
def test_traceparent_values(value: str | bytes | None, trace: str | None) -> None:
    assert parse_traceparent(value) == trace


def test_a_message_without_a_trace_gets_its_event_ids_on_every_replay() -> None:
    event_id = uuid7()
    assert trace_of(None, event_id) == trace_of([("other", b"x")], event_id) == event_id.hex
    assert trace_of({"traceparent": b"garbage"}, event_id) == event_id.hex
    header = f"00-{TRACE}-00f067aa0ba902b7-01".encode()
    assert trace_of([("Traceparent", header)], event_id) == TRACE


def test_messages_published_in_a_trace_carry_it_with_a_span_of_their_own() -> None:
    assert trace_headers() == []
    with structlog.contextvars.bound_contextvars(trace_id=TRACE):
        first, second = trace_headers(), trace_headers()
    assert [k for k, _ in first] == ["traceparent"]
    assert parse_traceparent(first[0][1]) == parse_traceparent(second[0][1]) == TRACE
    assert first != second, "each message is a span of its own"
