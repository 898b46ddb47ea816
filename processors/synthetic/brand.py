"""Labelled synthetic frames for the brand checks' tests and benchmark; everything drawn locally.

Logos of four kinds (a badge with a letter, a plain wordmark, a two-colour emblem, a one-colour
silhouette) are composited at known positions, sizes and rotations over backgrounds from plain
to busy, then optionally JPEG-compressed and blurred. The ground-truth box is the axis-aligned
box of the composited (rotated) opaque pixels, normalised [x, y, w, h].
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

from processors.brand.colour import (
    BIN_LAB,
    bin_index,
    ciede2000,
    hex_to_rgb,
    rgb_to_hex,
    srgb_to_lab,
)
from processors.synthetic import samples

Image = npt.NDArray[np.uint8]
Box = tuple[float, float, float, float]

BACKGROUNDS = ("solid_light", "solid_dark", "gradient", "clouds", "clutter", "stripes", "photo")
FONT = cv2.FONT_HERSHEY_DUPLEX


def bgr(hex_colour: str) -> tuple[int, int, int]:
    """Turn `#RRGGBB` into an OpenCV BGR triple."""
    r, g, b = hex_to_rgb(hex_colour)
    return b, g, r


def _canvas(w: int, h: int) -> Image:
    return np.zeros((h, w, 4), np.uint8)


def badge_logo(size: int = 200, fill: str = "#E4002B", ink: str = "#FFFFFF") -> Image:
    """A rounded badge with a bold letter, a notch and stripes (like the demo's logo)."""
    img, s, r = _canvas(size, size), size, size // 6
    cv2.rectangle(img, (r, 0), (s - 1 - r, s - 1), (*bgr(fill), 255), -1)
    cv2.rectangle(img, (0, r), (s - 1, s - 1 - r), (*bgr(fill), 255), -1)
    for cx, cy in ((r, r), (s - 1 - r, r), (r, s - 1 - r), (s - 1 - r, s - 1 - r)):
        cv2.circle(img, (cx, cy), r, (*bgr(fill), 255), -1, cv2.LINE_AA)
    for k in range(3):
        off = int(s * (0.62 + 0.1 * k))
        cv2.line(img, (off, s - 1), (s - 1, off), (*bgr(ink), 255), max(2, s // 40), cv2.LINE_AA)
    tri = np.array([[s * 0.12, s * 0.14], [s * 0.34, s * 0.14], [s * 0.12, s * 0.36]], np.int32)
    cv2.fillPoly(img, [tri], (*bgr(ink), 255), cv2.LINE_AA)
    thick = max(3, s // 14)
    (tw, th), _ = cv2.getTextSize("R", FONT, s / 52, thick)
    cv2.putText(
        img, "R", ((s - tw) // 2, (s + th) // 2), FONT, s / 52, (*bgr(ink), 255), thick, cv2.LINE_AA
    )
    return img


def wordmark_logo(text: str = "NORDA", colour: str = "#0033A0") -> Image:
    """A one-colour wordmark on a transparent ground, underlined."""
    scale, thick = 3.0, 7
    (tw, th), base = cv2.getTextSize(text, FONT, scale, thick)
    img = _canvas(tw + 20, th + base + 34)
    cv2.putText(img, text, (10, th + 10), FONT, scale, (*bgr(colour), 255), thick, cv2.LINE_AA)
    cv2.rectangle(img, (10, th + base + 16), (tw + 10, th + base + 26), (*bgr(colour), 255), -1)
    return img


def emblem_logo(size: int = 200, ring: str = "#FFC72C", core: str = "#111111") -> Image:
    """A two-colour emblem: a ring around a dark disc holding an off-centre triangle and bar."""
    img, c = _canvas(size, size), size // 2
    cv2.circle(img, (c, c), c - 2, (*bgr(ring), 255), -1, cv2.LINE_AA)
    cv2.circle(img, (c, c), int(c * 0.72), (*bgr(core), 255), -1, cv2.LINE_AA)
    tri = np.array([[c * 0.62, c * 1.38], [c * 1.0, c * 0.5], [c * 1.3, c * 1.25]], np.int32)
    cv2.fillPoly(img, [tri], (*bgr(ring), 255), cv2.LINE_AA)
    cv2.rectangle(
        img, (int(c * 1.32), int(c * 0.7)), (int(c * 1.46), int(c * 1.3)), (*bgr(ring), 255), -1
    )
    return img


def silhouette_logo(size: int = 200, colour: str = "#FFFFFF") -> Image:
    """A one-colour mark whose only information is its outline: a bolt in a notched shield."""
    img, s = _canvas(size, size), size
    shield = np.array([[0.1, 0.05], [0.9, 0.05], [0.9, 0.55], [0.5, 0.97], [0.1, 0.55]]) * s
    cv2.fillPoly(img, [shield.astype(np.int32)], (*bgr(colour), 255), cv2.LINE_AA)
    bolt = (
        np.array(
            [
                [0.55, 0.12],
                [0.3, 0.52],
                [0.48, 0.52],
                [0.4, 0.86],
                [0.72, 0.4],
                [0.53, 0.4],
                [0.66, 0.12],
            ]
        )
        * s
    )
    cv2.fillPoly(img, [bolt.astype(np.int32)], (0, 0, 0, 0), cv2.LINE_AA)
    return img


def demo_logo() -> Image:
    """The demo's logo exactly as `processors.synthetic.samples` draws and saves it (RGBA PNG)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = samples.make_logo(Path(tmp) / "logo.png")
        return np.asarray(cv2.imread(str(path), cv2.IMREAD_UNCHANGED), np.uint8)


LOGOS: dict[str, Callable[[], Image]] = {
    "badge": badge_logo,
    "wordmark": wordmark_logo,
    "emblem": emblem_logo,
    "silhouette": silhouette_logo,
    "demo": demo_logo,
}


def png_bytes(bgra: Image) -> bytes:
    """Encode a BGRA logo as PNG bytes (what a brand profile stores)."""
    ok, data = cv2.imencode(".png", bgra)
    if not ok:
        msg = "cannot encode PNG"
        raise RuntimeError(msg)
    return data.tobytes()


def background(kind: str, w: int, h: int, rng: np.random.Generator) -> Image:
    """Draw a background: plain, gradient, cloudy noise, shape clutter, stripes or photo-like."""
    if kind == "solid_light":
        return np.full((h, w, 3), rng.integers(200, 256, 3), np.uint8)
    if kind == "solid_dark":
        return np.full((h, w, 3), rng.integers(0, 60, 3), np.uint8)
    if kind == "gradient":
        a, b = rng.integers(0, 256, 3), rng.integers(0, 256, 3)
        t = np.linspace(0, 1, h)[:, None, None]
        return np.broadcast_to(a * (1 - t) + b * t, (h, w, 3)).astype(np.uint8).copy()
    if kind == "clouds":
        return _clouds(w, h, rng)
    if kind == "clutter":
        return _clutter((_clouds(w, h, rng) // 2 + 64).astype(np.uint8), rng, 60)
    if kind == "stripes":
        return _stripes(w, h, rng)
    soft = np.asarray(cv2.GaussianBlur(_clouds(w, h, rng), (0, 0), 3), np.uint8)
    return _clutter(soft, rng, 25, texture=True)


def _clouds(w: int, h: int, rng: np.random.Generator) -> Image:
    out = np.zeros((h, w, 3), np.float32)
    for octave in range(1, 6):
        cells = 2**octave
        noise = rng.random((cells + 1, cells + 1, 3)).astype(np.float32)
        out += cv2.resize(noise, (w, h), interpolation=cv2.INTER_CUBIC) / octave
    out -= out.min()
    return (255 * out / max(float(out.max()), 1e-6)).astype(np.uint8)


def _stripes(w: int, h: int, rng: np.random.Generator) -> Image:
    yy, xx = np.mgrid[0:h, 0:w]
    period, angle = rng.uniform(6, 30), rng.uniform(0, np.pi)
    phase = (xx * np.cos(angle) + yy * np.sin(angle)) / period
    a, b = rng.integers(0, 256, 3), rng.integers(0, 256, 3)
    t = ((np.sin(2 * np.pi * phase) > 0).astype(np.float32))[..., None]
    return np.asarray(a * t + b * (1 - t), np.uint8)


def _clutter(img: Image, rng: np.random.Generator, count: int, texture: bool = False) -> Image:
    """Scatter rectangles, circles, lines and letters (hard negatives for the logo search)."""
    out = np.ascontiguousarray(img.copy())
    h, w = out.shape[:2]
    for _ in range(count):
        colour = tuple(int(v) for v in rng.integers(0, 256, 3))
        x, y = int(rng.integers(0, w)), int(rng.integers(0, h))
        s = int(rng.integers(4, max(5, w // 6)))
        kind = int(rng.integers(0, 4))
        if kind == 0:
            cv2.rectangle(out, (x, y), (x + s, y + s // 2), colour, -1)
        elif kind == 1:
            cv2.circle(out, (x, y), s // 2, colour, -1 if texture else 2, cv2.LINE_AA)
        elif kind == 2:
            end = (int(rng.integers(0, w)), int(rng.integers(0, h)))
            cv2.line(out, (x, y), end, colour, int(rng.integers(1, 4)), cv2.LINE_AA)
        else:
            letter = chr(int(rng.integers(65, 91)))
            cv2.putText(out, letter, (x, y), FONT, s / 30, colour, max(1, s // 12), cv2.LINE_AA)
    return out


def composite(
    frame: Image, logo: Image, x: float, y: float, width: float, angle: float = 0.0
) -> Box:
    """Alpha-blend `logo` (BGRA), `width` px wide and rotated, with its box's top-left at (x, y)."""
    scale = width / logo.shape[1]
    size = (max(2, round(logo.shape[1] * scale)), max(2, round(logo.shape[0] * scale)))
    img = cv2.resize(logo, size, interpolation=cv2.INTER_AREA)
    if angle:
        h, w = img.shape[:2]
        m = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
        nw = int(np.ceil(w * abs(m[0, 0]) + h * abs(m[0, 1])))
        nh = int(np.ceil(w * abs(m[0, 1]) + h * abs(m[0, 0])))
        m[0, 2] += nw / 2 - w / 2
        m[1, 2] += nh / 2 - h / 2
        img = cv2.warpAffine(img, m, (nw, nh), flags=cv2.INTER_LINEAR, borderValue=(0, 0, 0, 0))
    ys, xs = np.nonzero(img[..., 3] >= 128)
    img = img[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
    fh, fw = frame.shape[:2]
    x0, y0 = int(round(x)), int(round(y))
    h, w = min(img.shape[0], fh - y0), min(img.shape[1], fw - x0)
    alpha = img[:h, :w, 3:4].astype(np.float32) / 255.0
    roi = frame[y0 : y0 + h, x0 : x0 + w].astype(np.float32)
    frame[y0 : y0 + h, x0 : x0 + w] = (img[:h, :w, :3] * alpha + roi * (1 - alpha)).astype(np.uint8)
    return x0 / fw, y0 / fh, w / fw, h / fh


def visible(frame: Image, logo: Image, x: float, y: float, width: float, angle: float) -> bool:
    """Whether a person would see the mark: it has inner detail, or half its outline stands out
    (ΔE76 > 12 between the pixels just outside it and the colour just inside it)."""
    lab = BIN_LAB[bin_index(logo[..., :3][logo[..., 3] >= 128])]
    if float(np.linalg.norm(lab - np.median(lab, axis=0), axis=1).mean()) > 15:
        return True
    shape = logo.copy()
    shape[..., :3] = 255
    canvas = np.zeros_like(frame)
    composite(canvas, shape, x, y, width, angle)
    mark = (canvas[..., 0] >= 128).astype(np.uint8)
    ring = cv2.dilate(mark, np.ones((5, 5), np.uint8)) - mark
    inner = mark - cv2.erode(mark, np.ones((5, 5), np.uint8))
    colours = BIN_LAB[bin_index(frame)]
    inside = np.median(colours[inner > 0], axis=0)
    return bool((np.linalg.norm(colours[ring > 0] - inside, axis=1) > 12).mean() >= 0.5)


def degrade(frame: Image, jpeg_quality: int | None = None, blur_sigma: float = 0.0) -> Image:
    """Blur slightly and/or round-trip through JPEG, as a re-encoded upload would be."""
    out = frame
    if blur_sigma > 0:
        out = np.asarray(cv2.GaussianBlur(out, (0, 0), blur_sigma), np.uint8)
    if jpeg_quality is not None:
        ok, data = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, jpeg_quality])
        if not ok:
            msg = "cannot encode JPEG"
            raise RuntimeError(msg)
        out = np.asarray(cv2.imdecode(data, cv2.IMREAD_COLOR), np.uint8)
    return out


def iou(a: Box, b: Box) -> float:
    """Intersection over union of two [x, y, w, h] boxes."""
    ix = max(0.0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union > 0 else 0.0


def artwork(
    w: int,
    h: int,
    rng: np.random.Generator,
    colours: list[str],
    accents: list[str],
    accent_chance: float,
    ground: str | None,
) -> tuple[Image, float]:
    """Flat-design artwork and the true share of its painted area in `colours`.

    Shapes are drawn in `colours`, or in `accents` with probability `accent_chance`, on `ground`
    (a colour that counts as painted in `colours`) or, if None, on a plain neutral backdrop
    (white, light grey or near-black) that is not artwork and is not counted.
    """
    label = np.zeros((h, w), np.uint8)  # 0 backdrop, 1 colours, 2 accents
    if ground is None:
        img = np.full((h, w, 3), int(rng.choice([245, 235, 30])), np.uint8)
    else:
        img = np.full((h, w, 3), bgr(ground), np.uint8)
        label[:] = 1
    for _ in range(int(rng.integers(6, 14))):
        accent = bool(accents) and rng.random() < accent_chance
        pool = accents if accent else colours
        colour = bgr(pool[int(rng.integers(len(pool)))])
        x, y = int(rng.integers(0, w)), int(rng.integers(0, h))
        s = int(rng.integers(w // 10, w // 3))
        for target, value in ((img, colour), (label, 2 if accent else 1)):
            if s % 2:
                cv2.rectangle(target, (x - s // 2, y - s // 3), (x + s // 2, y + s // 3), value, -1)
            else:
                cv2.circle(target, (x, y), s // 2, value, -1)
    noise = rng.normal(0, 40, (h, w)).astype(np.float32)
    shade = np.asarray(cv2.GaussianBlur(noise, (0, 0), 4), np.float32)[..., None]
    out = np.clip(img.astype(np.float32) + shade, 0, 255).astype(np.uint8)
    painted = int((label > 0).sum())
    return out, float((label == 1).sum() / painted) if painted else 1.0


def off_palette_colours(
    palette: list[str], count: int, min_de: float, rng: np.random.Generator
) -> list[str]:
    """Pick random colours at least `min_de` (CIEDE2000) from every palette colour."""
    pal = srgb_to_lab(np.array([hex_to_rgb(c) for c in palette], np.float64))
    out: list[str] = []
    while len(out) < count:
        rgb = rng.integers(0, 256, 3)
        if float(ciede2000(srgb_to_lab(rgb.astype(np.float64))[None], pal).min()) >= min_de:
            out.append(rgb_to_hex(rgb))
    return out
