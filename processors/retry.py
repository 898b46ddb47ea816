"""Waiting out a bucket outage: the work is retried, never failed or skipped."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

import structlog

from processors.errors import ObjectNotFound, StorageError

log = structlog.get_logger(__name__)
R = TypeVar("R")


async def patiently(work: Callable[[], Awaitable[R]], what: str) -> R:
    """Retry while the bucket is unavailable: the partition waits, nothing is lost or failed."""
    delay = 0.5
    while True:
        try:
            return await work()
        except ObjectNotFound:
            raise
        except StorageError as e:
            log.warning("bucket_unavailable", work=what, error=str(e), retry_in_s=delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 30.0)
