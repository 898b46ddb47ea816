"""Quality check: sharpness, exposure, contrast, clipping and black frames of the sampled frames.

All measures are taken on luma at the analysis width (512 px), so they compare across assets.
Sharpness is the variance of the Laplacian over edge pixels only: flat graphics (a logo on a
plain background) are not "blurry" just because most of the frame has no detail. A frame is
black when at least 98 % of its pixels are darker than 10 % grey (ffmpeg blackdetect's defaults).
Clipping is reported but never flagged: graphics use pure white and black on purpose.
A video is frozen where consecutive sampled frames are identical but for compression noise.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from operator import attrgetter

import cv2
import numpy as np
import numpy.typing as npt

from schemas.events import QualityCheck, Violation

Image = npt.NDArray[np.uint8]

EDGE_GRADIENT = 40.0  # Sobel magnitude that makes a pixel an edge
MIN_EDGE_SHARE = 0.002  # frames with fewer edge pixels have no detail to judge sharpness by
BLURRY_BELOW = 100.0  # Laplacian variance over edges (sharp 512 px frames: 600+)
TOO_DARK_BELOW = 0.15  # mean luma (0–1) of the non-black frames
TOO_BRIGHT_ABOVE = 0.92
LOW_CONTRAST_BELOW = 0.04  # luma standard deviation (0–1)
BLACK_LUMA = 25  # 10 % of 255
BLACK_PIXEL_SHARE = 0.98
BLACK_FRAMES_MAX = 0.25  # share of sampled frames that may be black
CLIP_HIGH, CLIP_LOW = 250, 5
FROZEN_DIFF = 1.5  # mean absolute luma difference (0–255) of two 64 px thumbnails
FROZEN_MAX = 0.5  # share of consecutive sample pairs that may be frozen
PENALTY = 0.25  # score lost per quality violation


@dataclass(frozen=True)
class FrameQuality:
    """One frame's measures (sharpness None when it has too few edges to judge)."""

    t_s: float
    sharpness: float | None
    brightness: float
    contrast: float
    highlights: float
    shadows: float
    black: bool
    thumb: Image  # 64 px wide luma, to compare consecutive frames


def measure_frame(bgr: Image, t_s: float) -> FrameQuality:
    """Measure one frame."""
    grey = np.asarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY), np.uint8)
    g = grey.astype(np.float32)
    grad = cv2.magnitude(cv2.Sobel(g, cv2.CV_32F, 1, 0), cv2.Sobel(g, cv2.CV_32F, 0, 1))
    edges = grad >= EDGE_GRADIENT
    sharpness = None
    if edges.mean() >= MIN_EDGE_SHARE:
        sharpness = float(cv2.Laplacian(g, cv2.CV_32F)[edges].var())
    return FrameQuality(
        t_s=t_s,
        sharpness=sharpness,
        brightness=float(g.mean() / 255),
        contrast=float(g.std() / 255),
        highlights=float((grey >= CLIP_HIGH).mean()),
        shadows=float((grey <= CLIP_LOW).mean()),
        black=bool((grey < BLACK_LUMA).mean() >= BLACK_PIXEL_SHARE),
        thumb=np.asarray(
            cv2.resize(grey, (64, max(1, round(64 * grey.shape[0] / grey.shape[1])))), np.uint8
        ),
    )


def frozen_ratio(frames: list[FrameQuality]) -> float | None:
    """Share of consecutive (non-black) frame pairs that do not change; None for one frame."""
    pairs = [(a, b) for a, b in zip(frames, frames[1:], strict=False) if not (a.black and b.black)]
    if not pairs:
        return None
    still = sum(
        float(np.abs(a.thumb.astype(np.int16) - b.thumb.astype(np.int16)).mean()) < FROZEN_DIFF
        for a, b in pairs
    )
    return still / len(pairs)


def summarise(frames: list[FrameQuality]) -> tuple[QualityCheck, list[Violation], float]:
    """Aggregate frames into the check, its violations and its score (0–1)."""
    lit = [f for f in frames if not f.black] or frames
    sharp = [f.sharpness for f in lit if f.sharpness is not None]
    check = QualityCheck(
        status="ok",
        sharpness=round(statistics.median(sharp), 1) if sharp else None,
        brightness=round(statistics.fmean(f.brightness for f in lit), 4),
        contrast=round(statistics.fmean(f.contrast for f in lit), 4),
        clipped_highlights=round(statistics.fmean(f.highlights for f in frames), 4),
        clipped_shadows=round(statistics.fmean(f.shadows for f in frames), 4),
        black_frame_ratio=round(sum(f.black for f in frames) / len(frames), 4),
        frozen_frame_ratio=None if (frozen := frozen_ratio(frames)) is None else round(frozen, 4),
    )
    violations = _violations(check, frames, lit)
    return check, violations, max(0.0, 1.0 - PENALTY * len(violations))


# the asset's mean past a limit, warned at the frame furthest past it: (measure, named alike in
# FrameQuality and QualityCheck; the limit; whether above it is bad; rule; message)
_EXPOSURE = (
    ("brightness", TOO_DARK_BELOW, False, "too_dark", "the picture is too dark"),
    ("brightness", TOO_BRIGHT_ABOVE, True, "too_bright", "the picture is washed out"),
    ("contrast", LOW_CONTRAST_BELOW, False, "low_contrast", "the picture has almost no contrast"),
)


def _violations(
    check: QualityCheck, frames: list[FrameQuality], lit: list[FrameQuality]
) -> list[Violation]:
    out: list[Violation] = []
    if check.sharpness is not None and check.sharpness < BLURRY_BELOW:
        worst = min((f for f in lit if f.sharpness is not None), key=lambda f: f.sharpness or 0)
        message = "the picture is soft: edges lack detail"
        out.append(_warn("blurry", message, worst.t_s, check.sharpness, BLURRY_BELOW))
    # an all-black asset is reported as black frames, not also as too dark or flat
    shown = [] if all(f.black for f in frames) else lit
    for measure, limit, above, rule, message in _EXPOSURE:
        get = attrgetter(measure)
        value = get(check) or 0
        if shown and (value > limit if above else value < limit):
            worst = (max if above else min)(shown, key=get)
            out.append(_warn(rule, message, worst.t_s, get(check), limit))
    frozen = check.frozen_frame_ratio or 0.0
    if frozen > FROZEN_MAX and len(frames) >= 3:
        message = f"the picture does not change across {frozen:.0%} of the sampled frames"
        out.append(_warn("frozen", message, frames[0].t_s, frozen, FROZEN_MAX))
    ratio = check.black_frame_ratio or 0.0
    if ratio > BLACK_FRAMES_MAX or (ratio and len(frames) == 1):
        first = next(f for f in frames if f.black)
        message = f"{ratio:.0%} of the sampled frames are black"
        out.append(_warn("black_frames", message, first.t_s, ratio, BLACK_FRAMES_MAX))
    return out


def _warn(
    rule: str, message: str, t_s: float, measured: float | None, required: float
) -> Violation:
    return Violation(
        code=f"quality.{rule}",
        severity="warn",
        message=message,
        frame_s=t_s,
        measured=measured,
        required=required,
    )
