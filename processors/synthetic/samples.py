"""Realistic test and demo media made locally (OpenCV drawing piped into ffmpeg); no downloads.

Videos are drawn frame by frame in numpy and piped as raw BGR into libx264, so every scene cut,
logo position and colour is known exactly: `cut_times()` says where the cuts of `make_video` fall.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

import cv2
import numpy as np
import numpy.typing as npt

from processors.media import ffmpeg_exe

Image = npt.NDArray[np.uint8]

BRAND_COLOURS: tuple[str, str] = ("#E4002B", "#FFFFFF")
OFF_BRAND_COLOURS: tuple[str, str] = ("#2E8B57", "#6A0DAD")


def hex_to_bgr(hex_colour: str) -> tuple[int, int, int]:
    """Turn `#RRGGBB` into an OpenCV BGR triple."""
    value = hex_colour.lstrip("#")
    if len(value) != 6:
        msg = f"colour {hex_colour!r} is not #RRGGBB"
        raise ValueError(msg)
    r, g, b = (int(value[i : i + 2], 16) for i in (0, 2, 4))
    return b, g, r


def make_logo(path: Path, size: int = 160, colours: tuple[str, str] = BRAND_COLOURS) -> Path:
    """Draw a distinctive RGBA logo: a rounded badge, a bold letter, stripes and a notch."""
    fill, ink = hex_to_bgr(colours[0]), hex_to_bgr(colours[1])
    s = size
    img = np.zeros((s, s, 4), np.uint8)
    r = s // 6
    badge = np.zeros((s, s), np.uint8)
    cv2.rectangle(badge, (r, 0), (s - 1 - r, s - 1), 255, -1)
    cv2.rectangle(badge, (0, r), (s - 1, s - 1 - r), 255, -1)
    for cx, cy in ((r, r), (s - 1 - r, r), (r, s - 1 - r), (s - 1 - r, s - 1 - r)):
        cv2.circle(badge, (cx, cy), r, 255, -1, cv2.LINE_AA)
    img[..., :3] = fill
    img[..., 3] = badge
    contours, _ = cv2.findContours(badge, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    cv2.drawContours(img, contours, -1, (*ink, 255), max(2, s // 26), cv2.LINE_AA)
    for k in range(3):  # diagonal stripes in the lower right corner give ORB corners
        off = int(s * (0.62 + 0.1 * k))
        cv2.line(img, (off, s - 1), (s - 1, off), (*ink, 255), max(2, s // 40), cv2.LINE_AA)
    pts = np.array([[s * 0.12, s * 0.14], [s * 0.34, s * 0.14], [s * 0.12, s * 0.36]], np.int32)
    cv2.fillPoly(img, [pts], (*ink, 255), cv2.LINE_AA)
    scale = s / 52
    thick = max(3, s // 14)
    (tw, th), _ = cv2.getTextSize("R", cv2.FONT_HERSHEY_DUPLEX, scale, thick)
    org = ((s - tw) // 2, (s + th) // 2)
    cv2.putText(img, "R", org, cv2.FONT_HERSHEY_DUPLEX, scale, (*ink, 255), thick, cv2.LINE_AA)
    img[..., 3] = np.minimum(img[..., 3], badge)
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), img)
    return path


def cut_times(seconds: float, cuts: int, fps: int = 30) -> list[float]:
    """Where `make_video` puts its scene cuts (the time of the first frame of each new scene)."""
    total = round(seconds * fps)
    return [round(total * (i + 1) / (cuts + 1)) / fps for i in range(cuts)]


def _scene_background(width: int, height: int, colours: tuple[str, ...], scene: int) -> Image:
    """Fill a scene: its main colour plus a gradient band into the next colour."""
    n = len(colours)
    main = np.array(hex_to_bgr(colours[scene % n]), np.float32)
    other = np.array(hex_to_bgr(colours[(scene + 1) % n]), np.float32)
    if n == 1 and scene % 2:
        main = main * 0.55
    if n == 1:
        other = main * 0.6
    img = np.empty((height, width, 3), np.float32)
    img[:] = main
    band = int(height * 0.35)
    ramp = np.linspace(0.0, 1.0, band, dtype=np.float32)[:, None, None]
    if scene % 2:
        img[:band] = other * (1 - ramp) + main * ramp
    else:
        img[height - band :] = main * (1 - ramp) + other * ramp
    return img.astype(np.uint8)


def _load_logo(logo: Path, frame_width: int, scale: float) -> Image:
    """Read an RGBA logo and resize it to `scale` of the frame width."""
    img = cv2.imread(str(logo), cv2.IMREAD_UNCHANGED)
    if img is None:
        msg = f"cannot read logo {logo}"
        raise ValueError(msg)
    if img.ndim == 2:
        img = cv2.cvtColor(img, cv2.COLOR_GRAY2BGRA)
    elif img.shape[2] == 3:
        img = cv2.cvtColor(img, cv2.COLOR_BGR2BGRA)
    w = max(8, round(frame_width * scale))
    h = max(8, round(img.shape[0] * w / img.shape[1]))
    return np.asarray(cv2.resize(img, (w, h), interpolation=cv2.INTER_AREA), np.uint8)


def _composite(frame: Image, logo: Image, pos: tuple[float, float]) -> None:
    """Alpha-blend `logo` onto `frame` in place with its top-left at normalised `pos`."""
    fh, fw = frame.shape[:2]
    x, y = round(pos[0] * fw), round(pos[1] * fh)
    h, w = min(logo.shape[0], fh - y), min(logo.shape[1], fw - x)
    if h <= 0 or w <= 0:
        return
    alpha = logo[:h, :w, 3:4].astype(np.float32) / 255.0
    roi = frame[y : y + h, x : x + w].astype(np.float32)
    blended = logo[:h, :w, :3].astype(np.float32) * alpha + roi * (1 - alpha)
    frame[y : y + h, x : x + w] = blended.astype(np.uint8)


def _put_text(frame: Image, text: str) -> None:
    """Write outlined text centred near the bottom of the frame."""
    h, w = frame.shape[:2]
    scale = w / 600
    thick = max(2, round(w / 250))
    (tw, th), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thick)
    org = ((w - tw) // 2, int(h * 0.82) + th // 2)
    cv2.putText(frame, text, org, cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), thick * 3)
    cv2.putText(frame, text, org, cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), thick)


def _draw_frame(
    base: Image,
    index: int,
    total: int,
    ball: tuple[int, int, int],
    logo: Image | None,
    logo_pos: tuple[float, float],
    text: str | None,
) -> Image:
    """Draw one frame: the scene background, a moving ball, the logo and the text."""
    frame = base.copy()
    h, w = frame.shape[:2]
    t = index / max(1, total - 1)
    cx = int(w * (0.15 + 0.7 * t))
    cy = int(h * (0.5 + 0.12 * np.sin(index / 4)))
    cv2.circle(frame, (cx, cy), max(6, w // 12), ball, -1, cv2.LINE_AA)
    if logo is not None:
        _composite(frame, logo, logo_pos)
    if text:
        _put_text(frame, text)
    return frame


def _encoder_cmd(
    path: Path, width: int, height: int, seconds: float, fps: int, audio: bool
) -> list[str]:
    """Build the ffmpeg command that turns raw BGR on stdin into an H.264/AAC mp4."""
    cmd = [
        ffmpeg_exe(),
        "-hide_banner",
        "-loglevel",
        "error",
        "-y",
        "-f",
        "rawvideo",
        "-pix_fmt",
        "bgr24",
        "-s",
        f"{width}x{height}",
        "-r",
        str(fps),
        "-i",
        "pipe:0",
    ]
    if audio:
        cmd += ["-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=48000:duration={seconds}"]
    cmd += ["-map", "0:v"] + (["-map", "1:a", "-c:a", "aac", "-b:a", "96k"] if audio else [])
    cmd += [
        "-c:v",
        "libx264",
        "-preset",
        "veryfast",
        "-crf",
        "23",
        "-pix_fmt",
        "yuv420p",
        "-g",
        str(2 * fps),
        "-movflags",
        "+faststart",
        "-t",
        str(seconds),
        str(path),
    ]
    return cmd


def _encode(cmd: list[str], frames: Iterator[Image], name: str) -> None:
    """Pipe raw frames into an ffmpeg encoder and fail loudly if it fails."""
    with subprocess.Popen(cmd, stdin=subprocess.PIPE, stderr=subprocess.PIPE) as proc:
        stdin, stderr = proc.stdin, proc.stderr
        if stdin is None or stderr is None:
            msg = "ffmpeg pipes were not opened"
            raise RuntimeError(msg)
        try:
            for frame in frames:
                stdin.write(frame.tobytes())
            stdin.close()
        except BrokenPipeError:
            pass
        err = stderr.read()
    if proc.returncode != 0:
        msg = f"ffmpeg failed making {name}: {err.decode(errors='replace')[-500:]}"
        raise RuntimeError(msg)


def make_video(
    path: Path,
    *,
    width: int,
    height: int,
    seconds: float,
    fps: int = 30,
    background: tuple[str, ...] = BRAND_COLOURS,
    logo: Path | None = None,
    logo_pos: tuple[float, float] = (0.05, 0.05),
    logo_scale: float = 0.15,
    cuts: int = 2,
    audio: bool = True,
    text: str | None = None,
) -> Path:
    """Make an H.264/AAC mp4 with `cuts` hard scene cuts at `cut_times(seconds, cuts, fps)`."""
    if width % 2 or height % 2:
        msg = f"width and height must be even for yuv420p, got {width}x{height}"
        raise ValueError(msg)
    path.parent.mkdir(parents=True, exist_ok=True)
    total = round(seconds * fps)
    starts = [round(t * fps) for t in cut_times(seconds, cuts, fps)]
    scenes = [_scene_background(width, height, background, i) for i in range(cuts + 1)]
    balls = [hex_to_bgr(background[(i + 1) % len(background)]) for i in range(cuts + 1)]
    logo_img = _load_logo(logo, width, logo_scale) if logo is not None else None
    scene_of = [sum(i >= s for s in starts) for i in range(total)]
    frames = (
        _draw_frame(scenes[k], i, total, balls[k], logo_img, logo_pos, text)
        for i, k in enumerate(scene_of)
    )
    _encode(_encoder_cmd(path, width, height, seconds, fps, audio), frames, path.name)
    return path


def make_image(
    path: Path,
    *,
    width: int,
    height: int,
    background: tuple[str, ...] = BRAND_COLOURS,
    logo: Path | None = None,
    logo_pos: tuple[float, float] = (0.05, 0.05),
    logo_scale: float = 0.15,
    fmt: Literal["jpg", "png"] = "jpg",
) -> Path:
    """Make a still in the style of the first scene of `make_video`."""
    frame = _scene_background(width, height, background, 0)
    if logo is not None:
        _composite(frame, _load_logo(logo, width, logo_scale), logo_pos)
    params = [cv2.IMWRITE_JPEG_QUALITY, 92] if fmt == "jpg" else []
    ok, data = cv2.imencode(f".{fmt}", frame, params)
    if not ok:
        msg = f"cannot encode {fmt}"
        raise RuntimeError(msg)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.tobytes())
    return path


def make_corrupt(path: Path) -> Path:
    """Write a file whose magic bytes say mp4 but whose boxes are garbage."""
    ftyp = b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2"
    garbage = np.random.default_rng(7).integers(0, 256, 64 * 1024, dtype=np.uint8).tobytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(ftyp + b"\x00\x00\x10\x00mdat" + garbage)
    return path


def demo_set(folder: Path) -> dict[str, Path]:
    """Make the demo's media: a logo, an on-brand and an off-brand video, an image, a corrupt."""
    folder.mkdir(parents=True, exist_ok=True)
    logo = make_logo(folder / "logo.png")
    return {
        "logo": logo,
        "on_brand_vertical": make_video(
            folder / "on_brand_vertical.mp4",
            width=540,
            height=960,
            seconds=6,
            background=BRAND_COLOURS,
            logo=logo,
            logo_pos=(0.08, 0.16),
            logo_scale=0.15,
            text="SUMMER SALE",
        ),
        "off_brand_landscape": make_video(
            folder / "off_brand_landscape.mp4",
            width=960,
            height=540,
            seconds=6,
            background=OFF_BRAND_COLOURS,
            logo=None,
        ),
        "image": make_image(
            folder / "image.jpg",
            width=1080,
            height=1080,
            background=BRAND_COLOURS,
            logo=logo,
            logo_pos=(0.05, 0.05),
            logo_scale=0.15,
        ),
        "corrupt": make_corrupt(folder / "corrupt.mp4"),
    }
