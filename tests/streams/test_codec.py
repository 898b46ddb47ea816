"""Bad values become dead-letter entries that keep the whole message and say what to fix."""

from __future__ import annotations

import base64

import pytest

from schemas.events import INPUT_EVENT
from schemas.ids import uuid7
from streams.codec import DecodeError, dead_letter, decode, media_id_hint


@pytest.mark.parametrize(
    ("value", "error_type", "hint"),
    [
        (b"", "empty_value", "empty"),
        (b"\xff\xfenot json", "invalid_json", "not valid JSON"),
        (b'{"schema": "reelscope.media.uploaded/9"}', "schema", "does not match"),
        (b'{"schema": "reelscope.media.uploaded/1", "media_id": "x"}', "schema", "media_id"),
    ],
)
def test_decode_explains_what_is_wrong(value: bytes, error_type: str, hint: str) -> None:
    with pytest.raises(DecodeError) as info:
        decode(INPUT_EVENT, value)
    assert info.value.error_type == error_type
    assert hint in info.value.reason


def test_dead_letter_keeps_payload_and_provenance() -> None:
    media_id = uuid7()
    value = b'{"media_id": "%s", "oops": 1}' % str(media_id).encode()
    entry = dead_letter(
        value=value,
        key=None,
        topic="t",
        partition=2,
        offset=9,
        stage="intake",
        reason="bad",
        error_type="schema",
        producer="w",
    )
    assert base64.b64decode(entry.payload_b64) == value
    assert (entry.source_topic, entry.source_partition, entry.source_offset) == ("t", 2, 9)
    assert entry.media_id == media_id


def test_media_id_hint_prefers_the_key_and_survives_garbage() -> None:
    key_id = uuid7()
    assert media_id_hint(b"garbage", str(key_id).encode()) == key_id
    assert media_id_hint(b"garbage", b"not-a-uuid") is None
    assert media_id_hint(None, None) is None
