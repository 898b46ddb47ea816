"""OCR: the shipped text detector against the one inside the `rapidocr` wheel, on known text.

Run: `python -m bench.bench_ocr [--frames 150]`. Draws caption lines (12 phrases, four Hershey
fonts, 0.35-1.8 scale, on flat, photo, grain and blob backgrounds, at 512x288, 512x512 and
512x910, in plain, low-contrast and outlined styles) and frames of shapes alone (discs, boxes,
ellipses, rings), then reads them with `processors.vision.ocr.read_text` twice: with the shipped
detector (PP-OCRv4 mobile, from `rapidocr_onnxruntime`) and with `rapidocr`'s own PP-OCRv6 small
one; the recogniser is the same. A line counts as read when its letters and digits (case and
spaces aside) appear in one line read from its frame. Prints, per detector, lines read, frames
where shapes alone gave text, and CPU per caption frame (detector and recogniser, one thread).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

from bench.bench_e2e import OUT, make_still
from processors.vision import ocr

Image = npt.NDArray[np.uint8]
FONTS = [
    cv2.FONT_HERSHEY_SIMPLEX,
    cv2.FONT_HERSHEY_DUPLEX,
    cv2.FONT_HERSHEY_COMPLEX,
    cv2.FONT_HERSHEY_TRIPLEX,
]
PHRASES = [
    "SUMMER SALE",
    "Sponsored",
    "#ad",
    "Shop now",
    "50% OFF",
    "Link in bio",
    "New collection",
    "Free shipping",
    "ACME",
    "Limited time only",
    "Swipe up",
    "2026",
]
SIZES = [(512, 288), (512, 512), (512, 910)]
BACKGROUNDS = ["flat", "photo", "grain", "blobs"]


def background(rng: np.random.Generator, w: int, h: int, kind: str, photos: list[Image]) -> Image:
    if kind == "flat":
        return np.full((h, w, 3), rng.integers(0, 256, 3), np.uint8)
    if kind == "photo":
        photo = photos[int(rng.integers(len(photos)))]
        return np.asarray(cv2.resize(photo, (w, h), interpolation=cv2.INTER_AREA), np.uint8)
    if kind == "grain":
        base = np.full((h, w, 3), rng.integers(40, 200, 3), np.int16)
        return np.clip(base + rng.normal(0, 12, (h, w, 3)), 0, 255).astype(np.uint8)
    image = np.full((h, w, 3), rng.integers(0, 256, 3), np.uint8)
    for _ in range(12):
        colour = tuple(int(x) for x in rng.integers(0, 256, 3))
        centre = (int(rng.integers(0, w)), int(rng.integers(0, h)))
        cv2.circle(image, centre, int(rng.integers(10, w // 3)), colour, -1)
    return np.asarray(cv2.GaussianBlur(image, (0, 0), 3), np.uint8)


def caption_frame(seed: int, photos: list[Image]) -> tuple[Image, list[str]]:
    """A frame with 0-3 caption lines drawn on it, and the lines."""
    rng = np.random.default_rng(seed)
    w, h = SIZES[seed % 3]
    image = background(rng, w, h, BACKGROUNDS[(seed // 3) % 4], photos)
    written = []
    for _ in range(int(rng.integers(0, 4))):
        text = PHRASES[int(rng.integers(len(PHRASES)))]
        font, scale = FONTS[int(rng.integers(4))], float(rng.uniform(0.35, 1.8))
        thick = max(1, round(scale * rng.uniform(1, 2.2)))
        (tw, th), base = cv2.getTextSize(text, font, scale, thick)
        x, y = int(rng.integers(0, max(1, w - tw))), int(rng.integers(th + 2, h - base))
        under = image[max(0, y - th) : y + base, x : x + tw].reshape(-1, 3).mean(0)
        style = int(rng.integers(3))
        colour: tuple[int, ...]
        if style == 0:  # plain: white on dark, black on light
            colour = (255, 255, 255) if under.mean() < 128 else (0, 0, 0)
        elif style == 1:  # low contrast
            step = 70 if under.mean() < 128 else -70
            colour = tuple(int(v) for v in np.clip(under + step, 0, 255))
        else:  # outlined
            cv2.putText(image, text, (x, y), font, scale, (0, 0, 0), thick * 3, cv2.LINE_AA)
            colour = (255, 255, 255)
        cv2.putText(image, text, (x, y), font, scale, colour, thick, cv2.LINE_AA)
        written.append(text)
    return image, written


def shapes_frame(seed: int) -> Image:
    """A frame of 1-4 filled discs, boxes, ellipses or rings, and no text."""
    rng = np.random.default_rng(10_000 + seed)
    w, h = SIZES[seed % 3]
    image = np.full((h, w, 3), rng.integers(0, 256, 3), np.uint8)
    for _ in range(int(rng.integers(1, 5))):
        colour = tuple(int(x) for x in rng.integers(0, 256, 3))
        x, y, r = int(rng.integers(0, w)), int(rng.integers(0, h)), int(rng.integers(8, w // 4))
        kind = int(rng.integers(4))
        if kind == 0:
            cv2.circle(image, (x, y), r, colour, -1, cv2.LINE_AA)
        elif kind == 1:
            cv2.rectangle(image, (x, y), (x + r, y + int(r * rng.uniform(0.3, 2))), colour, -1)
        elif kind == 2:
            axes = (r, int(r * rng.uniform(0.3, 1)))
            angle = float(rng.uniform(0, 180))
            cv2.ellipse(image, (x, y), axes, angle, 0, 360, colour, -1, cv2.LINE_AA)
        else:
            cv2.circle(image, (x, y), r, colour, int(rng.integers(2, 10)), cv2.LINE_AA)
    return image


def _letters(text: str) -> str:
    return "".join(c for c in text.lower() if c.isalnum())


@contextmanager
def detector(path: Path) -> Iterator[None]:
    """Read with another detector model file for the duration (a fresh engine each way)."""
    shipped = ocr.model_paths

    def paths() -> dict[str, Path]:
        return shipped() | {"Det": path}

    ocr.model_paths = paths
    ocr._engine.cache_clear()
    try:
        yield
    finally:
        ocr.model_paths = shipped
        ocr._engine.cache_clear()


def measure(captions: list[tuple[Image, list[str]]], shapes: list[Image]) -> tuple[int, int, float]:
    """Lines read, frames of shapes that gave text, CPU seconds per caption frame."""
    ocr.read_text(captions[0][0])  # load the engine
    read, started = 0, time.process_time()
    for image, written in captions:
        got = [_letters(b.text) for b in ocr.read_text(image)]
        read += sum(any(_letters(w) in g for g in got) for w in written)
    cpu = (time.process_time() - started) / len(captions)
    false = sum(bool(ocr.read_text(image)) for image in shapes)
    return read, false, cpu


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--frames", type=int, default=150, help="caption frames (and 0.8x shapes)")
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    photos = [np.asarray(cv2.imread(str(make_still(seed))), np.uint8) for seed in range(8)]
    captions = [caption_frame(seed, photos) for seed in range(args.frames)]
    shapes = [shapes_frame(seed) for seed in range(args.frames * 4 // 5)]
    lines = sum(len(w) for _, w in captions)
    shipped = ocr.model_paths()["Det"]
    bundled = ocr.model_paths()["Rec"].with_name("PP-OCRv6_det_small.onnx")  # rapidocr's own
    rows = []
    for name, path in [("PP-OCRv4 mobile (shipped)", shipped), ("PP-OCRv6 small", bundled)]:
        with detector(path):
            rows.append((name, *measure(captions, shapes)))
    print(
        f"{len(captions)} caption frames ({lines} lines written), {len(shapes)} frames of shapes "
        "alone; one thread; recogniser PP-OCRv6 small for both"
    )
    print(f"{'detector':<28}{'lines read':>16}{'shapes read as text':>22}{'cpu ms/frame':>14}")
    for name, read, false, cpu in rows:
        share = f"{read}/{lines} {read / lines:.3f}"
        print(f"{name:<28}{share:>16}{f'{false}/{len(shapes)}':>22}{cpu * 1000:>14.0f}")
    print(f"shipped detector's CPU: {rows[0][3] / rows[1][3]:.2f} of PP-OCRv6 small's")


if __name__ == "__main__":
    main()
