"""Frames sampled evenly over a media, decoded in one limited ffmpeg child."""

from __future__ import annotations

import re
from dataclasses import dataclass
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


@dataclass(frozen=True)
class Taps:
    """Filters that watch the sampling decode and log to stderr: `video` sees every decoded
    frame (the keyframes, or all frames when there are too few), `audio` the audio stream, and
    `video` again each short run of consecutive frames that starts at the keyframe before each
    of the `runs` times (the same file opened once more per run, in the same child)."""

    video: str | None = None
    audio: str | None = None
    runs: tuple[float, ...] = ()
    run_s: float = 0.15

    @property
    def any(self) -> bool:
        return self.video is not None or self.audio is not None


@dataclass(frozen=True)
class Sampled:
    frames: list[Frame]
    log: str  # what the taps logged ("" without taps)
    keyframes_only: bool  # the taps saw the keyframes only (else every frame)


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
    taps: Taps,
) -> tuple[list[Frame], str]:
    """Decode up to `count` frames spread over the media, scaled to `width`, in one child; the
    `taps` see every decoded frame (and the audio) and log to stderr, which is returned."""
    w, h = frame_size(info, width)
    interval = (info.duration_s or 0.0) / max(1, count)
    select = f"select='isnan(prev_selected_t)+gte(t-prev_selected_t\\,{interval:.4f})'"
    sampled = f"{select},showinfo,scale={w}:{h}:flags=area"
    args = ["-skip_frame", "nokey"] if keyframes else []
    args += input_args(path, ctype, limits)
    runs = taps.runs if keyframes and taps.video else ()
    for t in runs:  # cheap: each run starts at a keyframe (no accurate seek)
        args += ["-skip_loop_filter", "all", "-noaccurate_seek", "-ss", f"{t:.6f}"]
        args += input_args(path, ctype, limits, seconds=taps.run_s, reopen=True)
    args += "-an -sn -dn -filter_threads 1 -fps_mode passthrough".split()
    if not taps.any:
        args += ["-map", "0:v:0", "-vf", sampled]
        outputs = ["-frames:v", str(count), *"-f rawvideo -pix_fmt bgr24 pipe:1".split()]
    else:
        # the taps go to a null output of their own: the sampled output stops after `count`
        # frames, and the taps must see the whole media
        graph = [f"[0:v:0]split=2[v][t];[v]{sampled}[s]", f"[t]{taps.video or 'null'}[k]"]
        taps_out = ["-map", "[k]"]
        if taps.audio is not None:
            graph.append(f"[0:a:0]{taps.audio}[a]")
            taps_out += ["-map", "[a]"]
        for i in range(1, len(runs) + 1):
            graph.append(f"[{i}:v:0]{taps.video}[r{i}]")
            taps_out += ["-map", f"[r{i}]"]
        args += ["-filter_complex", ";".join(graph)]
        outputs = ["-map", "[s]", "-frames:v", str(count)]
        outputs += [*"-f rawvideo -pix_fmt bgr24 pipe:1".split(), *taps_out, "-f", "null", "-"]
    out, err = run_limited([*args, *outputs], limits)
    _, start = parse_duration(input_section(err))
    times = [float(m.group(1)) for m in map(_SHOWINFO.match, err.splitlines()) if m]
    n = len(out) // (w * h * 3)
    if n == 0 or len(times) < n:
        return [], err
    pixels = np.frombuffer(out, np.uint8, count=n * w * h * 3).reshape(n, h, w, 3)
    return [Frame(max(0.0, times[i] - start), pixels[i].copy()) for i in range(n)], err


def sample_frames(
    path: Path, info: MediaInfo, count: int, limits: LimitSettings, width: int = 512
) -> list[Frame]:
    """Return up to `count` frames in time order: keyframes first, exact decode if too few."""
    return sample(path, info, count, limits, width).frames


def sample(
    path: Path,
    info: MediaInfo,
    count: int,
    limits: LimitSettings,
    width: int = 512,
    taps: Taps | None = None,
) -> Sampled:
    """Sample frames as `sample_frames` does; `taps` measure the same decode on the side."""
    taps = taps or Taps()
    ctype, kind = sniff(path)
    check_size(path, limits)
    check_pixels(info.width, info.height, limits)
    keyframes = kind == "video"
    if kind == "image":
        frames, log = _decode(path, ctype, info, 1, limits, width, False, Taps())
    else:
        frames, log = _decode(path, ctype, info, count, limits, width, True, taps)
        if len(frames) < min(count, 3):
            frames, log = _decode(path, ctype, info, count, limits, width, False, taps)
            keyframes = False
    if not frames:
        msg = "the media could not be decoded (no frame came out)"
        raise MediaError(msg)
    return Sampled(frames, log if taps.any else "", keyframes)
