"""UUIDv7 identifiers: time-ordered, so a media id alone names its day partition."""

from __future__ import annotations

import os
import time
import uuid
from datetime import UTC, datetime

_last_ms = 0
_seq = 0


def uuid7() -> uuid.UUID:
    """Return a new RFC 9562 UUIDv7, monotonic within this process."""
    global _last_ms, _seq
    ms = time.time_ns() // 1_000_000
    if ms <= _last_ms:
        ms = _last_ms
        _seq = (_seq + 1) & 0xFFF
        if _seq == 0:
            ms += 1
    else:
        _seq = int.from_bytes(os.urandom(2), "big") & 0x7FF
    _last_ms = ms
    rand_b = int.from_bytes(os.urandom(8), "big") & ((1 << 62) - 1)
    value = (ms & ((1 << 48) - 1)) << 80 | 0x7 << 76 | _seq << 64 | 0b10 << 62 | rand_b
    return uuid.UUID(int=value)


def uuid7_time(value: uuid.UUID) -> datetime:
    """Return the creation time embedded in a UUIDv7."""
    if value.version != 7:
        msg = f"{value} is not a UUIDv7 (version {value.version})"
        raise ValueError(msg)
    return datetime.fromtimestamp((value.int >> 80) / 1000, tz=UTC)


def is_uuid7(value: uuid.UUID) -> bool:
    return value.version == 7 and value.variant == uuid.RFC_4122
