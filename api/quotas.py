"""Per-key quotas: a request rate with a burst, uploads at once, and upload bytes per UTC day.

Over a limit the API answers 429 with `Retry-After`, before it reads a body or publishes an
event, so a refused request costs no analysis (and no Gemini spend); other keys are untouched.

Counters are per replica, in memory: the bucket has no atomic increment, and a round trip per
request to a shared counter would cost more than the requests it guards. With N replicas a key
gets up to N times its limits (size the limits per replica; a restart forgets the day's bytes).
With no keys configured (development on loopback) nothing is limited.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from api.auth import Principal
from api.errors import ApiError


def too_many(message: str, hint: str, retry_after_s: float) -> ApiError:
    seconds = max(1, math.ceil(retry_after_s))
    return ApiError(429, "rate_limited", message, hint, headers={"Retry-After": str(seconds)})


@dataclass
class TokenBucket:
    """`rate` tokens a second, at most `burst` saved up; a request takes one."""

    rate: float
    burst: int
    tokens: float = field(init=False)
    updated: float = field(default_factory=time.monotonic)

    def __post_init__(self) -> None:
        self.tokens = float(self.burst)

    def take(self, now: float) -> float:
        """Take a token: 0.0 if there was one, else the seconds until there is."""
        self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / self.rate


@dataclass
class DayBytes:
    day: date
    used: int = 0


class Quotas:
    """The limits of every key this replica has seen, with the API's defaults where a key has
    none of its own."""

    def __init__(
        self,
        *,
        rate_per_s: float,
        burst: int,
        concurrent_uploads: int | None,
        bytes_per_day: int | None,
    ) -> None:
        self.rate_per_s = rate_per_s
        self.burst = burst
        self.concurrent_uploads = concurrent_uploads
        self.bytes_per_day = bytes_per_day
        self._buckets: dict[str, TokenBucket] = {}
        self._uploading: dict[str, int] = {}
        self._bytes: dict[str, DayBytes] = {}

    def admit(self, caller: Principal) -> None:
        """Count one request against the caller's rate; 429 past it."""
        if caller.key is None:
            return
        rate = caller.key.rate_per_s or self.rate_per_s
        burst = caller.key.burst or self.burst
        bucket = self._buckets.get(caller.name)
        if bucket is None or (bucket.rate, bucket.burst) != (rate, burst):
            bucket = self._buckets[caller.name] = TokenBucket(rate, burst)
        wait = bucket.take(time.monotonic())
        if wait:
            msg = f"key {caller.name!r} is over its rate of {rate:g} requests/s (burst {burst})"
            hint = "wait for Retry-After, spread requests out, or ask for a higher rate_per_s"
            raise too_many(msg, hint, wait)

    @contextmanager
    def uploading(self, caller: Principal) -> Iterator[None]:
        """Hold one of the caller's upload slots while the body is received and accepted."""
        limit = None
        if caller.key is not None:
            limit = caller.key.concurrent_uploads or self.concurrent_uploads
        self._refuse_spent_day(caller)
        busy = self._uploading.get(caller.name, 0)
        if limit is not None and busy >= limit:
            msg = f"key {caller.name!r} has {busy} uploads in flight, its limit"
            raise too_many(msg, "wait for an upload to finish before starting another", 1)
        self._uploading[caller.name] = busy + 1
        try:
            yield
        finally:
            self._uploading[caller.name] -= 1
            if not self._uploading[caller.name]:
                del self._uploading[caller.name]

    def _day_limit(self, caller: Principal) -> int | None:
        return (caller.key.bytes_per_day or self.bytes_per_day) if caller.key else None

    def _today(self, caller: Principal) -> DayBytes:
        today = datetime.now(UTC).date()
        entry = self._bytes.get(caller.name)
        if entry is None or entry.day != today:
            entry = self._bytes[caller.name] = DayBytes(today)
        return entry

    def _refuse_spent_day(self, caller: Principal, adding: int = 0) -> None:
        limit = self._day_limit(caller)
        if limit is None:
            return
        entry = self._today(caller)
        if entry.used + adding > limit or entry.used >= limit:
            tomorrow = datetime.combine(entry.day + timedelta(days=1), datetime.min.time(), UTC)
            msg = (
                f"key {caller.name!r} would pass its {limit} upload bytes for {entry.day} "
                f"(UTC; {entry.used} used)"
            )
            hint = "wait until the next UTC day, or ask for a higher bytes_per_day"
            raise too_many(msg, hint, (tomorrow - datetime.now(UTC)).total_seconds())

    def spend_bytes(self, caller: Principal, size: int) -> None:
        """Count a received upload's bytes, or refuse it (429) if they pass the day's limit."""
        if self._day_limit(caller) is None:
            return
        self._refuse_spent_day(caller, size)
        self._today(caller).used += size
