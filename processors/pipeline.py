"""What each stage does with one input event, without Faust: the agents in `streams.app` call
`Stages.brand_check` and `Stages.analyze`, tests call them directly.

Both stages always answer: media that cannot be read, a crashed decoder or an analyzer that
stays unavailable give a `failed` check or analysis, never an exception (a bucket outage is
waited out, `processors.retry`). CPU-heavy work runs in a `processors.pool.RenewingPool`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import os
import shutil
import tempfile
import time
from collections import OrderedDict
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any
from uuid import UUID

import cv2
import numpy as np
import structlog

from processors.analyzers.base import AnalysisRequest, Analyzer, analysis_of, source_ref
from processors.analyzers.local import LocalResult, ThumbnailSink
from processors.analyzers.registry import create_analyzer
from processors.brand import CHECKS_VERSION
from processors.brand.profiles import BrandCache
from processors.config import Settings
from processors.dedupe.index import DedupeIndex
from processors.errors import (
    AnalyzerRejected,
    AnalyzerUnavailable,
    IntegrityError,
    MediaError,
    ObjectNotFound,
    ReelscopeError,
)
from processors.inspect import Inspection, inspect
from processors.keys import thumbnail_key
from processors.pool import RenewingPool
from processors.retry import patiently
from processors.storage import Store
from schemas.events import BrandCheck, MediaAnalysis, MediaGenerated, MediaUploaded
from schemas.profiles import BrandProfile
from schemas.provenance import DuplicateOf

log = structlog.get_logger(__name__)
InputEvent = MediaUploaded | MediaGenerated


@dataclass
class MediaFiles:
    """Local copies of media by sha256, fetched once and shared by the stages.

    What is read is what the event names: a download is hashed before it becomes the copy, and
    a media read in place (a local bucket) is hashed once per version of the file; bytes with
    another sha256 fail the media (`IntegrityError`). The copies are named by that hash, so an
    event claiming another media's sha256 cannot be served that media's copy.
    """

    store: Store
    folder: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="reelscope-")))
    keep_seconds: float = 600.0
    _locks: dict[str, asyncio.Lock] = field(default_factory=dict)
    _verified: OrderedDict[Path, tuple[int, int, str]] = field(default_factory=OrderedDict)

    async def fetch(self, event: InputEvent) -> Path:
        path = self.store.local_path(event.object_key)
        if path is not None:  # a local folder: read in place, no copy
            if not path.is_file():
                raise ObjectNotFound(event.object_key)
            await asyncio.to_thread(self._check_in_place, path, event)
            return path
        path = self.folder / event.sha256
        lock = self._locks.setdefault(event.sha256, asyncio.Lock())
        async with lock:
            if not path.exists():
                tmp = path.with_suffix(".part")
                try:
                    await asyncio.to_thread(self.store.download, event.object_key, tmp)
                    await asyncio.to_thread(check_digest, tmp, event)
                except BaseException:
                    tmp.unlink(missing_ok=True)
                    raise
                os.replace(tmp, path)
        self._locks.pop(event.sha256, None)
        await asyncio.to_thread(self._expire)
        return path

    def _check_in_place(self, path: Path, event: InputEvent) -> None:
        st = path.stat()
        version = (st.st_mtime_ns, st.st_size, event.sha256)
        if self._verified.get(path) == version:
            self._verified.move_to_end(path)
            return
        check_digest(path, event)
        self._verified[path] = version
        while len(self._verified) > 4096:
            self._verified.popitem(last=False)

    def _expire(self) -> None:
        cutoff = time.time() - self.keep_seconds
        for p in self.folder.iterdir():
            if p.stat().st_mtime < cutoff:
                p.unlink(missing_ok=True)

    def close(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


class Inspections:
    """One inspection per input event (`processors.inspect`), shared by the stages that ask.

    Both stages consume the same input topics in this process, so the brand check and the
    local analysis of a media are one pool task: one fetch, one probe, one decode. An entry is
    dropped once every stage took it, or when it failed (a retry makes a new one); entries a
    stage never came for (a replay of one stage only) go oldest first past `KEEP`.

    With a `dedupe` index, the inspection also says which earlier upload of the brand the media
    nearly duplicates (looked up here, in the worker: the pool child has no network); with
    `reuse`, the analysis stage asks for it too, to reuse an exact-content copy's analysis.
    """

    KEEP = 256

    def __init__(
        self,
        settings: Settings,
        pool: RenewingPool,
        files: MediaFiles,
        brands: BrandCache,
        *,
        analyze: bool,
        dedupe: DedupeIndex | None = None,
        reuse: bool = False,
    ) -> None:
        self.settings, self.pool, self.files, self.brands = settings, pool, files, brands
        self.analyze, self.dedupe, self.reuse = analyze, dedupe, reuse
        self._entries: OrderedDict[UUID, list[Any]] = OrderedDict()

    async def get(self, event: InputEvent) -> Inspection:
        key = event.event_id
        entry = self._entries.get(key)
        if entry is None:
            consumers = 2 if self.analyze or (self.reuse and event.brand_id) else 1
            entry = [asyncio.ensure_future(self._run(event)), consumers]
            self._entries[key] = entry
            while len(self._entries) > self.KEEP:
                self._entries.popitem(last=False)
        entry[1] -= 1
        if entry[1] <= 0:
            self._entries.pop(key, None)
        try:
            inspection: Inspection = await asyncio.shield(entry[0])
        except BaseException:
            if self._entries.get(key) is entry:
                del self._entries[key]
            raise
        return inspection

    async def measure(self, request: AnalysisRequest) -> LocalResult:
        """The local analyzer's measuring, from the shared inspection."""
        inspection = await self.get(request.event)
        if inspection.analysis is None:
            raise MediaError(inspection.error or "the media could not be analysed")
        return inspection.analysis

    async def _run(self, event: InputEvent) -> Inspection:
        return await patiently(lambda: self._once(event), str(event.media_id))

    async def _once(self, event: InputEvent) -> Inspection:
        profile: BrandProfile | None = None
        logos: list[bytes] = []
        if event.brand_id:
            profile, logos = await asyncio.to_thread(self.brands.get, event.brand_id)
        path = await self.files.fetch(event)
        s = self.settings
        work = partial(
            inspect,
            analyze=self.analyze,
            thorough=s.analyzer.profile == "thorough",
            provenance=s.provenance,
            fingerprints=self.dedupe is not None,
        )
        inspection: Inspection = await asyncio.get_running_loop().run_in_executor(
            self.pool,
            work,
            path,
            event,
            profile,
            logos,
            s.limits,
            s.worker.sample_frames,
            s.producer_id,
        )
        return await self._deduplicated(event, inspection)

    async def _deduplicated(self, event: InputEvent, inspection: Inspection) -> Inspection:
        """The inspection with the earlier upload of the brand it nearly duplicates, if any."""
        check = inspection.check
        if self.dedupe is None or not event.brand_id or check.fingerprint is None:
            return inspection
        if check.media is None:
            return inspection
        match = await asyncio.to_thread(
            self.dedupe.match_and_record,
            event.brand_id,
            event.media_id,
            event.sha256,
            check.media.kind,
            check.fingerprint,
        )
        updated = check.model_copy(update={"duplicate_of": match})
        return dataclasses.replace(inspection, check=updated)

    async def exact_copy_of(self, event: InputEvent) -> DuplicateOf | None:
        """The earlier upload of the brand this media is an exact-content copy of, when the
        analysis may reuse its analysis; None when it may not, or the media is unreadable.

        Only a media with a brand waits for its inspection here (the index is per brand): the
        analysis of any other goes ahead alongside its brand check, as before."""
        if not self.reuse or not event.brand_id:
            return None
        try:
            match = (await self.get(event)).check.duplicate_of
        except (ReelscopeError, BrokenProcessPool):
            return None
        return match if match is not None and match.exact else None


