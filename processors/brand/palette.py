"""Palette check: how much of the artwork is in brand colours, and which colours dominate.

What counts is the artwork, not the backdrop: pixels of a plain neutral backdrop (flat, grey or
white or black, and running along at least a fifth of the frame's edge, like a studio sweep) are
left out, because a white wall proves nothing either way. Coloured backgrounds are artwork and
count. If a frame is nothing but backdrop, every pixel of it counts.

A pixel is on palette when its CIEDE2000 distance to the nearest brand colour is at most the
profile's `tolerance_de`, looked up in a 32³ table built once per palette (see `colour`).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

from processors.brand.colour import (
    BIN_LAB,
    PaletteLut,
    bin_index,
    build_lut,
    ciede2000,
    rgb_to_hex,
    srgb_to_lab,
)
from schemas.events import DominantColour, PaletteCheck, Violation

Image = npt.NDArray[np.uint8]

PALETTE_WIDTH = 256  # frames are judged at this width (coverage is a share, not a count)
NEUTRAL_CHROMA = 10.0  # C*ab below which a pixel is neutral (white, grey, black)
FLAT_GRADIENT = 24.0  # Sobel magnitude (grey levels) below which a pixel is flat
BACKDROP_EDGE_SHARE = 0.2  # a plain neutral area is the backdrop if it holds this much of the edge
OK_RATIO = 0.70  # on-palette share of the artwork that passes...
FAIL_RATIO = 0.40  # ...and below which the check fails; in between it warns
DOMINANT_COLOURS = 6  # k in k-means over the artwork's pixels
DOMINANT_MIN_SHARE = 0.02  # dominant colours smaller than this are not reported
OFF_PALETTE_MIN_SHARE = 0.05  # an off-palette dominant colour this large is flagged...
MAX_OFF_PALETTE_FLAGS = 3  # ...the largest few as violations (all are listed in `off_palette`)
SAMPLES_PER_FRAME = 1500

BIN_CHROMA = np.hypot(BIN_LAB[:, 1], BIN_LAB[:, 2]).astype(np.float32)


@dataclass(frozen=True)
class FramePalette:
    """One frame's counts and a sample of its artwork pixels (BGR) for dominant colours."""

    t_s: float
    on: int
    counted: int
    sample: Image


@functools.lru_cache(maxsize=64)
def palette_lut(palette_hex: tuple[str, ...]) -> PaletteLut:
    """Build (once per process and palette) the lookup table for these brand colours."""
    return build_lut(palette_hex)


def artwork_mask(bgr: Image) -> npt.NDArray[np.bool_]:
    """True for pixels that count: everything but a flat neutral border-connected backdrop."""
    grey = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY).astype(np.float32)
    grad = cv2.magnitude(cv2.Sobel(grey, cv2.CV_32F, 1, 0), cv2.Sobel(grey, cv2.CV_32F, 0, 1))
    plain = (grad < FLAT_GRADIENT) & (BIN_CHROMA[bin_index(bgr)] < NEUTRAL_CHROMA)
    _, labels = cv2.connectedComponents(plain.astype(np.uint8), connectivity=4)
    edge = np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]])
    counts = np.bincount(edge)
    surrounding = np.nonzero(counts >= BACKDROP_EDGE_SHARE * len(edge))[0]
    backdrop = np.isin(labels, surrounding[surrounding > 0])
    if backdrop.all():
        return np.ones(backdrop.shape, bool)
    return ~backdrop


