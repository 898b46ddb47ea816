"""Evidence image: the most telling frame of a brand check, annotated for a person to judge.

Drawn on the frame: the target platforms' UI overlays (unsafe margins darkened, the safe area
outlined in yellow, so it shows on any artwork), the
logo box (green), the boxes of other violations (orange), and two rows of palette swatches at
the bottom left: the brand's colours, then the measured dominant colours (an off-palette one is
crossed out). Pure: a frame and a check in, PNG bytes out.
"""

from __future__ import annotations

import cv2
import numpy as np
import numpy.typing as npt

from processors.brand.platforms import PLATFORM_SPECS
from schemas.events import BrandCheck
from schemas.profiles import BrandProfile

Image = npt.NDArray[np.uint8]
LOGO_BGR = (0, 200, 0)
VIOLATION_BGR = (0, 140, 255)
UNSAFE_ALPHA = 0.45  # how much the unsafe margins are darkened
SAFE_BGR = (0, 220, 255)
SWATCH = 24  # px, at the output width
OUTPUT_WIDTH = 640


def telling_time(check: BrandCheck) -> float | None:
    """When to look: the first violation with a time, else the logo's first sighting."""
    timed = [v.frame_s for v in check.violations if v.frame_s is not None]
    if timed:
        return timed[0]
    return check.logo.first_seen_s if check.logo is not None else None


def _px(box: list[float], w: int, h: int) -> tuple[tuple[int, int], tuple[int, int]]:
    x, y, bw, bh = box
    return (round(x * w), round(y * h)), (round((x + bw) * w) - 1, round((y + bh) * h) - 1)


def _unsafe(img: Image, check: BrandCheck) -> None:
    h, w = img.shape[:2]
    mask = np.zeros((h, w), bool)
    for s in (spec.safe for name, spec in PLATFORM_SPECS.items() if name in check.platforms):
        mask[: round(s.top * h)] = True
        mask[h - round(s.bottom * h) :] = True
        mask[:, : round(s.left * w)] = True
        mask[:, w - round(s.right * w) :] = True
    if not mask.any():
        return
    img[mask] = (img[mask] * (1 - UNSAFE_ALPHA)).astype(np.uint8)
    rows, cols = np.where(~mask)
    p0, p1 = (int(cols.min()), int(rows.min())), (int(cols.max()), int(rows.max()))
    cv2.rectangle(img, p0, p1, SAFE_BGR, 2)
    label = "safe area: " + ", ".join(n for n in check.platforms if n in PLATFORM_SPECS)
    _label(img, label, (p0[0] + 4, p1[1] - 8), SAFE_BGR)


def _label(img: Image, text: str, org: tuple[int, int], colour: tuple[int, int, int]) -> None:
    """Text with a dark outline, readable on light and dark artwork alike."""
    cv2.putText(img, text, org, cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 3, cv2.LINE_AA)
    cv2.putText(img, text, org, cv2.FONT_HERSHEY_SIMPLEX, 0.5, colour, 1, cv2.LINE_AA)


def _hex_bgr(hex_colour: str) -> tuple[int, int, int]:
    v = hex_colour.lstrip("#")
    return int(v[4:6], 16), int(v[2:4], 16), int(v[0:2], 16)


def _swatches(img: Image, row: int, label: str, colours: list[str], crossed: set[str]) -> None:
    h = img.shape[0]
    y0 = h - (row + 1) * (SWATCH + 4) - 4
    shown = colours[:12]
    org = (8 + len(shown) * (SWATCH + 4), y0 + SWATCH - 7)
    _label(img, label, org, (255, 255, 255))
    for i, hex_colour in enumerate(shown):
        x0 = 4 + i * (SWATCH + 4)
        p0, p1 = (x0, y0), (x0 + SWATCH, y0 + SWATCH)
        cv2.rectangle(img, p0, p1, _hex_bgr(hex_colour), -1)
        cv2.rectangle(img, p0, p1, (0, 0, 0), 1)
        if hex_colour.upper() in crossed:
            cv2.line(img, p0, p1, (0, 0, 0), 2)


def render_evidence(frame_bgr: Image, check: BrandCheck, profile: BrandProfile | None) -> bytes:
    """Draw the check's evidence on the frame (brought to 640 px wide) and encode it as PNG."""
    h, w = frame_bgr.shape[:2]
    size = (OUTPUT_WIDTH, max(2, round(h * OUTPUT_WIDTH / w)))
    img = np.asarray(cv2.resize(frame_bgr, size, interpolation=cv2.INTER_AREA), np.uint8)
    ih, iw = img.shape[:2]
    _unsafe(img, check)
    for v in check.violations:
        if v.bbox is not None and not v.code.startswith("logo."):
            cv2.rectangle(img, *_px(v.bbox, iw, ih), VIOLATION_BGR, 2)
    if check.logo is not None and check.logo.bbox is not None:
        p0, p1 = _px(check.logo.bbox, iw, ih)
        cv2.rectangle(img, p0, p1, LOGO_BGR, 3)
        _label(img, "logo", (p0[0], max(12, p0[1] - 6)), LOGO_BGR)
    brand = [c.hex for c in profile.palette] if profile is not None else []
    pal = check.palette
    measured = [d.hex for d in pal.dominant] if pal is not None else []
    off = {c.upper() for c in pal.off_palette} if pal is not None else set()
    _swatches(img, 1, "brand palette", brand, set())
    _swatches(img, 0, "measured (crossed: off-palette)", measured, off)
    ok, png = cv2.imencode(".png", img)
    if not ok:
        msg = "PNG encoding of the evidence image failed"
        raise RuntimeError(msg)
    return bytes(png.tobytes())
