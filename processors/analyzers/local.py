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
import re
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import BrokenExecutor, Executor
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple
from uuid import UUID

import cv2
import numpy as np

from processors.analyzers.base import AnalysisRequest, analysis_of
from processors.errors import AnalyzerUnavailable, MediaError, StorageError
from processors.media import Frame, input_args, probe, run_limited, sample_frames, sniff
from processors.media.limits import LimitSettings
from processors.vision import detect_faces, faces_available, read_text, text_coverage
from processors.vision.frames import pick_thumbnail, spread, thumbnail_jpeg
from schemas.events import MediaAnalysis, MediaInfo, TechnicalAnalysis, Usage

log = logging.getLogger(__name__)

SILENCE_DB = -50
CUT_MIN_CHANGE = 4.0  # a cut changes at least 4 % of full scale on average per pixel
CUT_RATIO = 3.0  # ... and at least 3x the typical change of its neighbourhood
CUT_WINDOW = 8  # frames each side that define the neighbourhood
MIN_SHOT_S = 0.3
OCR_FRAMES = 3  # OCR costs ~50 ms a frame plus ~45 ms a text line: a few frames only
_FRAME_T = re.compile(
    r"^\[Parsed_metadata_\d+ @ 0x[0-9a-f]+\] frame:\s*\d+\s+pts:\s*-?\d+\s+pts_time:(\S+)"
)
_MAFD = re.compile(r"^\[Parsed_metadata_\d+ @ 0x[0-9a-f]+\] lavfi\.scd\.mafd=([\d.]+)")
_SILENCE = re.compile(
    r"^\[Parsed_silencedetect_\d+ @ 0x[0-9a-f]+\] silence_(start|end): (-?[\d.]+)"
)
_LUFS = re.compile(r"^\s+I:\s+(-?[\d.]+) LUFS")

ThumbnailSink = Callable[[UUID, bytes], Awaitable[str]]
"""Store a thumbnail JPEG for a media id and return its object key (e.g. `thumbs/<id>.jpg`)."""


class LocalResult(NamedTuple):
    """What one file gave: the probe, the measures, and a JPEG thumbnail (None if not encodable)."""

    info: MediaInfo
    technical: TechnicalAnalysis
    thumbnail: bytes | None


@dataclass
class _Timeline:
    """What the full-decode pass saw: per-frame differences and audio measures."""

    mafd: list[tuple[float, float]] = field(default_factory=list)
    lufs: float | None = None
    silences: list[tuple[str, float]] = field(default_factory=list)


def _timeline_args(path: Path, info: MediaInfo, limits: LimitSettings) -> list[str]:
    """Build one ffmpeg run: scdet on a small copy of the picture, loudness and silence."""
    ctype, _ = sniff(path)
    vf = (
        "scale=128:-2:flags=fast_bilinear,"
        "scdet=threshold=100,metadata=mode=print:key=lavfi.scd.mafd"
    )
    # deblocking only smooths block edges, invisible at 128 px: skipping it saves ~20 %
    args = ["-skip_loop_filter", "all", *input_args(path, ctype, limits)]
    args += ["-map", "0:v:0", "-filter_threads", "1"]
    args += ["-vf", vf]
    if info.has_audio:
        af = f"silencedetect=n={SILENCE_DB}dB:d=0.5,ebur128=peak=none:framelog=quiet"
        args += ["-map", "0:a:0", "-af", af]
    return [*args, "-sn", "-dn", "-f", "null", "-"]


def _parse_timeline(stderr: str) -> _Timeline:
    """Read the lines the scdet, metadata, silencedetect and ebur128 filters logged."""
    tl, frame_t = _Timeline(), 0.0
    for line in stderr.splitlines():
        if m := _FRAME_T.match(line):
            frame_t = float(m.group(1))
        elif m := _MAFD.match(line):
            tl.mafd.append((frame_t, float(m.group(1))))
        elif m := _SILENCE.match(line):
            tl.silences.append((m.group(1), float(m.group(2))))
        elif m := _LUFS.match(line):
            tl.lufs = float(m.group(1))
    return tl


