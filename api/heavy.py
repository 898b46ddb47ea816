"""Threads of their own for the expensive reads: evidence renders and lake scans.

A render runs up to three ffmpeg children and a scan can read many Parquet files; on the
default thread pool a handful of them would starve what must stay quick (streaming uploads to
disk, `/readyz`'s bucket check). They get `api.heavy_threads` threads here, and at most
`api.heavy_queue` more wait; past that the answer is 503 with Retry-After at once. Requests
for the same thing while it is being made share the one making it (`SingleFlight`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from concurrent.futures import ThreadPoolExecutor
from typing import Generic, TypeVar

from api.errors import RETRY_AFTER_S, ApiError

R = TypeVar("R")


class HeavyWork:
    def __init__(self, threads: int, queue: int) -> None:
        self.threads = threads
        self.capacity = threads + queue
        self.executor = ThreadPoolExecutor(threads, thread_name_prefix="reelscope-heavy")
        self.admitted = 0

    async def run(self, fn: Callable[..., R], *args: object) -> R:
        """Run `fn(*args)` on the heavy threads, or refuse (503) when they are all spoken for."""
        if self.admitted >= self.capacity:
            raise ApiError(
                503,
                "busy",
                f"{self.admitted} renders and scans are running or waiting, the limit",
                "retry after the number of seconds in Retry-After",
                headers={"Retry-After": str(RETRY_AFTER_S)},
            )
        self.admitted += 1
        try:
            return await asyncio.get_running_loop().run_in_executor(self.executor, fn, *args)
        finally:
            self.admitted -= 1

    def shutdown(self) -> None:
        self.executor.shutdown(wait=False, cancel_futures=True)


class SingleFlight(Generic[R]):
    """One run per key at a time: a caller that asks while a run for its key is on its way
    waits for that run's answer, so twenty requests for one media's evidence render it once."""

    def __init__(self) -> None:
        self._running: dict[Hashable, asyncio.Future[R]] = {}

    async def run(self, key: Hashable, make: Callable[[], Awaitable[R]]) -> R:
        flight = self._running.get(key)
        if flight is None:
            flight = asyncio.ensure_future(make())
            self._running[key] = flight
            flight.add_done_callback(lambda _: self._running.pop(key, None))
        return await asyncio.shield(flight)  # a caller that leaves does not cancel the others