@dataclass
class Stages:
    settings: Settings
    store: Store
    analyzer: Analyzer
    pool: RenewingPool
    files: MediaFiles
    inspections: Inspections

    @classmethod
    async def build(cls, settings: Settings) -> Stages:
        """Open the store, start and warm the decoder pool, and make the configured analyzer."""
        size = settings.worker.check_processes
        pool = RenewingPool(size)
        loop = asyncio.get_running_loop()
        await asyncio.gather(*(loop.run_in_executor(pool, _warm, i) for i in range(size)))
        store = settings.store.open()
        files = MediaFiles(store)
        local = settings.analyzer_name == "local"
        d = settings.dedupe
        inspections = Inspections(
            settings,
            pool,
            files,
            BrandCache(store),
            analyze=local,
            dedupe=DedupeIndex(store, d) if d.enabled else None,
            reuse=d.enabled and d.reuse_analysis and settings.analyzer_name == "gemini",
        )
        analyzer = create_analyzer(
            settings,
            store=store,
            executor=pool,
            thumbnails=thumbnail_sink(store),
            measure=inspections.measure if local else None,
        )
        return cls(settings, store, analyzer, pool, files, inspections)

    async def brand_check(self, event: InputEvent) -> BrandCheck:
        """Check one asset against its brand; media we cannot read is a failed check."""
        try:
            return (await self.inspections.get(event)).check
        except (ObjectNotFound, IntegrityError, BrokenProcessPool) as e:
            return failed_check(event, _describe(e), self.settings.producer_id)
        except Exception as e:  # a bug must fail one asset, never the worker
            log.exception("brand_check_crashed", media_id=str(event.media_id))
            return failed_check(event, f"internal error: {_describe(e)}", self.settings.producer_id)

    async def analyze(self, event: InputEvent, attempts: int = 4) -> MediaAnalysis:
        """Analyse one asset, retrying transient faults; the last resort is a failed analysis."""
        name, settings = self.analyzer.name, self.settings
        same_as = await self.inspections.exact_copy_of(event)
        delay = 1.0
        for attempt in range(1, attempts + 1):
            try:
                path = await patiently(lambda: self.files.fetch(event), str(event.media_id))
                request = AnalysisRequest(
                    path, event, producer=settings.producer_id, same_as=same_as
                )
                return await self.analyzer.analyze(request)
            except (ObjectNotFound, IntegrityError, BrokenProcessPool, AnalyzerRejected) as e:
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


