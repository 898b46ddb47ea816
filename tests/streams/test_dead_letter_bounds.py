"""A dead letter is always built, whatever the size of the message it refuses."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from schemas.events import INPUT_EVENT, DeadLetter
from schemas.fields import KEY_MAX, PAYLOAD_B64_MAX, TEXT_MAX
from schemas.ids import uuid7
from streams.codec import PAYLOAD_MAX, DecodeError, dead_letter, decode

KAFKA_MAX_REQUEST = 1_000_000  # the producer's default `max_request_size` (faust, aiokafka)


def _letter(value: bytes, key: bytes | None = None, reason: str = "bad") -> DeadLetter:
    return dead_letter(
        value=value,
        key=key,
        topic="reelscope.media.uploaded.v1",
        partition=3,
        offset=2**40,
        stage="intake",
        reason=reason,
        error_type="schema",
        producer="worker-1",
    )


@pytest.mark.parametrize("size", [0, 1, PAYLOAD_MAX])
def test_a_message_up_to_the_cap_is_kept_whole(size: int) -> None:
    value = bytes(range(256)) * (size // 256) + b"x" * (size % 256)
    entry = _letter(value)
    assert base64.b64decode(entry.payload_b64) == value
    assert entry.payload_truncated is False


@pytest.mark.parametrize("size", [PAYLOAD_MAX + 1, 5_000_000])
def test_a_larger_message_keeps_its_head_and_says_so(size: int) -> None:
    value = b"{" + b"a" * (size - 1)
    entry = _letter(value)
    assert entry.payload_truncated is True
    assert len(entry.payload_b64) == PAYLOAD_B64_MAX
    assert base64.b64decode(entry.payload_b64) == value[:PAYLOAD_MAX]


def test_the_largest_dead_letter_fits_one_kafka_message() -> None:
    entry = _letter(b"a" * 5_000_000, key=b"k" * 5_000_000, reason="r" * 5_000_000)
    assert len(entry.to_bytes()) < KAFKA_MAX_REQUEST
    assert DeadLetter.model_validate_json(entry.to_bytes()) == entry
    assert entry.source_key is not None and len(entry.source_key) == KEY_MAX
    assert len(entry.reason) == TEXT_MAX


def _event_with_a_megabyte_label_key() -> bytes:
    doc: dict[str, Any] = {
        "schema": "reelscope.media.uploaded/1",
        "media_id": str(uuid7()),
        "producer": "p",
        "object_key": "media/x",
        "sha256": "a" * 64,
        "size_bytes": 1,
        "content_type": "image/png",
        "media_kind": "image",
        "labels": {"k" * 1_000_000: "v"},
    }
    return json.dumps(doc).encode()


def test_a_refused_megabyte_event_is_dead_lettered_with_a_short_reason() -> None:
    """pydantic names the offending key in full in the error location: the reason cuts it."""
    value = _event_with_a_megabyte_label_key()
    with pytest.raises(DecodeError) as info:
        decode(INPUT_EVENT, value)
    reason = info.value.reason
    assert "labels.kkk" in reason and "String should have at most 64 characters" in reason
    assert len(reason) < 500
    entry = _letter(value, reason=reason)
    assert entry.reason == reason
    assert entry.payload_truncated and len(entry.to_bytes()) < KAFKA_MAX_REQUEST
