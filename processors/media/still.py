"""Still images read in the worker's pool child itself: the header for the probe, OpenCV's
(libjpeg-turbo / libpng) decoder at a reduced scale for the frame.

Why not an ffmpeg child as for video: for a 1080 px JPEG, two child processes (probe, decode)
cost ~15x the decode itself. The pixel limit is checked from the header before any decoder sees
the bytes, so memory and time are bounded by the same limits; a decoder crash costs a pool
child, which the pool replaces. Only pool children call this; the API decodes through limited
ffmpeg children (`processors.media.frames`). Orientation tags are ignored, as ffmpeg does, so
the frame has the size the probe reports.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

import cv2
import numpy as np

from processors.errors import MediaError
from processors.media.frames import Frame, frame_size
from processors.media.limits import LimitSettings, check_pixels, check_size
from processors.media.sniff import DEMUXERS, image_size, sniff
from schemas.events import MediaInfo

CODECS: Final = {"image/jpeg": "mjpeg", "image/png": "png"}  # the names ffmpeg's probe gives
# decode at 1/2, 1/4 or 1/8 of the size (JPEG's scaled IDCT): never below the frame width
_REDUCED: Final = (
    (8, cv2.IMREAD_REDUCED_COLOR_8),
    (4, cv2.IMREAD_REDUCED_COLOR_4),
    (2, cv2.IMREAD_REDUCED_COLOR_2),
)


def read_still(path: Path, limits: LimitSettings, width: int) -> tuple[MediaInfo, Frame] | None:
    """Probe and decode a JPEG or PNG to a frame `width` px wide; None for other types or a
    header this cannot read (the caller then uses ffmpeg); `MediaError` if it is unreadable."""
    ctype, kind = sniff(path)
    if kind != "image" or ctype not in CODECS:
        return None
    size = check_size(path, limits)
    dims = image_size(path, ctype)
    if dims is None:
        return None
    check_pixels(*dims, limits)
    info = MediaInfo(
        kind="image",
        container=DEMUXERS[ctype][1],
        codec=CODECS[ctype],
        width=dims[0],
        height=dims[1],
        size_bytes=size,
    )
    flags = cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION
    for factor, reduced in _REDUCED:
        if ctype == "image/jpeg" and dims[0] // factor >= width:
            flags = reduced | cv2.IMREAD_IGNORE_ORIENTATION
            break
    try:
        image = cv2.imdecode(np.fromfile(path, np.uint8), flags)
    except cv2.error as e:  # OpenCV's pixel cap (processors/__init__), past our header check
        msg = f"the media could not be decoded: OpenCV refused it ({type(e).__name__})"
        raise MediaError(msg) from e
    if image is None or image.ndim != 3:
        msg = "the media could not be decoded (no frame came out)"
        raise MediaError(msg)
    w, h = frame_size(info, width)
    scaled = cv2.resize(image, (w, h), interpolation=cv2.INTER_AREA)
    return info, Frame(0.0, np.ascontiguousarray(scaled, np.uint8))
