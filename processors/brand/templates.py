"""Logo templates: decode the brand's logo files and render them at any size and small rotation.

A logo with real internal contrast (a badge with a letter in it) is matched on its opaque pixels
only (the alpha is the mask), so whatever lies behind it — light, dark, busy — does not matter.
A one-colour logo (a silhouette, a plain wordmark) has nothing inside to correlate, and in grey it
may vanish (dark blue on dark grey), so it is matched on an "ink map" instead: each pixel's CIELAB
distance to the mark's colour, saturating at `INK_SATURATION`. The mark is ink (0), everything
else is not, whether it is light, dark or busy; the template is the outline plus a thin ring.
"""

from __future__ import annotations

import functools
import io
import os
from dataclasses import dataclass, field

import cv2
import numpy as np
import numpy.typing as npt

from processors.brand.colour import BIN_LAB, bin_index, srgb_to_lab
from processors.media.sniff import header_size, sniff_bytes

Image = npt.NDArray[np.uint8]

MAX_LOGO_SIDE = 4096  # a logo file may declare at most this many pixels a side
REFERENCE_PX = 256  # logos are kept at most this large (longer side) before any resizing
OPAQUE = 128  # alpha at or above this is part of the mark
INTERIOR_MIN_STD = 14.0  # grey std inside the mark below which the logo counts as one colour
BACKDROP_TOLERANCE = 12  # border-connected pixels this close to the corner colour are backdrop
RENDER_CACHE = 4096  # renderings kept per logo (sizes × angles seen while checking an asset)
RING_SHARE = 0.08  # a one-colour mark is matched with a ring of ground this wide (share of size)
INK_SATURATION = 70.0  # Lab distance at which a pixel is simply "not ink"


class LogoDecodeError(ValueError):
    """The logo bytes are not an image we can read."""


@dataclass(frozen=True)
class Rendered:
    """One logo rendered for matching: grey template, mask (None: unmasked), opaque-pixel box."""

    grey: Image
    bgr: Image
    mask: Image | None
    box: tuple[int, int, int, int]  # x, y, w, h of the opaque pixels inside the template


@dataclass(frozen=True, eq=False)
class LogoTemplate:
    """A brand logo at reference size: BGR, binary alpha and how it is matched."""

    bgr: Image
    alpha: Image
    silhouette: bool
    ink_lut: npt.NDArray[np.uint8] = field(repr=False)  # per RGB bin: distance to the ink
    ink_chroma: float = 0.0  # C*ab of the mark's mean colour (white, grey, black: near 0)
    _renders: dict[tuple[float, float], Rendered] = field(default_factory=dict, repr=False)

    def ink_map(self, bgr: Image) -> Image:
        """Map a frame to 0 (the mark's colour) .. 255 (INK_SATURATION or further away)."""
        return np.asarray(self.ink_lut[bin_index(bgr)], np.uint8)

    @property
    def aspect(self) -> float:
        """Width over height of the opaque mark."""
        return float(self.bgr.shape[1] / self.bgr.shape[0])

    def render(self, width: float, angle: float = 0.0) -> Rendered:
        """Render the mark `width` px wide (before rotation), rotated by `angle` degrees."""
        key = (round(width * 4) / 4, float(angle))  # quarter-pixel widths share a rendering
        if key not in self._renders:
            if len(self._renders) >= RENDER_CACHE:
                self._renders.clear()
            self._renders[key] = _render(self, *key)
        return self._renders[key]


