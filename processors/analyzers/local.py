"""The offline analyzer: scene cuts, motion, picture and audio measures from ffmpeg and OpenCV.

Scales of the measures (null when they do not apply, never guessed):
- `motion`: mean absolute difference between consecutive frames, 0–1 of full scale, cuts excluded;
- `brightness`: mean luma of the sampled frames, 0–1;
- `colourfulness`: Hasler–Süsstrunk M, 0 (grey) to ~150 (very colourful);
- `sharpness`: variance of the Laplacian of 512-px-wide grey frames;
- `loudness_lufs`: EBU R128 integrated loudness; `silence_ratio`: share of time below -50 dBFS;
- `text_coverage`: share of the frame inside OCR text boxes, the most of `OCR_FRAMES` frames;
- `faces_max`: most faces found in one sampled frame (null if the face model is not installed).
A 320-px JPEG of the sharpest middle frame is returned with the measures; `thumbnail_key` is set
only when the caller gives the analyzer a `ThumbnailSink` that stores it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import BrokenExecutor, Executor, Future
from functools import partial
from pathlib import Path
from typing import NamedTuple
from uuid import UUID

import cv2
import numpy as np

from processors.analyzers.base import AnalysisRequest, analysis_of
from processors.analyzers.scenes import scene_cuts, taps_for
from processors.errors import AnalyzerUnavailable, MediaError, StorageError
from processors.media import Frame
from processors.media.frames import Sampled, sample
from processors.media.limits import LimitSettings
from processors.media.probe import Packet, probe_media
from processors.vision import detect_faces, faces_available, read_text, text_coverage
from processors.vision.frames import pick_thumbnail, spread, thumbnail_jpeg
from schemas.events import MediaAnalysis, MediaInfo, TechnicalAnalysis, Usage

log = logging.getLogger(__name__)

OCR_FRAMES = 3  # OCR costs ~50 ms a frame plus ~45 ms a text line: a few frames only

ThumbnailSink = Callable[[UUID, bytes], Awaitable[str]]
"""Store a thumbnail JPEG for a media id and return its object key (e.g. `thumbs/<id>.jpg`)."""


class LocalResult(NamedTuple):
    """What one file gave: the probe, the measures, and a JPEG thumbnail (None if not encodable)."""

    info: MediaInfo
    technical: TechnicalAnalysis
    thumbnail: bytes | None


Measure = Callable[[AnalysisRequest], Awaitable[LocalResult]]


def video_measures(
    path: Path,
    info: MediaInfo,
    limits: LimitSettings,
    *,
    thorough: bool = False,
    first_pass: Sampled | None = None,
    packets: list[Packet] | None = None,
) -> dict[str, object]:
    """Cuts, shots, motion and audio (`processors.analyzers.scenes`)."""
    m = scene_cuts(path, info, limits, thorough=thorough, first_pass=first_pass, packets=packets)
    shots = len(m.cuts_s) + 1
    duration = info.duration_s
    return {
        "scene_cuts_s": m.cuts_s,
        "shot_count": shots,
        "mean_shot_s": round(duration / shots, 3) if duration else None,
        "motion": m.motion,
        "audio_present": info.has_audio,
        "loudness_lufs": m.lufs if info.has_audio else None,
        "silence_ratio": m.silence_ratio if info.has_audio else None,
    }


def colourfulness(image: np.ndarray) -> float:
    """Hasler–Süsstrunk colourfulness of a BGR image."""
    b, g, r = (image[..., i].astype(np.float32) for i in range(3))
    rg, yb = r - g, 0.5 * (r + g) - b
    sigma = float(np.hypot(rg.std(), yb.std()))
    mu = float(np.hypot(rg.mean(), yb.mean()))
    return sigma + 0.3 * mu


def frame_measures(frames: list[Frame]) -> dict[str, object]:
    """Average brightness, colourfulness and sharpness over the sampled frames."""
    greys = [cv2.cvtColor(f.image, cv2.COLOR_BGR2GRAY) for f in frames]
    return {
        "brightness": round(float(np.mean([g.mean() for g in greys])) / 255, 4),
        "colourfulness": round(float(np.mean([colourfulness(f.image) for f in frames])), 3),
        "sharpness": round(float(np.mean([cv2.Laplacian(g, cv2.CV_64F).var() for g in greys])), 3),
    }


def vision_measures(frames: list[Frame], ocr_frames: int = OCR_FRAMES) -> dict[str, object]:
    """Text coverage (OCR on a few frames) and the most faces in one frame (all frames)."""
    picked = spread(frames, ocr_frames)
    coverage = max((text_coverage(read_text(f.image)) for f in picked), default=0.0)
    faces = max(len(detect_faces(f.image)) for f in frames) if faces_available() else None
    return {"text_coverage": coverage, "faces_max": faces}


def analyze_media(
    path: Path,
    info: MediaInfo | None,
    limits: LimitSettings,
    frames: int,
    ocr_frames: int = OCR_FRAMES,
    *,
    thorough: bool = False,
    first_pass: Sampled | None = None,
    packets: list[Packet] | None = None,
    scenes: Future[dict[str, object]] | None = None,
) -> LocalResult:
    """Probe (if needed), measure one file and make its thumbnail; `MediaError` if unreadable.

    `first_pass` is a sampling decode already made with `taps_for(info)` (shared with the
    brand check), `packets` the probe's list of the video's packets, `scenes` the
    `video_measures` of a video already under way; `thorough` decodes every frame for the cuts
    and motion (the reference)."""
    if info is None:
        info, packets = probe_media(path, limits)
    first = first_pass or sample(path, info, frames, limits, taps=taps_for(info, thorough=thorough))
    sampled = first.frames
    measures = frame_measures(sampled) | vision_measures(sampled, ocr_frames)
    if info.kind == "video":
        measures |= (
            scenes.result()
            if scenes is not None
            else video_measures(
                path, info, limits, thorough=thorough, first_pass=first, packets=packets
            )
        )
    thumbnail = thumbnail_jpeg(sampled[pick_thumbnail([f.image for f in sampled])].image)
    return LocalResult(info, TechnicalAnalysis.model_validate(measures), thumbnail)


def analyze_file(
    path: Path, info: MediaInfo | None, limits: LimitSettings, frames: int
) -> TechnicalAnalysis:
    """Measure one file in this process (picklable: runs in a ProcessPoolExecutor)."""
    return analyze_media(path, info, limits, frames).technical


class LocalAnalyzer:
    """Offline technical analysis; CPU work runs in `executor` (default: the loop's threads).

    With `thumbnails`, each thumbnail is handed to that sink and its key lands in
    `technical.thumbnail_key`; a sink's `StorageError` only leaves the key null. `measure`
    replaces the measuring itself (the worker's shared inspection, `processors.inspect`);
    `thorough` decodes every frame for cuts and motion.
    """

    name = "local"

    def __init__(
        self,
        limits: LimitSettings,
        executor: Executor | None = None,
        frames: int = 16,
        thumbnails: ThumbnailSink | None = None,
        *,
        thorough: bool = False,
        measure: Measure | None = None,
    ) -> None:
        self._limits = limits
        self._executor = executor
        self._frames = frames
        self._thumbnails = thumbnails
        self._thorough = thorough
        self._measure = measure or self._measure_here

    async def _measure_here(self, request: AnalysisRequest) -> LocalResult:
        loop = asyncio.get_running_loop()
        run = partial(analyze_media, thorough=self._thorough)
        return await loop.run_in_executor(
            self._executor, run, request.path, request.media, self._limits, self._frames
        )

    async def analyze(self, request: AnalysisRequest) -> MediaAnalysis:
        """Analyse one file; unreadable media give a `failed` analysis, not an exception."""
        started = time.perf_counter()
        info, technical, error = request.media, None, None
        try:
            info, technical, thumbnail = await self._measure(request)
            technical = await self._store_thumbnail(request, technical, thumbnail)
        except MediaError as exc:
            error = str(exc)
        except BrokenExecutor as exc:
            msg = "the local analyzer's worker pool is broken"
            raise AnalyzerUnavailable(msg) from exc
        return analysis_of(
            request.event,
            producer=request.producer,
            analyzer=self.name,
            status="failed" if error else "done",
            error=error,
            media=info,
            technical=technical,
            usage=Usage(cost_usd=0.0),
            latency_ms=round((time.perf_counter() - started) * 1000, 1),
        )

    async def _store_thumbnail(
        self, request: AnalysisRequest, technical: TechnicalAnalysis, thumbnail: bytes | None
    ) -> TechnicalAnalysis:
        """Hand the thumbnail to the sink, if any, and record the key it was stored under."""
        if self._thumbnails is None or thumbnail is None:
            return technical
        try:
            key = await self._thumbnails(request.event.media_id, thumbnail)
        except StorageError as exc:
            log.warning("thumbnail not stored for %s: %s", request.event.media_id, exc)
            return technical
        return technical.model_copy(update={"thumbnail_key": key})

    async def aclose(self) -> None:
        """Release nothing: the executor belongs to the caller."""
