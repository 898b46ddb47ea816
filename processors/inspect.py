"""One read of a media for both stages: probe and sample once, then the brand check and the
local analysis on the same frames, in one pool task (`processors.pipeline.Inspections`).

The sampling decode also measures what the analysis needs from the keyframes and the audio
(`processors.analyzers.scenes.taps_for`), so a video is decoded once, keyframes first; a
JPEG or PNG is read in this process (`processors.media.still`), with no child at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2

from processors.analyzers.local import LocalResult, analyze_media
from processors.analyzers.scenes import taps_for
from processors.brand import check_media
from processors.brand.check import ANALYSIS_WIDTH, FrameLike
from processors.errors import MediaError
from processors.media.frames import Sampled, Taps, sample
from processors.media.limits import LimitSettings
from processors.media.probe import Packet, probe_media
from processors.media.still import read_still
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
    check = check_media(
        path, event, profile, logos, limits, frames, producer, sampled=(info, images)
    )
    if not analyze:
        return Inspection(check)
    if isinstance(first, MediaError) or info is None:
        return Inspection(check, error=str(first))
    try:
        result = analyze_media(
            path, info, limits, frames, thorough=thorough, first_pass=first, packets=packets
        )
    except MediaError as e:
        return Inspection(check, error=str(e))
    return Inspection(check, result)