def _warm(_: int) -> None:
    """Import the heavy modules and load the models in a pool process before the first event
    needs them (the OCR engine alone takes seconds to load)."""
    import processors.brand  # noqa: F401
    from processors.vision import faces_available, read_text

    faces_available()
    # a word, so that the recogniser loads too: RapidOCR loads it on the first text it finds
    words = np.full((64, 256, 3), 255, np.uint8)
    cv2.putText(words, "warm", (8, 44), cv2.FONT_HERSHEY_SIMPLEX, 1.2, (0, 0, 0), 3)
    read_text(words)


def thumbnail_sink(store: Store) -> ThumbnailSink:
    """Store thumbnails next to the media (`processors.keys.thumbnail_key`)."""

    async def put(media_id: UUID, jpeg: bytes) -> str:
        key = thumbnail_key(media_id)
        await asyncio.to_thread(store.put_bytes, key, jpeg)
        return key

    return put


def check_digest(path: Path, event: InputEvent) -> None:
    """Raise `IntegrityError` unless the file's sha256 is the event's."""
    with path.open("rb") as fh:
        actual = hashlib.file_digest(fh, "sha256").hexdigest()
    if actual != event.sha256:
        msg = (
            f"the bytes of {event.object_key} have sha256 {actual}, not the event's "
            f"{event.sha256}: the object changed after it was accepted, or the event names "
            "other bytes"
        )
        raise IntegrityError(msg)


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
    return analysis_of(
        event, producer=settings.producer_id, analyzer=analyzer, status="failed", error=error
    )
