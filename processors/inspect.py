"""One read of a media for both stages: probe and sample once, then the brand check and the
local analysis on the same frames, in one pool task (`processors.pipeline.Inspections`).

The sampling decode also measures what the analysis needs from the keyframes and the audio
(`processors.analyzers.scenes.taps_for`), so a video is decoded once, keyframes first; a
JPEG or PNG is read in this process (`processors.media.still`), with no child at all. What the
scene measures still decode (the GOPs that hide a cut) runs in its ffmpeg child while this
process checks the frames and reads their text: on an idle machine the two take two cores, and
a 30 s clip's result comes about as much sooner as the OCR takes.
"""

from __future__ import annotations

import functools
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as futures_wait
from dataclasses import dataclass
from pathlib import Path

import cv2

from processors.analyzers.local import LocalResult, analyze_media, video_measures
from processors.analyzers.scenes import taps_for
from processors.brand import check_media
from processors.brand.check import ANALYSIS_WIDTH, FrameLike
from processors.errors import MediaError
from processors.media.frames import Sampled, Taps, sample
from processors.media.limits import LimitSettings
from processors.media.probe import Packet, probe_media
from processors.media.still import read_still
from processors.provenance import ProvenanceSettings
from schemas.events import BrandCheck, MediaGenerated, MediaInfo, MediaUploaded
from schemas.profiles import BrandProfile


@dataclass(frozen=True)
class Inspection:
    check: BrandCheck
    analysis: LocalResult | None = None  # None: not asked for, or `error`
    error: str | None = None  # why the media could not be analysed


def inspect(
    path: Path,
    event: MediaUploaded | MediaGenerated,
    profile: BrandProfile | None,
    logos: list[bytes],
    limits: LimitSettings,
    frames: int,
    producer: str,
    *,
    analyze: bool,
    thorough: bool = False,
    provenance: ProvenanceSettings | None = None,
    fingerprints: bool = False,
) -> Inspection:
    """Check (and, with `analyze`, analyse) one asset; never raises for media it cannot read."""
    cv2.setNumThreads(1)  # one process per core does better than threads inside OpenCV
    info: MediaInfo | None = None
    packets: list[Packet] = []
    first: Sampled | MediaError
    try:
        still = read_still(path, limits, ANALYSIS_WIDTH)
        if still is not None:
            info, frame = still
            first = Sampled([frame], "", keyframes_only=False)
        else:
            info, packets = probe_media(path, limits)
            taps = taps_for(info, thorough=thorough) if analyze else Taps()
            first = sample(path, info, frames, limits, width=ANALYSIS_WIDTH, taps=taps)
    except MediaError as e:
        first = e
    images: list[FrameLike] | MediaError = (
        first if isinstance(first, MediaError) else [*first.frames]
    )
    scenes: Future[dict[str, object]] | None = None
    if analyze and info is not None and info.kind == "video" and isinstance(first, Sampled):
        scenes = _scene_decoder().submit(
            video_measures, path, info, limits, thorough=thorough, first_pass=first, packets=packets
        )
    check = check_media(
        path,
        event,
        profile,
        logos,
        limits,
        frames,
        producer,
        sampled=(info, images),
        provenance=provenance,
        fingerprints=fingerprints,
    )
    if not analyze:
        return Inspection(check)
    if isinstance(first, MediaError) or info is None:
        return Inspection(check, error=str(first))
    try:
        result = analyze_media(
            path, info, limits, frames, thorough=thorough, first_pass=first, scenes=scenes
        )
    except MediaError as e:
        return Inspection(check, error=str(e))
    finally:
        if scenes is not None:
            futures_wait([scenes])  # the next media never shares this process with its decode
    return Inspection(check, result)


@functools.cache
def _scene_decoder() -> ThreadPoolExecutor:
    """One thread per pool process: it waits on the scene decode's ffmpeg child (and reads its
    log) while the process works on the frames."""
    return ThreadPoolExecutor(1, thread_name_prefix="scene-decode")
