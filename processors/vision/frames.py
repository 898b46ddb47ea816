"""Choosing among sampled frames: a few for costly models, one for the thumbnail, and its JPEG."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

import cv2
import numpy as np
import numpy.typing as npt

T = TypeVar("T")
Image = npt.NDArray[np.uint8]
THUMB_WIDTH = 320
JPEG_QUALITY = 82


def spread(items: Sequence[T], count: int) -> list[T]:
    """Pick up to `count` items evenly spread over the sequence (the centres of equal slices)."""
    n = len(items)
    if n <= count:
        return list(items)
    return [items[int((i + 0.5) * n / count)] for i in range(count)]


def sharpness(image: Image) -> float:
    """Variance of the Laplacian of the grey image: higher is sharper."""
    grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image
    return float(cv2.Laplacian(grey, cv2.CV_64F).var())


def pick_thumbnail(images: Sequence[Image]) -> int:
    """Index of the sharpest image of the middle half (the ends are often fades or titles)."""
    if not images:
        msg = "no image to choose a thumbnail from"
        raise ValueError(msg)
    n = len(images)
    lo, hi = (n // 4, n - n // 4) if n >= 3 else (0, n)
    return max(range(lo, hi), key=lambda i: sharpness(images[i]))


def thumbnail_jpeg(image: Image, width: int = THUMB_WIDTH) -> bytes | None:
    """Encode a JPEG `width` px wide (even height, aspect kept, never upscaled); None on failure."""
    h, w = image.shape[:2]
    if w > width:
        size = (width, max(2, round(h * width / w / 2) * 2))
        image = np.asarray(cv2.resize(image, size, interpolation=cv2.INTER_AREA), np.uint8)
    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    return data.tobytes() if ok else None