def measure_frame(bgr: Image, t_s: float, lut: PaletteLut, tolerance: float) -> FramePalette:
    """Count the frame's artwork pixels and those within `tolerance` of the palette."""
    h, w = bgr.shape[:2]
    small = bgr
    if w > PALETTE_WIDTH:
        size = (PALETTE_WIDTH, max(1, round(h * PALETTE_WIDTH / w)))
        small = np.asarray(cv2.resize(bgr, size, interpolation=cv2.INTER_AREA), np.uint8)
    mask = artwork_mask(small)
    on = (lut.min_de[bin_index(small)] <= tolerance) & mask
    pixels = small[mask]
    step = max(1, len(pixels) // SAMPLES_PER_FRAME)
    return FramePalette(t_s, int(on.sum()), int(mask.sum()), pixels[::step][:SAMPLES_PER_FRAME])


def summarise(
    frames: list[FramePalette], lut: PaletteLut, tolerance: float
) -> tuple[PaletteCheck, list[Violation], float]:
    """Aggregate frames into the check, its violations and its score (0–1)."""
    counted = sum(f.counted for f in frames)
    ratio = sum(f.on for f in frames) / counted if counted else 0.0
    dominant = dominant_colours(np.concatenate([f.sample for f in frames]), lut)
    off = [
        d for d in dominant if (d.delta_e or 0.0) > tolerance and d.share >= OFF_PALETTE_MIN_SHARE
    ]
    check = PaletteCheck(
        status="ok",
        on_palette_ratio=round(ratio, 4),
        dominant=dominant,
        off_palette=[d.hex for d in off],
    )
    flagged = [_off_violation(d, tolerance) for d in off[:MAX_OFF_PALETTE_FLAGS]]
    violations = _coverage_violation(frames, ratio) + flagged
    return check, violations, min(1.0, ratio / OK_RATIO)


def _coverage_violation(frames: list[FramePalette], ratio: float) -> list[Violation]:
    if ratio >= OK_RATIO:
        return []
    worst = min(frames, key=lambda f: f.on / f.counted if f.counted else 1.0)
    severity = "fail" if ratio < FAIL_RATIO else "warn"
    return [
        Violation(
            code="palette.low_coverage",
            severity=severity,
            frame_s=worst.t_s,
            message=f"only {ratio:.0%} of the artwork is in brand colours (needs {OK_RATIO:.0%})",
            measured=round(ratio, 4),
            required=OK_RATIO,
        )
    ]


def _off_violation(colour: DominantColour, tolerance: float) -> Violation:
    return Violation(
        code="palette.off_palette_colour",
        severity="warn",
        message=(
            f"dominant colour {colour.hex} ({colour.share:.0%} of the artwork) is "
            f"ΔE {colour.delta_e:.1f} from the nearest brand colour "
            f"{colour.nearest_brand_hex}"
        ),
        measured=colour.delta_e,
        required=tolerance,
    )


def dominant_colours(pixels: Image, lut: PaletteLut) -> list[DominantColour]:
    """Cluster artwork pixels (BGR) in CIELAB; report the clusters and their nearest brand hex."""
    if len(pixels) == 0:
        return []
    rgb = pixels[:, ::-1].astype(np.float64)
    lab = srgb_to_lab(rgb)
    labels = _kmeans(lab, min(DOMINANT_COLOURS, len(lab)))
    out: list[DominantColour] = []
    for k in np.unique(labels):
        members = labels == k
        share = float(members.mean())
        if share < DOMINANT_MIN_SHARE:
            continue
        centre = rgb[members].mean(axis=0)
        de = ciede2000(srgb_to_lab(centre)[None, :], lut.palette_lab)
        nearest = int(de.argmin())
        out.append(
            DominantColour(
                hex=rgb_to_hex(centre),
                share=round(share, 4),
                nearest_brand_hex=lut.palette_hex[nearest],
                delta_e=round(float(de[nearest]), 2),
            )
        )
    return sorted(out, key=lambda d: -d.share)


def _kmeans(points: npt.NDArray[np.float64], k: int, iterations: int = 12) -> npt.NDArray[np.intp]:
    """Plain k-means with a deterministic k-means++ start (same pixels, same answer)."""
    rng = np.random.default_rng(0)
    centres = [points[rng.integers(len(points))]]
    for _ in range(1, k):
        d2 = np.min([((points - c) ** 2).sum(axis=1) for c in centres], axis=0)
        if d2.sum() == 0:
            break
        centres.append(points[rng.choice(len(points), p=d2 / d2.sum())])
    c = np.array(centres)
    labels = np.zeros(len(points), np.intp)
    for _ in range(iterations):
        labels = ((points[:, None, :] - c[None, :, :]) ** 2).sum(axis=2).argmin(axis=1)
        c = np.array(
            [
                points[labels == j].mean(axis=0) if (labels == j).any() else c[j]
                for j in range(len(c))
            ]
        )
    return labels
