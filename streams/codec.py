"""Decoding raw Kafka values ourselves: a bad value becomes a dead-letter entry, never a crash.

Faust would crash the agent on a value it cannot decode (the supervisor restarts it and the
message is acked and lost), so every topic is raw bytes and validation happens here.
"""

from __future__ import annotations

import base64
import json
from typing import Any, Protocol, TypeVar
from uuid import UUID

from pydantic import TypeAdapter, ValidationError

from schemas.events import BrandCheck, DeadLetter, MediaAnalysis
from schemas.fields import KEY_MAX, PAYLOAD_B64_MAX

T = TypeVar("T")
PAYLOAD_MAX = PAYLOAD_B64_MAX // 4 * 3  # raw bytes whose base64 is exactly the cap

DERIVED_EVENT: TypeAdapter[BrandCheck | MediaAnalysis] = TypeAdapter(BrandCheck | MediaAnalysis)


DECODE_ERRORS = ("empty_value", "invalid_json", "schema")  # the error types DecodeError carries


class DecodeError(ValueError):
    """A value that is not a valid event; `reason` says what to fix."""

    def __init__(self, reason: str, error_type: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.error_type = error_type


def decode(adapter: TypeAdapter[T], value: bytes | None) -> T:
    """Validate one raw Kafka value against a contract."""
    if not value:
        msg = "empty message value: expected a JSON event"
        raise DecodeError(msg, "empty_value")
    try:
        return adapter.validate_json(value)
    except ValidationError as e:
        if any(err["type"] == "json_invalid" for err in e.errors()):
            msg = f"not valid JSON: {e.errors()[0]['msg']}"
            raise DecodeError(msg, "invalid_json") from e
        msg = f"does not match the event schema: {_summary(e)}"
        raise DecodeError(msg, "schema") from e


def _summary(e: ValidationError, most: int = 5) -> str:
    parts = []
    for err in e.errors()[:most]:
        where = ".".join(_short(str(p)) for p in err["loc"]) or "(root)"
        parts.append(f"{where}: {err['msg']}")
    more = len(e.errors()) - most
    return "; ".join(parts) + (f"; and {more} more" if more > 0 else "")


def _short(part: str, most: int = 64) -> str:
    """Cut a location part: a refused map key can be a megabyte long, the reason must not be."""
    return part if len(part) <= most else part[: most - 3] + "..."


def media_id_hint(value: bytes | None, key: bytes | None) -> UUID | None:
    """Best-effort media id of an undecodable message (its key, or a `media_id` field)."""
    for candidate in (key, _field(value, "media_id")):
        try:
            return UUID(candidate.decode() if isinstance(candidate, bytes) else str(candidate))
        except (ValueError, AttributeError, UnicodeDecodeError):
            continue
    return None


def _field(value: bytes | None, name: str) -> Any:
    try:
        doc = json.loads(value or b"")
    except ValueError:
        return None
    return doc.get(name) if isinstance(doc, dict) else None


class SourceMessage(Protocol):
    """What faust's messages and aiokafka's records both carry."""

    value: bytes | None
    key: bytes | None
    topic: str
    partition: int
    offset: int


def dead_letter_of(
    message: SourceMessage, *, stage: str, reason: str, error_type: str, producer: str
) -> DeadLetter:
    """The dead-letter entry for a consumed message, with its source coordinates."""
    return dead_letter(
        value=message.value,
        key=message.key,
        topic=message.topic,
        partition=message.partition,
        offset=message.offset,
        stage=stage,
        reason=reason,
        error_type=error_type,
        producer=producer,
    )


def dead_letter(
    *,
    value: bytes | None,
    key: bytes | None,
    topic: str,
    partition: int,
    offset: int,
    stage: str,
    reason: str,
    error_type: str,
    producer: str,
    attempts: int = 1,
) -> DeadLetter:
    """Build the dead-letter entry that keeps the message and why it was refused.

    A message larger than `PAYLOAD_MAX` keeps its first `PAYLOAD_MAX` bytes and is marked
    `payload_truncated`: the entry must itself fit one Kafka message, and refusing to build it
    would lose the message and its reason altogether.
    """
    payload = value or b""
    return DeadLetter(
        media_id=media_id_hint(value, key),
        producer=producer,
        stage=stage,
        reason=reason,
        error_type=error_type,
        attempts=attempts,
        source_topic=topic,
        source_partition=partition,
        source_offset=offset,
        source_key=key.decode(errors="replace")[:KEY_MAX] if key else None,
        payload_b64=base64.b64encode(payload[:PAYLOAD_MAX]).decode(),
        payload_truncated=len(payload) > PAYLOAD_MAX,
    )
