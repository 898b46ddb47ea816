"""Fault handling around Gemini calls: classify, retry with jittered backoff, break, limit RPM/TPM.

    APIError 408, 429, 5xx, transport errors, timeouts  -> retried; AnalyzerUnavailable at the end
    APIError 401, 403, 404, invalid API key             -> AnalyzerUnavailable at once (our config)
    any other 4xx (400 invalid argument, 413, ...)      -> AnalyzerRejected (the input's fault)

A 429's `google.rpc.RetryInfo.retryDelay` is honoured (the SDK ignores it); a hint longer than
`max_retry_delay_s` gives up at once, so a worker is not parked for an hour on a daily quota.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, Protocol, TypeVar

import httpx
from google.genai import errors as genai_errors

from processors.analyzers.gemini.options import GeminiOptions
from processors.errors import AnalyzerRejected, AnalyzerUnavailable, ReelscopeError

log = logging.getLogger(__name__)

T = TypeVar("T")
Fault = Literal["transient", "config", "rejected"]


def _transport_errors() -> tuple[type[BaseException], ...]:
    found: list[type[BaseException]] = [OSError, httpx.TransportError]
    try:
        import aiohttp  # the SDK's async transport when installed
    except ImportError:
        return tuple(found)
    return (*found, aiohttp.ClientError)


TRANSPORT_ERRORS = _transport_errors()


class Clock(Protocol):
    def now(self) -> datetime: ...

    def monotonic(self) -> float: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(tz=UTC)

    def monotonic(self) -> float:
        return time.monotonic()


def _error_body(e: genai_errors.APIError) -> dict[str, Any]:
    details = e.details if isinstance(e.details, dict) else {}
    inner = details.get("error", details)
    return inner if isinstance(inner, dict) else {}


def _duration_s(value: Any) -> float | None:
    if isinstance(value, str) and value.endswith("s"):
        try:
            return float(value[:-1])
        except ValueError:
            return None
    if isinstance(value, dict):
        return float(value.get("seconds", 0)) + float(value.get("nanos", 0)) / 1e9
    return None


def retry_delay_hint(e: genai_errors.APIError) -> float | None:
    """Read `retryDelay` from a `google.rpc.RetryInfo` detail, if the server sent one."""
    for detail in _error_body(e).get("details") or []:
        if isinstance(detail, dict) and str(detail.get("@type", "")).endswith("rpc.RetryInfo"):
            return _duration_s(detail.get("retryDelay"))
    return None


def classify(e: genai_errors.APIError) -> Fault:
    code = e.code or 0
    if code in (408, 429) or code >= 500:
        return "transient"
    reasons = {d.get("reason") for d in _error_body(e).get("details") or [] if isinstance(d, dict)}
    if code in (401, 403, 404) or "API_KEY_INVALID" in reasons:
        return "config"
    return "rejected"


@dataclass
class CircuitBreaker:
    """Open after `failures` consecutive faults; after `open_s`, let one trial call through."""

    failures: int
    open_s: float
    clock: Clock
    consecutive: int = 0
    opened_at: float | None = None
    trial_running: bool = False

    def before_call(self) -> None:
        if self.opened_at is None:
            return
        waited = self.clock.monotonic() - self.opened_at
        if waited < self.open_s or self.trial_running:
            msg = (
                f"Gemini circuit open after {self.consecutive} consecutive failures; "
                f"next trial in {max(0.0, self.open_s - waited):.1f}s"
            )
            raise AnalyzerUnavailable(msg)
        self.trial_running = True

    def success(self) -> None:
        self.consecutive, self.opened_at, self.trial_running = 0, None, False

    def failure(self) -> None:
        self.consecutive += 1
        self.trial_running = False
        if self.consecutive >= self.failures:
            self.opened_at = self.clock.monotonic()

    @property
    def is_open(self) -> bool:
        return self.opened_at is not None


@dataclass
class RateLimiter:
    """A token bucket of `rpm` requests per minute with `burst` tokens; FIFO for waiters."""

    rpm: int
    burst: int
    clock: Clock
    _tokens: float = -1.0
    _stamp: float = 0.0
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def acquire(self) -> None:
        if self.rpm <= 0:
            return
        async with self._lock:
            while (wait := self._take()) > 0:
                await asyncio.sleep(wait)

    def _take(self) -> float:
        """Take a token and return 0, or return how long until one is due."""
        now, rate = self.clock.monotonic(), self.rpm / 60.0
        if self._tokens < 0:
            self._tokens, self._stamp = float(self.burst), now
        self._tokens = min(float(self.burst), self._tokens + (now - self._stamp) * rate)
        self._stamp = now
        if self._tokens >= 1:
            self._tokens -= 1
            return 0.0
        return (1 - self._tokens) / rate


@dataclass
class TokenLimiter:
    """Tokens per minute: a call takes its estimate before it runs, then `settle` trues the
    bucket up to what it really used (a refund, or a debt the next callers wait off)."""

    tpm: int
    clock: Clock
    waited_s: float = 0.0
    _level: float | None = None
    _stamp: float = 0.0
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    _settled: asyncio.Event = field(default_factory=asyncio.Event)

    async def acquire(self, tokens: int) -> int:
        """Wait until `tokens` (at most a minute's worth) are free, take them, say how many.

        The waiter at the head wakes early when a call settles: a refund may already cover it.
        """
        if self.tpm <= 0:
            return 0
        want = max(0, min(tokens, self.tpm))
        async with self._lock:
            while (wait := self._take(want)) > 0:
                self._settled.clear()
                started = self.clock.monotonic()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(wait):
                        await self._settled.wait()
                self.waited_s += self.clock.monotonic() - started
        return want

    def settle(self, taken: int, actual: int) -> None:
        """Replace the `taken` estimate by the `actual` tokens billed (0 refunds it all)."""
        if self.tpm <= 0:
            return
        self._refill()
        assert self._level is not None
        self._level = min(float(self.tpm), self._level + taken - actual)
        self._settled.set()

    def _refill(self) -> None:
        now = self.clock.monotonic()
        if self._level is None:
            self._level, self._stamp = float(self.tpm), now
        self._level = min(float(self.tpm), self._level + (now - self._stamp) * self.tpm / 60.0)
        self._stamp = now

    def _take(self, want: int) -> float:
        """Take `want` tokens and return 0, or return how long until they are due."""
        self._refill()
        assert self._level is not None
        if self._level >= want:
            self._level -= want
            return 0.0
        return (want - self._level) * 60.0 / self.tpm


def backoff_s(attempt: int, options: GeminiOptions, hint: float | None) -> float:
    """Equal-jitter exponential backoff, never shorter than the server's hint."""
    ceiling = min(options.backoff_max_s, options.backoff_base_s * 2.0 ** (attempt - 1))
    delay = ceiling / 2 + random.uniform(0, ceiling / 2)
    return max(delay, hint or 0.0)


@dataclass
class Retrier:
    """Run one remote operation under the breaker, the limiter, a deadline and retries."""

    options: GeminiOptions
    breaker: CircuitBreaker
    limiter: RateLimiter
    # requests by outcome (ok, rate_limited: a 429, error: any other fault) and retries made,
    # since start-up: the worker exports them
    counts: Counter[str] = field(default_factory=Counter)

    async def call(
        self,
        what: str,
        op: Callable[[], Awaitable[T]],
        *,
        timeout_s: float | None = None,
        limited: bool = False,
    ) -> T:
        last: BaseException | None = None
        for attempt in range(1, self.options.max_attempts + 1):
            self.breaker.before_call()
            if limited:
                await self.limiter.acquire()
            try:
                async with asyncio.timeout(timeout_s):
                    result = await op()
            except genai_errors.APIError as e:
                self.counts["rate_limited" if e.code == 429 else "error"] += 1
                hint = self._on_api_error(what, e)
                last = e
            except TRANSPORT_ERRORS as e:
                self.counts["error"] += 1
                self.breaker.failure()
                hint, last = None, e
            except ReelscopeError:
                raise
            except Exception as e:  # an SDK surprise: translate it, do not guess it is permanent
                self.counts["error"] += 1
                self.breaker.failure()
                msg = f"{what} failed unexpectedly: {type(e).__name__}: {e}"
                raise AnalyzerUnavailable(msg) from e
            else:
                self.counts["ok"] += 1
                self.breaker.success()
                return result
            if attempt < self.options.max_attempts:
                self.counts["retry"] += 1
                delay = backoff_s(attempt, self.options, hint)
                log.warning(
                    "gemini_retry %s attempt %d in %.2fs: %s", what, attempt, delay, _describe(last)
                )
                await asyncio.sleep(delay)
        msg = f"{what} failed after {self.options.max_attempts} attempts: {_describe(last)}"
        raise AnalyzerUnavailable(msg) from last

    def _on_api_error(self, what: str, e: genai_errors.APIError) -> float | None:
        """Raise for faults that retrying cannot fix; return the server's delay hint."""
        fault = classify(e)
        if fault == "rejected":
            self.breaker.success()  # the service answered; the input is the problem
            msg = f"{what} rejected by Gemini: {e.code} {e.status}: {e.message}"
            raise AnalyzerRejected(msg) from e
        self.breaker.failure()
        if fault == "config":
            msg = f"{what}: Gemini refused our configuration ({e.code} {e.status}): {e.message}"
            raise AnalyzerUnavailable(msg) from e
        hint = retry_delay_hint(e)
        if hint is not None and hint > self.options.max_retry_delay_s:
            msg = f"{what}: Gemini asks to wait {hint:.0f}s (quota exhausted): {e.message}"
            raise AnalyzerUnavailable(msg) from e
        return hint


def _describe(e: BaseException | None) -> str:
    if isinstance(e, genai_errors.APIError):
        return f"{e.code} {e.status}: {e.message}"
    if isinstance(e, TimeoutError):
        return "timed out"
    return f"{type(e).__name__}: {e}"
