"""Frames sampled evenly over a media, decoded in one limited ffmpeg child."""

from __future__ import annotations

import re
from pathlib import Path
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from processors.errors import MediaError
from processors.media.ffmpeg import input_args, run_limited
from processors.media.limits import LimitSettings, check_pixels, check_size
from processors.media.probe import input_section, parse_duration
from processors.media.sniff import sniff
from schemas.events import MediaInfo

_SHOWINFO = re.compile(
    r"^\[Parsed_showinfo_\d+ @ 0x[0-9a-f]+\] n:\s*\d+ pts:\s*-?\d+ pts_time:(\S+)"
)


class Frame(NamedTuple):
    t_s: float
    image: npt.NDArray[np.uint8]


def frame_size(info: MediaInfo, width: int) -> tuple[int, int]:
    """Size of sampled frames: `width` wide, even height, aspect kept."""
    height = max(2, round(info.height * width / info.width / 2) * 2)
    return width, height


def _decode(
    path: Path,
    ctype: str,
    info: MediaInfo,
    count: int,
    limits: LimitSettings,
    width: int,
    keyframes: bool,
) -> list[Frame]:
    """Decode up to `count` frames spread over the media, scaled to `width`, in one child."""
    w, h = frame_size(info, width)
    interval = (info.duration_s or 0.0) / max(1, count)
    select = f"select='isnan(prev_selected_t)+gte(t-prev_selected_t\\,{interval:.4f})'"
    args = ["-skip_frame", "nokey"] if keyframes else []
    args += input_args(path, ctype, limits)
    args += [*"-map 0:v:0 -an -sn -dn -filter_threads 1 -fps_mode passthrough".split(), "-vf"]
    args += [f"{select},showinfo,scale={w}:{h}:flags=area", "-frames:v", str(count)]
    args += "-f rawvideo -pix_fmt bgr24 pipe:1".split()
    out, err = run_limited(args, limits)
    _, start = parse_duration(input_section(err))
    times = [float(m.group(1)) for m in map(_SHOWINFO.match, err.splitlines()) if m]
    n = len(out) // (w * h * 3)
    if n == 0 or len(times) < n:
        return []
    pixels = np.frombuffer(out, np.uint8, count=n * w * h * 3).reshape(n, h, w, 3)
    return [Frame(max(0.0, times[i] - start), pixels[i].copy()) for i in range(n)]


def sample_frames(
    path: Path, info: MediaInfo, count: int, limits: LimitSettings, width: int = 512
) -> list[Frame]:
    """Return up to `count` frames in time order: keyframes first, exact decode if too few."""
    ctype, kind = sniff(path)
    check_size(path, limits)
    check_pixels(info.width, info.height, limits)
    if kind == "image":
        frames = _decode(path, ctype, info, 1, limits, width, keyframes=False)
    else:
        frames = _decode(path, ctype, info, count, limits, width, keyframes=True)
        if len(frames) < min(count, 3):
            frames = _decode(path, ctype, info, count, limits, width, keyframes=False)
    if not frames:
        msg = "the media could not be decoded (no frame came out)"
        raise MediaError(msg)
    return frames
