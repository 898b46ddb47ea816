"""Perceptual signatures of frames: pHash (DCT of a 32×32 grey image, 8×8 low frequencies
against their median), 64 bits compared by Hamming distance, and a 4×4 CIELAB colour grid
(pHash is blind to colour: two gradients in other colours hash alike).

Computed with OpenCV, which every pool child has loaded already, rather than `imagehash` (which
would add SciPy and PyWavelets for one DCT). The bits follow imagehash's `phash` recipe; the
values are not meant to equal its (OpenCV's DCT is orthonormal, SciPy's is not, which moves the
first row and column against the median).
"""

from __future__ import annotations

import cv2
import numpy as np
import numpy.typing as npt

_WEIGHTS = (1 << np.arange(63, -1, -1, dtype=np.uint64)).astype(np.uint64)


def phash(image: npt.NDArray[np.uint8]) -> int:
    """The 64-bit pHash of a BGR (or grey) frame, as an unsigned int."""
    grey = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    small = cv2.resize(grey, (32, 32), interpolation=cv2.INTER_AREA).astype(np.float32)
    low = cv2.dct(small)[:8, :8]
    bits = (low > np.median(low)).flatten().astype(np.uint64)
    return int((bits * _WEIGHTS).sum())


def distance(a: int, b: int) -> int:
    """Hamming distance between two 64-bit hashes."""
    return (a ^ b).bit_count()


def colour_signature(image: npt.NDArray[np.uint8]) -> bytes:
    """Mean CIELAB of a 4×4 grid of the frame, 48 bytes (OpenCV's 8-bit Lab)."""
    small = cv2.resize(image, (4, 4), interpolation=cv2.INTER_AREA)
    return bytes(cv2.cvtColor(small, cv2.COLOR_BGR2LAB).tobytes())


def colour_delta(a: bytes, b: bytes) -> float:
    """Mean distance in CIELAB units between two grids (8-bit L is scaled back to 0–100)."""
    x = np.frombuffer(a, np.uint8).reshape(-1, 3).astype(np.float32)
    y = np.frombuffer(b, np.uint8).reshape(-1, 3).astype(np.float32)
    scale = np.array([100 / 255, 1.0, 1.0], np.float32)
    return float(np.linalg.norm((x - y) * scale, axis=1).mean())