def decode_logo(data: bytes) -> LogoTemplate:
    """Decode PNG/JPEG/WebP logo bytes (alpha kept) into a template.

    The size the header declares is checked first, so a small file declaring a huge picture
    (a decompression bomb) is refused before a pixel is allocated."""
    found = sniff_bytes(data)
    if found is None or found[1] != "image":
        msg = f"logo is not a readable image ({len(data)} bytes): not a PNG, JPEG or WebP file"
        raise LogoDecodeError(msg)
    size = header_size(io.BytesIO(data), found[0])
    if size is None:
        msg = f"logo is not a readable image ({len(data)} bytes): its header declares no size"
        raise LogoDecodeError(msg)
    if max(size) > MAX_LOGO_SIDE or min(size) < 1:
        msg = (
            f"logo declares {size[0]}x{size[1]} pixels; at most {MAX_LOGO_SIDE} a side "
            f"(it is scaled to {REFERENCE_PX} px anyway)"
        )
        raise LogoDecodeError(msg)
    buf = np.frombuffer(data, np.uint8)
    try:
        img = cv2.imdecode(buf, cv2.IMREAD_UNCHANGED)
    except cv2.error as e:  # OpenCV's pixel cap (see processors/__init__) or a broken header
        msg = f"logo is not a readable image ({len(data)} bytes): {_cv_reason(e)}"
        raise LogoDecodeError(msg) from e
    if img is None:
        msg = f"logo is not a readable image ({len(data)} bytes)"
        raise LogoDecodeError(msg)
    return prepare_logo(np.asarray(img))


@functools.lru_cache(maxsize=16)
def cached_logo(data: bytes) -> LogoTemplate:
    """`decode_logo`, once per logo file in a process: every check of a brand uses its logos,
    and a template keeps the renderings already made (sizes the brand's assets showed)."""
    return decode_logo(data)


def _cv_reason(e: cv2.error) -> str:
    if "CV_IO_MAX_IMAGE_PIXELS" in str(e):
        return f"larger than the limit of {os.environ['OPENCV_IO_MAX_IMAGE_PIXELS']} pixels"
    return "OpenCV refused its header"


def prepare_logo(image: npt.NDArray[np.generic]) -> LogoTemplate:
    """Make a template from a grey, BGR or BGRA array; crop to the mark, cap its size."""
    img = _to_bgra(image)
    if img.shape[2] == 3 or int(img[..., 3].min()) == 255:
        img = _alpha_from_backdrop(img[..., :3])
    alpha = np.where(img[..., 3] >= OPAQUE, 255, 0).astype(np.uint8)
    ys, xs = np.nonzero(alpha)
    if ys.size < 16:
        msg = "logo has no visible pixels"
        raise LogoDecodeError(msg)
    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    bgr, alpha = img[y0:y1, x0:x1, :3], alpha[y0:y1, x0:x1]
    scale = REFERENCE_PX / max(bgr.shape[:2])
    if scale < 1:
        size = (max(1, round(bgr.shape[1] * scale)), max(1, round(bgr.shape[0] * scale)))
        bgr = _u8(cv2.resize(bgr, size, interpolation=cv2.INTER_AREA))
        alpha = _u8(cv2.resize(alpha, size, interpolation=cv2.INTER_AREA))
    grey = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
    opaque = alpha >= OPAQUE
    ink = srgb_to_lab(bgr[opaque][:, ::-1].astype(np.float64)).mean(axis=0)
    distance = np.linalg.norm(BIN_LAB - ink, axis=1) * (255 / INK_SATURATION)
    ink_lut = np.clip(distance, 0, 255).astype(np.uint8)
    silhouette = float(grey[opaque].std()) < INTERIOR_MIN_STD
    chroma = float(np.hypot(ink[1], ink[2]))
    return LogoTemplate(np.ascontiguousarray(bgr), alpha, silhouette, ink_lut, chroma)


def _to_bgra(image: npt.NDArray[np.generic]) -> Image:
    """Bring any 8- or 16-bit grey/BGR/BGRA array to 8-bit with 3 or 4 channels."""
    img = np.asarray(image)
    if img.dtype == np.uint16:
        img = (img >> 8).astype(np.uint8)
    img = img.astype(np.uint8, copy=False)
    if img.ndim == 2:
        img = cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)
    if img.ndim != 3 or img.shape[2] not in (3, 4):
        msg = f"logo has an unsupported shape {img.shape}"
        raise LogoDecodeError(msg)
    return np.ascontiguousarray(img)


