"""What each agent does with one event, kept apart from Faust so it can be called directly.

CPU-heavy work (ffmpeg, OpenCV) runs in a process pool: the event loop stays free for
heartbeats and I/O, and a crash in a decoder only breaks a child process, which is replaced.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import shutil
import signal
import tempfile
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import structlog

from processors.analyzers.base import AnalysisRequest, Analyzer, source_ref
from processors.brand import CHECKS_VERSION, check_media
from processors.brand.profiles import BrandCache
from processors.config import Settings
from processors.errors import (
    AnalyzerRejected,
    AnalyzerUnavailable,
    ObjectNotFound,
    ReelscopeError,
    StorageError,
)
from processors.storage import LocalStore, Store, check_key
from schemas.events import BrandCheck, BrandProfile, MediaAnalysis, MediaGenerated, MediaUploaded

log = structlog.get_logger(__name__)
R = TypeVar("R")
InputEvent = MediaUploaded | MediaGenerated


class RenewingPool(Executor):
    """A process pool that replaces itself once a child dies.

    A decoder killed by its limits (or crashing on hostile input) breaks a
    `ProcessPoolExecutor` for good; the task that broke it fails, the next submit gets a new
    pool. Children are spawned: forking a process that has threads is unsafe.
    """

    def __init__(self, size: int) -> None:
        self._size = size
        self._pool = self._new()

    def _new(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(
            self._size,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_ignore_stop_signals,
        )

    def submit(self, fn: Callable[..., R], /, *args: Any, **kwargs: Any) -> Future[R]:
        try:
            return self._pool.submit(fn, *args, **kwargs)
        except BrokenProcessPool:
            log.error("worker_pool_broken", hint="a decoder process died; starting a new pool")
            self._pool.shutdown(wait=False)
            self._pool = self._new()
            return self._pool.submit(fn, *args, **kwargs)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self._pool.shutdown(wait=wait, cancel_futures=cancel_futures)


def _ignore_stop_signals() -> None:
    """In a pool child: leave SIGINT/SIGTERM to the parent, which stops the pool itself.

    A Ctrl-C or a SIGTERM to the worker's process group would otherwise kill the children
    first, and every check in flight would end as a "decoder crashed" failure.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


@dataclass
class MediaFiles:
    """Local copies of media by sha256, fetched once and shared by the stages."""

    store: Store
    folder: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="reelscope-")))
    keep_seconds: float = 600.0
    _locks: dict[str, asyncio.Lock] = field(default_factory=dict)

    async def fetch(self, event: InputEvent) -> Path:
        if isinstance(self.store, LocalStore):  # read in place, no copy
            path = self.store.root / check_key(event.object_key)
            if not path.is_file():
                raise ObjectNotFound(event.object_key)
            return path
        path = self.folder / event.sha256
        lock = self._locks.setdefault(event.sha256, asyncio.Lock())
        async with lock:
            if not path.exists():
                tmp = path.with_suffix(".part")
                await asyncio.to_thread(self.store.download, event.object_key, tmp)
                os.replace(tmp, path)
        self._locks.pop(event.sha256, None)
        await asyncio.to_thread(self._expire)
        return path

    def _expire(self) -> None:
        cutoff = time.time() - self.keep_seconds
        for p in self.folder.iterdir():
            if p.stat().st_mtime < cutoff:
                p.unlink(missing_ok=True)

    def close(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


@dataclass
class Stages:
    settings: Settings
    store: Store
    analyzer: Analyzer
    pool: RenewingPool
    files: MediaFiles
    brands: BrandCache

    async def brand_check(self, event: InputEvent) -> BrandCheck:
        """Check one asset against its brand; media we cannot read is a failed check."""
        try:
            return await patiently(lambda: self._brand_check(event), str(event.media_id))
        except (ObjectNotFound, BrokenProcessPool) as e:
            return failed_check(event, _describe(e), self.settings.producer_id)
        except Exception as e:  # a bug must fail one asset, never the worker
            log.exception("brand_check_crashed", media_id=str(event.media_id))
            return failed_check(event, f"internal error: {_describe(e)}", self.settings.producer_id)

    async def _brand_check(self, event: InputEvent) -> BrandCheck:
        profile: BrandProfile | None = None
        logos: list[bytes] = []
        if event.brand_id:
            profile, logos = await asyncio.to_thread(self.brands.get, event.brand_id)
        path = await self.files.fetch(event)
        return await asyncio.get_running_loop().run_in_executor(
            self.pool,
            check_media,
            path,
            event,
            profile,
            logos,
            self.settings.limits,
            self.settings.worker.sample_frames,
            self.settings.producer_id,
        )

    async def analyze(self, event: InputEvent, attempts: int = 4) -> MediaAnalysis:
        """Analyse one asset, retrying transient faults; the last resort is a failed analysis."""
        name, settings = self.analyzer.name, self.settings
        delay = 1.0
        for attempt in range(1, attempts + 1):
            try:
                path = await patiently(lambda: self.files.fetch(event), str(event.media_id))
                request = AnalysisRequest(path, event, producer=settings.producer_id)
                return await self.analyzer.analyze(request)
            except (ObjectNotFound, BrokenProcessPool, AnalyzerRejected) as e:
                return failed_analysis(event, name, _describe(e), settings)
            except AnalyzerUnavailable as e:
                if attempt == attempts:
                    reason = f"analyzer unavailable after {attempts} attempts: {e}"
                    return failed_analysis(event, name, reason, settings)
                log.warning("analyzer_retry", media_id=str(event.media_id), attempt=attempt)
                await asyncio.sleep(delay)
                delay *= 2
            except Exception as e:  # a bug must fail one asset, never the worker
                log.exception("analysis_crashed", media_id=str(event.media_id))
                return failed_analysis(event, name, f"internal error: {_describe(e)}", settings)
        msg = "unreachable"
        raise AssertionError(msg)

    async def aclose(self) -> None:
        await self.analyzer.aclose()
        self.pool.shutdown(cancel_futures=True)
        self.files.close()


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


def _describe(e: BaseException) -> str:
    if isinstance(e, ObjectNotFound):
        return f"media object {e} is not in the bucket"
    if isinstance(e, BrokenProcessPool):
        return "the decoder process crashed on this media (hostile or corrupt input)"
    if isinstance(e, ReelscopeError):
        return str(e)
    return f"{type(e).__name__}: {e}"


def failed_check(event: InputEvent, error: str, producer: str) -> BrandCheck:
    return BrandCheck(
        media_id=event.media_id,
        producer=producer,
        source=source_ref(event),
        status="failed",
        error=error,
        checks_version=CHECKS_VERSION,
    )


def failed_analysis(
    event: InputEvent, analyzer: str, error: str, settings: Settings
) -> MediaAnalysis:
    return MediaAnalysis(
        media_id=event.media_id,
        producer=settings.producer_id,
        source=source_ref(event),
        status="failed",
        error=error,
        analyzer=analyzer,
    )
