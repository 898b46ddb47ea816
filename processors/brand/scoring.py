"""How good a logo match is: NCC of the whole mark, of its weakest quarter, and its colours.

A blob that has the logo's overall light/dark layout (a dark disc in a light ring) can score a
high NCC over the whole mark; it rarely also matches each quarter of it. And a pattern with the
logo's layout in other colours is not the logo: the median CIELAB distance between the frame and
the logo under the mark tells them apart.
"""

from __future__ import annotations

import math

import cv2
import numpy as np
import numpy.typing as npt

from processors.brand.colour import BIN_LAB, bin_index
from processors.brand.templates import INK_SATURATION, Rendered

Image = npt.NDArray[np.uint8]

PART_MIN_SHARE = 0.1  # a quarter of the mark is judged if it holds this share of its pixels
PART_MIN_STD = 10.0  # ...and is not flat


def score(image: Image, tmpl: Rendered, x: int, y: int, silhouette: bool) -> tuple[float, float]:
    """At the chosen pose: the lower NCC of the whole mark and its weakest quarter, and how far
    (median CIELAB distance) the colours under the mark are from the logo's own."""
    t = tmpl.grey if silhouette else tmpl.bgr
    th, tw = t.shape[:2]
    patch = window(image, x, y, tw, th)
    keep = np.ones((th, tw), bool) if tmpl.mask is None else tmpl.mask > 0
    confidence = min(_ncc(patch, t, keep), _weakest_quarter(patch, t, keep, tmpl.box))
    if silhouette:  # the patch is an ink map: 0 is the mark's colour, 255 is INK_SATURATION away
        ink = _inner(keep & (t < 128))
        return confidence, float(np.median(patch[ink])) * INK_SATURATION / 255
    return confidence, _colour_error(patch, t, keep)


def _inner(keep: npt.NDArray[np.bool_]) -> npt.NDArray[np.bool_]:
    """The region without its one-pixel rim (colours bleed there), unless that leaves nothing."""
    if min(keep.shape) < 12:
        return keep
    eroded = cv2.erode(keep.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    return eroded if eroded.any() else keep


def _colour_error(patch: Image, tmpl: Image, keep: npt.NDArray[np.bool_]) -> float:
    """Median Lab distance between the patch and the logo over the mark's inner pixels."""
    inner = _inner(keep)
    a, b = BIN_LAB[bin_index(patch[inner])], BIN_LAB[bin_index(tmpl[inner])]
    return float(np.median(np.linalg.norm(a - b, axis=1)))


def _ncc(patch: Image, tmpl: Image, keep: npt.NDArray[np.bool_]) -> float:
    """Zero-mean normalised correlation over the kept pixels (all channels together)."""
    n = int(keep.sum())
    a = patch[keep].astype(np.float32).reshape(n, -1)
    b = tmpl[keep].astype(np.float32).reshape(n, -1)
    a -= a.mean(axis=0)
    b -= b.mean(axis=0)
    den = math.sqrt(float((a * a).sum()) * float((b * b).sum()))
    return float((a * b).sum()) / den if den > 0 else 0.0


def _weakest_quarter(
    patch: Image, tmpl: Image, keep: npt.NDArray[np.bool_], box: tuple[int, int, int, int]
) -> float:
    """The lowest NCC over the mark's quarters that hold structure (1.0 if none does)."""
    bx, by, bw, bh = box
    cx, cy = bx + bw // 2, by + bh // 2
    worst, total = 1.0, int(keep.sum())
    for rows in (slice(0, cy), slice(cy, None)):
        for cols in (slice(0, cx), slice(cx, None)):
            part = np.zeros_like(keep)
            part[rows, cols] = keep[rows, cols]
            if part.sum() < PART_MIN_SHARE * total:
                continue
            if float(tmpl[part].astype(np.float32).std(axis=0).max()) < PART_MIN_STD:
                continue
            worst = min(worst, _ncc(patch, tmpl, part))
    return worst


def window(image: Image, x: int, y: int, w: int, h: int) -> Image:
    """The image region at (x, y, w, h); parts outside the frame repeat its edge."""
    ih, iw = image.shape[:2]
    x0, y0, x1, y1 = max(0, x), max(0, y), min(iw, x + w), min(ih, y + h)
    if x1 <= x0 or y1 <= y0:
        return np.zeros((h, w, *image.shape[2:]), np.uint8)
    inner = image[y0:y1, x0:x1]
    if (x0, y0, x1, y1) == (x, y, x + w, y + h):
        return inner
    pads = (y0 - y, y + h - y1, x0 - x, x + w - x1)
    return np.asarray(cv2.copyMakeBorder(inner, *pads, cv2.BORDER_REPLICATE), np.uint8)