def _alpha_from_backdrop(bgr: Image) -> Image:
    """Give a logo without transparency an alpha: its plain border-connected backdrop is clear."""
    h, w = bgr.shape[:2]
    corner = np.median(np.array([bgr[0, 0], bgr[0, -1], bgr[-1, 0], bgr[-1, -1]]), axis=0)
    close = np.abs(bgr.astype(np.int16) - corner).max(axis=2) <= BACKDROP_TOLERANCE
    _, labels = cv2.connectedComponents(close.astype(np.uint8), connectivity=4)
    border = np.unique(np.concatenate([labels[0], labels[h - 1], labels[:, 0], labels[:, w - 1]]))
    backdrop = np.isin(labels, border[border > 0])
    if backdrop.mean() > 0.9 or backdrop.mean() < 0.02:
        backdrop[:] = False  # no plain backdrop: the whole rectangle is the logo
    alpha = np.where(backdrop, 0, 255).astype(np.uint8)
    return np.dstack([bgr, alpha])


def _render(logo: LogoTemplate, width: float, angle: float) -> Rendered:
    scale = width / logo.bgr.shape[1]
    h0, w0 = logo.bgr.shape[:2]
    size = (max(2, round(w0 * scale)), max(2, round(h0 * scale)))
    bgr = _u8(cv2.resize(logo.bgr, size, interpolation=cv2.INTER_AREA))
    alpha = _u8(cv2.resize(logo.alpha, size, interpolation=cv2.INTER_AREA))
    if angle:
        bgr, alpha = _rotate(bgr, alpha, angle)
    if logo.silhouette:
        return _silhouette(alpha)
    opaque = _opaque(alpha)
    mask = np.where(opaque, 255, 0).astype(np.uint8)
    grey = np.asarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY), np.uint8)
    return Rendered(grey, bgr, mask, _box(opaque))


def _opaque(alpha: Image) -> npt.NDArray[np.bool_]:
    opaque = alpha >= OPAQUE
    return opaque if opaque.any() else alpha > 0


def _box(opaque: npt.NDArray[np.bool_]) -> tuple[int, int, int, int]:
    ys, xs = np.nonzero(opaque)
    return int(xs.min()), int(ys.min()), int(xs.max() - xs.min() + 1), int(ys.max() - ys.min() + 1)


def _silhouette(alpha: Image) -> Rendered:
    """Render a one-colour mark as an ink map (ink 0, ground 255) masked to it plus a ring."""
    ring = max(1, round(RING_SHARE * np.sqrt(alpha.shape[0] * alpha.shape[1])))
    alpha = _u8(cv2.copyMakeBorder(alpha, ring, ring, ring, ring, cv2.BORDER_CONSTANT, value=0))
    opaque = _opaque(alpha)
    ink = (255 - alpha).astype(np.uint8)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * ring + 1, 2 * ring + 1))
    mask = _u8(cv2.dilate(np.where(opaque, 255, 0).astype(np.uint8), kernel))
    return Rendered(ink, _u8(cv2.cvtColor(ink, cv2.COLOR_GRAY2BGR)), mask, _box(opaque))


def _u8(image: object) -> Image:
    """OpenCV's return, typed as the 8-bit image it is."""
    return np.asarray(image, np.uint8)


def _rotate(bgr: Image, alpha: Image, angle: float) -> tuple[Image, Image]:
    """Rotate about the centre onto a canvas large enough to hold every corner."""
    h, w = alpha.shape
    m = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
    cos, sin = abs(m[0, 0]), abs(m[0, 1])
    nw, nh = int(np.ceil(w * cos + h * sin)), int(np.ceil(w * sin + h * cos))
    m[0, 2] += nw / 2 - w / 2
    m[1, 2] += nh / 2 - h / 2
    flags = cv2.INTER_LINEAR
    out_bgr = cv2.warpAffine(bgr, m, (nw, nh), flags=flags, borderMode=cv2.BORDER_REPLICATE)
    out_a = cv2.warpAffine(alpha, m, (nw, nh), flags=flags, borderValue=0)
    return np.asarray(out_bgr, np.uint8), np.asarray(out_a, np.uint8)
