"""What ffmpeg says a file holds: duration, streams, size, rotation (never decoding it).

A container's duration is a claim: the probe also reads the packets (a copy, no decode) up to
just past the duration cap and takes the longer of the two, so a file that declares no duration
or too short a one is still refused when it runs too long. Codecs outside the accepted list are
refused here, by name, before anything decodes them. The same copy lists the video's packets
(time, size, keyframe: `probe_media`), which locate scene cuts without decoding
(`processors.analyzers.scenes`).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import NamedTuple

from processors.errors import MediaError, MediaLimitExceeded
from processors.media.ffmpeg import input_args, run_limited
from processors.media.limits import LimitSettings, check_codecs, check_pixels, check_size
from processors.media.sniff import DEMUXERS, image_size, sniff
from schemas.events import MediaInfo

_DURATION = re.compile(
    r"^\s+Duration: (?:(\d+):(\d\d):(\d\d(?:\.\d+)?)|N/A)(?:, start: (-?[\d.]+))?"
)
_STREAM = re.compile(r"^\s+Stream #0:(\d+)\S*: (Video|Audio): (\w+)(.*)$")
# what `-dump` prints for each packet read (libavformat's av_pkt_dump_log2)
_PACKET = re.compile(
    r"^stream #(\d+):\n  keyframe=([01])\n  duration=\S+\n  dts=\S+\s+pts=([-\d.]+)\n  size=(\d+)$",
    re.MULTILINE,
)
_DIMS = re.compile(r", (\d{1,6})x(\d{1,6})(?:[ ,]|$)")
_FPS = re.compile(r", ([\d.]+)(k?) (?:fps|tbr)")
_ROTATION = re.compile(r"^\s+Display ?Matrix: rotation of (-?[\d.]+) degrees\s*$", re.IGNORECASE)
_OUT_TIME = re.compile(rb"^out_time_us=(\d+)$", re.MULTILINE)


def input_section(stderr: str) -> list[str]:
    """Keep the lines that describe input #0 (not the output echo that follows)."""
    lines = stderr.splitlines()
    start = next((i for i, ln in enumerate(lines) if ln.startswith("Input #0")), len(lines))
    end = next(
        (i for i in range(start + 1, len(lines)) if not lines[i].startswith(" ")), len(lines)
    )
    return lines[start:end]


def parse_duration(lines: list[str]) -> tuple[float | None, float]:
    for ln in lines:
        m = _DURATION.match(ln)
        if m:
            start = float(m.group(4)) if m.group(4) else 0.0
            if m.group(1) is None:
                return None, start
            h, mi, s = int(m.group(1)), int(m.group(2)), float(m.group(3))
            return h * 3600 + mi * 60 + s, start
    return None, 0.0


class Packet(NamedTuple):
    """One compressed video frame as the container holds it: no pixel is decoded to know it."""

    t_s: float  # presentation time, in the file's time (as ffmpeg's filters report it)
    size: int  # bytes
    key: bool


class Probed(NamedTuple):
    info: MediaInfo
    packets: list[Packet]  # the first video stream's, in presentation order; [] for images


class _Video(NamedTuple):
    stream: int  # its index in the file
    codec: str
    width: int
    height: int
    fps: float | None


def _parse_streams(lines: list[str]) -> tuple[_Video | None, bool, list[str]]:
    """Find the first video stream (display size after rotation), whether audio exists, and
    the codec of every video and audio stream."""
    video: _Video | None = None
    has_audio, in_video = False, False
    codecs: list[str] = []
    for ln in lines:
        m = _STREAM.match(ln)
        if m:
            index, kind, codec, rest = int(m.group(1)), m.group(2), m.group(3), m.group(4)
            codecs.append(codec)
            in_video = kind == "Video" and video is None
            has_audio = has_audio or kind == "Audio"
            dims, fps = _DIMS.search(rest), _FPS.search(rest)
            if in_video and dims:
                rate = float(fps.group(1)) * (1000 if fps.group(2) else 1) if fps else None
                video = _Video(index, codec, int(dims.group(1)), int(dims.group(2)), rate)
            continue
        rot = _ROTATION.match(ln)
        if rot and in_video and video is not None and abs(float(rot.group(1))) % 180 == 90:
            video = video._replace(width=video.height, height=video.width)
    return video, has_audio, codecs


def read_duration(progress: bytes) -> float | None:
    """The time the copy reached, from ffmpeg's `-progress` lines (the last one wins)."""
    times = _OUT_TIME.findall(progress)
    return int(times[-1]) / 1e6 if times else None


def read_packets(stderr: str, stream: int) -> list[Packet]:
    """The packets `-dump` listed for one stream, in presentation order (no time: left out)."""
    found = (m for m in _PACKET.finditer(stderr) if int(m.group(1)) == stream)
    return sorted(Packet(float(m.group(3)), int(m.group(4)), m.group(2) == "1") for m in found)


def probe(path: Path, limits: LimitSettings) -> MediaInfo:
    """Read what the bytes really are, refusing anything beyond `limits`."""
    return probe_media(path, limits).info


def probe_media(path: Path, limits: LimitSettings) -> Probed:
    """`probe`, and the video's packets as the copy read them."""
    ctype, kind = sniff(path)
    size = check_size(path, limits)
    if kind == "image":
        dims = image_size(path, ctype)
        if dims:
            check_pixels(*dims, limits)
    # a video's packets are copied to see how long it runs; an image needs its header only
    copy = "-dump -progress pipe:1" if kind == "video" else "-t 0"
    args = [*input_args(path, ctype, limits), *f"-map 0 -c copy {copy} -f null -".split()]
    progress, err = run_limited(args, limits)
    lines = input_section(err)
    video, has_audio, codecs = _parse_streams(lines)
    if video is None:
        msg = f"the {DEMUXERS[ctype][1]} file has no video or picture stream"
        raise MediaError(msg)
    check_codecs(codecs, limits)
    check_pixels(video.width, video.height, limits)
    declared, _ = parse_duration(lines)
    read = read_duration(progress) if kind == "video" else None
    duration = max((d for d in (declared, read) if d is not None), default=None)
    if kind == "video" and duration is not None and duration > limits.max_duration_s:
        claim = (
            ""
            if declared is not None and declared >= duration - 0.5
            else (
                " (it declares no duration)"
                if declared is None
                else f" (it declares {declared:.1f} s)"
            )
        )
        msg = f"video is {duration:.0f} s long{claim}; the limit is {limits.max_duration_s:.0f} s"
        raise MediaLimitExceeded(msg)
    is_video = kind == "video"
    info = MediaInfo(
        kind=kind,
        container=DEMUXERS[ctype][1],
        codec=video.codec,
        width=video.width,
        height=video.height,
        duration_s=duration if is_video else None,
        fps=video.fps if is_video else None,
        has_audio=has_audio and is_video,
        size_bytes=size,
    )
    return Probed(info, read_packets(err, video.stream) if is_video else [])
