"""A labelled near-duplicate set: assets, their transformed copies (resized, re-encoded, cropped
5 %, watermarked) and look-alike distractors (the same template with another picture), as
images and as short videos. For `bench/bench_dedupe.py` and the tests of the rule.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Final

import cv2
import numpy as np
import numpy.typing as npt

from processors.media import ffmpeg_exe
from processors.synthetic.brand import FONT, background

Image = npt.NDArray[np.uint8]
KINDS: Final = ("clouds", "clutter", "stripes", "photo", "gradient")
TRANSFORMS: Final = ("resized", "reencoded", "cropped_5pct", "watermarked")
W, H = 1280, 720


def _foreground(img: Image, seed: int) -> Image:
    """The template's part: objects and a title bar, the same for an asset and its look-alike."""
    out = np.ascontiguousarray(img.copy())
    rng = np.random.default_rng(seed + 50_000)
    h, w = out.shape[:2]
    for _ in range(8):
        colour = tuple(int(v) for v in rng.integers(0, 256, 3))
        x, y, s = int(rng.integers(0, w)), int(rng.integers(0, h)), int(rng.integers(20, w // 6))
        cv2.circle(out, (x, y), s // 2, colour, -1, cv2.LINE_AA)
    cv2.rectangle(out, (0, int(h * 0.8)), (w, h), (30, 30, 30), -1)
    cv2.putText(out, "SUMMER SALE", (int(w * 0.05), int(h * 0.92)), FONT, h / 360, (255,) * 3, 4)
    return out


def asset(seed: int, picture: int | None = None) -> Image:
    """Asset `seed`; with `picture`, its look-alike: the same template over another picture."""
    rng = np.random.default_rng(seed if picture is None else picture)
    return _foreground(background(KINDS[seed % len(KINDS)], W, H, rng), seed)


def lookalike(seed: int) -> Image:
    return asset(seed, picture=seed + 10_000)


def transform(img: Image, name: str) -> Image:
    """One of `TRANSFORMS` applied to a frame."""
    h, w = img.shape[:2]
    if name == "resized":
        return np.asarray(cv2.resize(img, (w // 2, h // 2), interpolation=cv2.INTER_AREA))
    if name == "reencoded":
        ok, data = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 35])
        return np.asarray(cv2.imdecode(data, cv2.IMREAD_COLOR))
    if name == "cropped_5pct":  # 5 % of each dimension, half from each side
        dx, dy = round(w * 0.025), round(h * 0.025)
        return np.ascontiguousarray(img[dy : h - dy, dx : w - dx])
    if name == "watermarked":
        marked = img.copy()
        cv2.putText(marked, "@brand", (int(w * 0.78), int(h * 0.07)), FONT, h / 720, (255,) * 3, 2)
        return np.asarray(cv2.addWeighted(img, 0.4, marked, 0.6, 0))
    msg = f"unknown transform {name!r}"
    raise ValueError(msg)


# --- video --------------------------------------------------------------------------------

VW, VH, FPS = 640, 360, 15
VIDEO_FILTERS: Final = {  # ffmpeg's version of each transform, on the encoded clip
    "resized": ["-vf", "scale=320:180", "-crf", "23", "-g", "30"],
    "reencoded": ["-crf", "36", "-g", "20"],
    "cropped_5pct": ["-vf", "crop=608:342", "-crf", "23", "-g", "30"],
    "watermarked": ["-vf", "drawbox=x=540:y=12:w=84:h=22:color=white@0.6:t=fill", "-g", "30"],
}


def _clip_frames(scenes: list[Image], seconds: float) -> Iterator[Image]:
    """Scenes one after another, each slowly zooming in (motion between keyframes)."""
    total, per = round(seconds * FPS), round(seconds * FPS) // len(scenes)
    for i in range(total):
        scene = scenes[min(i // per, len(scenes) - 1)]
        zoom = 1 + 0.06 * ((i % per) / per)
        h, w = scene.shape[:2]
        cw, ch = int(w / zoom), int(h / zoom)
        x, y = (w - cw) // 2, (h - ch) // 2
        crop = scene[y : y + ch, x : x + cw]
        yield np.asarray(cv2.resize(crop, (VW, VH), interpolation=cv2.INTER_AREA))


def _encode(frames: Iterator[Image], path: Path, gop: int = 30) -> Path:
    cmd = [ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", "-f", "rawvideo"]
    cmd += ["-pix_fmt", "bgr24", "-s", f"{VW}x{VH}", "-r", str(FPS), "-i", "pipe:0"]
    cmd += ["-c:v", "libx264", "-preset", "veryfast", "-crf", "20", "-g", str(gop)]
    cmd += ["-pix_fmt", "yuv420p", str(path)]
    with subprocess.Popen(cmd, stdin=subprocess.PIPE) as proc:
        assert proc.stdin is not None
        for frame in frames:
            proc.stdin.write(frame.tobytes())
        proc.stdin.close()
        if proc.wait() != 0:
            msg = f"ffmpeg could not encode {path.name}"
            raise RuntimeError(msg)
    return path


def clip(path: Path, seed: int, seconds: float = 6.0, *, look_alike: bool = False) -> Path:
    """A clip of three scenes from assets `3*seed…`; a look-alike uses the same templates."""
    make: Callable[[int], Image] = lookalike if look_alike else asset
    return _encode(_clip_frames([make(3 * seed + k) for k in range(3)], seconds), path)


def transform_clip(source: Path, name: str, dest: Path) -> Path:
    """The clip re-encoded through one of `VIDEO_FILTERS`."""
    cmd = [ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", "-i", str(source)]
    cmd += [*VIDEO_FILTERS[name], "-c:v", "libx264", "-preset", "veryfast", str(dest)]
    subprocess.run(cmd, check=True)
    return dest