def _silence_ratio(silences: list[tuple[str, float]], origin: float, duration: float) -> float:
    """Share of the duration inside silence_start/silence_end pairs (open end: till the end)."""
    total, start = 0.0, None
    for kind, t in silences:
        if kind == "start":
            start = t - origin
        elif start is not None:
            total += (t - origin) - max(0.0, start)
            start = None
    if start is not None:
        total += duration - max(0.0, start)
    return min(1.0, max(0.0, total / duration)) if duration > 0 else 0.0


def detect_cuts(mafd: list[tuple[float, float]]) -> list[int]:
    """Find hard cuts: frames whose change stands out from their neighbourhood (adaptive).

    A cut must change at least `CUT_MIN_CHANGE` % and `CUT_RATIO` times the median change of
    the `CUT_WINDOW` frames each side, so steady fast motion is not mistaken for cuts. Gradual
    transitions (fades, dissolves) are not reported.
    """
    values = [v for _, v in mafd]
    cuts: list[int] = []
    for i in range(1, len(values)):
        near = values[max(1, i - CUT_WINDOW) : i] + values[i + 1 : i + 1 + CUT_WINDOW]
        typical = max(0.5, float(np.median(near))) if near else 0.5
        if values[i] < CUT_MIN_CHANGE or values[i] < CUT_RATIO * typical:
            continue
        if cuts and mafd[i][0] - mafd[cuts[-1]][0] < MIN_SHOT_S:
            continue
        cuts.append(i)
    return cuts


def video_measures(path: Path, info: MediaInfo, limits: LimitSettings) -> dict[str, object]:
    """Decode every frame once (small) for cuts and motion, and the audio for loudness."""
    _, stderr = run_limited(_timeline_args(path, info, limits), limits)
    tl = _parse_timeline(stderr)
    origin = tl.mafd[0][0] if tl.mafd else 0.0
    duration = info.duration_s or (tl.mafd[-1][0] - origin if tl.mafd else 0.0)
    cut_frames = detect_cuts(tl.mafd)
    cuts = [round(tl.mafd[i][0] - origin, 3) for i in cut_frames]
    skip = {0, *cut_frames}
    moving = [v for i, (_, v) in enumerate(tl.mafd) if i not in skip]
    shots = len(cuts) + 1
    audio = {
        "audio_present": info.has_audio,
        "loudness_lufs": tl.lufs if info.has_audio else None,
        "silence_ratio": _silence_ratio(tl.silences, origin, duration) if info.has_audio else None,
    }
    return {
        "scene_cuts_s": cuts,
        "shot_count": shots,
        "mean_shot_s": round(duration / shots, 3) if duration else None,
        "motion": round(float(np.mean(moving)) / 100, 5) if moving else 0.0,
        **audio,
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
) -> LocalResult:
    """Probe (if needed), measure one file and make its thumbnail; `MediaError` if unreadable."""
    info = info or probe(path, limits)
    sampled = sample_frames(path, info, frames, limits)
    measures = frame_measures(sampled) | vision_measures(sampled, ocr_frames)
    if info.kind == "video":
        measures |= video_measures(path, info, limits)
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
    `technical.thumbnail_key`; a sink's `StorageError` only leaves the key null.
    """

    name = "local"

    def __init__(
        self,
        limits: LimitSettings,
        executor: Executor | None = None,
        frames: int = 16,
        thumbnails: ThumbnailSink | None = None,
    ) -> None:
        self._limits = limits
        self._executor = executor
        self._frames = frames
        self._thumbnails = thumbnails

    async def analyze(self, request: AnalysisRequest) -> MediaAnalysis:
        """Analyse one file; unreadable media give a `failed` analysis, not an exception."""
        started = time.perf_counter()
        loop = asyncio.get_running_loop()
        info, technical, error = request.media, None, None
        try:
            info, technical, thumbnail = await loop.run_in_executor(
                self._executor,
                analyze_media,
                request.path,
                request.media,
                self._limits,
                self._frames,
            )
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
