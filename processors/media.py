"""Untrusted media, handled safely: type from magic bytes, probe and decode in limited children.

Every parse of untrusted bytes runs in an `ffmpeg` child process that reads local files only
(`-protocol_whitelist file,pipe`), with a demuxer chosen from the sniffed type (never HLS, concat
or image2 globbing), an empty environment, and hard limits on memory, CPU time, file writes and
wall time. The limits are set by a `/bin/sh` `ulimit` wrapper rather than `preexec_fn`, which is
unsafe in threaded callers such as an event loop with executors.
"""

from __future__ import annotations

import functools
import math
import re
import shutil
import signal
import struct
import subprocess
from pathlib import Path
from typing import BinaryIO, NamedTuple

import numpy as np
import numpy.typing as npt

from processors.config import LimitSettings
from processors.errors import MediaError, MediaLimitExceeded, UnsupportedMedia
from schemas.events import MediaInfo, MediaKind

__all__ = [
    "DEMUXERS",
    "Frame",
    "ffmpeg_exe",
    "frame_size",
    "image_size",
    "input_args",
    "probe",
    "run_limited",
    "sample_frames",
    "sniff",
]

DEMUXERS = {
    "video/mp4": ("mov", "mp4"),
    "video/quicktime": ("mov", "mov"),
    "video/webm": ("matroska", "webm"),
    "video/x-matroska": ("matroska", "matroska"),
    "image/jpeg": ("jpeg_pipe", "jpeg"),
    "image/png": ("png_pipe", "png"),
    "image/webp": ("webp_pipe", "webp"),
}
_HEIF_BRANDS = {b"heic", b"heix", b"mif1", b"msf1", b"avif", b"avis", b"hevc"}
_SOF_MARKERS = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}
_LIMITED = 'ulimit -v "$1" && ulimit -t "$2" && ulimit -f 0 && ulimit -c 0 && shift 2 && exec "$@"'
_DURATION = re.compile(
    r"^\s+Duration: (?:(\d+):(\d\d):(\d\d(?:\.\d+)?)|N/A)(?:, start: (-?[\d.]+))?"
)
_STREAM = re.compile(r"^\s+Stream #0:\d+\S*: (Video|Audio): (\w+)(.*)$")
_DIMS = re.compile(r", (\d{1,6})x(\d{1,6})(?:[ ,]|$)")
_FPS = re.compile(r", ([\d.]+)(k?) (?:fps|tbr)")
_COMPLAINT = re.compile(r"^\[([^\] @]+)[^\]]*\] (.+)$")
_ROTATION = re.compile(r"^\s+Display ?Matrix: rotation of (-?[\d.]+) degrees\s*$", re.IGNORECASE)
_SHOWINFO = re.compile(
    r"^\[Parsed_showinfo_\d+ @ 0x[0-9a-f]+\] n:\s*\d+ pts:\s*-?\d+ pts_time:(\S+)"
)


class Frame(NamedTuple):
    t_s: float
    image: npt.NDArray[np.uint8]


@functools.cache
def ffmpeg_exe() -> str:
    """Return the system ffmpeg if on PATH, else the one bundled in imageio-ffmpeg."""
    found = shutil.which("ffmpeg")
    if found:
        return found
    import imageio_ffmpeg

    return str(imageio_ffmpeg.get_ffmpeg_exe())


def sniff(path: Path) -> tuple[str, MediaKind]:
    """Name the content type from the magic bytes; refuse anything we do not decode."""
    with path.open("rb") as f:
        head = f.read(4096)
    found = _sniff_bytes(head)
    if found:
        return found
    msg = _refusal(head)
    raise UnsupportedMedia(msg)


def _sniff_bytes(head: bytes) -> tuple[str, MediaKind] | None:
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in _HEIF_BRANDS:
            return None
        return ("video/quicktime", "video") if brand == b"qt  " else ("video/mp4", "video")
    if head[4:8] in (b"moov", b"mdat", b"wide", b"free") and head[:4] != b"\0\0\0\0":
        return "video/quicktime", "video"
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return ("video/webm", "video") if b"webm" in head[:64] else ("video/x-matroska", "video")
    if head[:3] == b"\xff\xd8\xff":
        return "image/jpeg", "image"
    if head[:8] == b"\x89PNG\r\n\x1a\n":
        return "image/png", "image"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp", "image"
    return None


def _refusal(head: bytes) -> str:
    """Say in words what an unsupported file looks like."""
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    known = {
        b"#extm3u": "an HLS playlist",
        b"ffconcat": "an ffmpeg concat script",
        b"<!doctype html": "an HTML page",
        b"<html": "an HTML page",
        b"<svg": "an SVG image",
        b"<?xml": "an XML document",
        b"gif8": "a GIF image",
        b"%pdf": "a PDF document",
    }
    if not head:
        return "the file is empty"
    if head[4:8] == b"ftyp":
        return "the file is a HEIF/AVIF image, which is not supported"
    what = next((name for sig, name in known.items() if text.startswith(sig)), None)
    if what is None and b"file " in text[:200] and b"\n" in text:
        what = "a playlist or concat script"
    what = what or ("a text file" if _is_text(head) else "of an unknown binary type")
    return f"the file is {what}"


def _is_text(head: bytes) -> bool:
    """Tell text (no control bytes but tab, newlines and form feed) from binary."""
    return not any(b < 9 or 13 < b < 32 or b == 127 for b in head)


def image_size(path: Path, ctype: str) -> tuple[int, int] | None:
    """Read an image's declared size from its header, before any decoder sees it."""
    with path.open("rb") as f:
        head = f.read(64)
        if len(head) < 30:
            return None
        if ctype == "image/png" and head[12:16] == b"IHDR":
            w, h = struct.unpack(">II", head[16:24])
            return int(w), int(h)
        if ctype == "image/webp":
            return _webp_size(head)
        if ctype == "image/jpeg":
            return _jpeg_size(f)
    return None


def _webp_size(head: bytes) -> tuple[int, int] | None:
    chunk = head[12:16]
    if chunk == b"VP8X":
        w = int.from_bytes(head[24:27], "little") + 1
        return w, int.from_bytes(head[27:30], "little") + 1
    if chunk == b"VP8L":
        bits = int.from_bytes(head[21:25], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if chunk == b"VP8 ":
        w, h = struct.unpack("<HH", head[26:30])
        return w & 0x3FFF, h & 0x3FFF
    return None


def _jpeg_size(f: BinaryIO) -> tuple[int, int] | None:
    """Walk JPEG markers to the first start-of-frame (bounded: at most 64 segments)."""
    f.seek(2)
    for _ in range(64):
        marker = f.read(4)
        if len(marker) < 4 or marker[0] != 0xFF:
            return None
        length = int.from_bytes(marker[2:4], "big")
        if length < 2:
            return None
        if marker[1] in _SOF_MARKERS:
            body = f.read(5)
            if len(body) < 5:
                return None
            h, w = struct.unpack(">HH", body[1:5])
            return int(w), int(h)
        f.seek(length - 2, 1)
    return None


def _check_size(path: Path, limits: LimitSettings) -> int:
    size = path.stat().st_size
    if size > limits.max_upload_bytes:
        msg = f"file is {_amount(size)}; the limit is {_amount(limits.max_upload_bytes)}"
        raise MediaLimitExceeded(msg)
    return size


def _amount(size: int) -> str:
    return f"{size / 1e6:.1f} MB" if size >= 1e6 else f"{size:,} bytes"


def _check_pixels(width: int, height: int, limits: LimitSettings) -> None:
    if width * height > limits.max_pixels:
        msg = (
            f"picture is {width}x{height} ({width * height / 1e6:.2f} MP); "
            f"the limit is {limits.max_pixels / 1e6:.2f} MP"
        )
        raise MediaLimitExceeded(msg)


def input_args(path: Path, ctype: str, limits: LimitSettings) -> list[str]:
    """Build the hardened input half of an ffmpeg command line for a sniffed file."""
    return [
        "-hide_banner",
        "-nostdin",
        "-threads",
        "1",
        "-protocol_whitelist",
        "file,pipe",
        "-max_pixels",
        str(limits.max_pixels),
        "-f",
        DEMUXERS[ctype][0],
        "-i",
        f"file:{path.resolve()}",
    ]


def run_limited(args: list[str], limits: LimitSettings) -> tuple[bytes, str]:
    """Run ffmpeg with hard limits and an empty environment; return stdout and stderr.

    Raises `MediaLimitExceeded` when a limit stopped it and `MediaError` when it failed.
    """
    cpu_s = max(1, math.ceil(limits.decode_timeout_s))
    limit_args = [str(limits.decoder_memory_mb * 1024), str(cpu_s)]
    cmd = ["/bin/sh", "-c", _LIMITED, "reelscope-ffmpeg", *limit_args, ffmpeg_exe(), *args]
    proc = subprocess.Popen(  # its own session: a Ctrl-C to the worker is not the decoder's
        cmd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={},
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(timeout=limits.decode_timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        msg = f"decoding took longer than {limits.decode_timeout_s:g} s, the limit"
        raise MediaLimitExceeded(msg) from None
    text = err.decode("utf-8", errors="replace")
    if proc.returncode != 0:
        raise _failure(proc.returncode, text, limits)
    return out, text


def _failure(returncode: int, stderr: str, limits: LimitSettings) -> MediaError:
    """Classify a failed ffmpeg run: a limit it hit, or media it could not read."""
    if returncode in (-signal.SIGKILL, -signal.SIGXCPU):
        msg = f"decoding used more than {math.ceil(limits.decode_timeout_s)} s of CPU, the limit"
        return MediaLimitExceeded(msg)
    crashed = returncode in (-signal.SIGSEGV, -signal.SIGABRT, -signal.SIGBUS)
    if crashed or "Cannot allocate memory" in stderr:
        msg = f"the decoder ran out of its {limits.decoder_memory_mb} MB memory limit or crashed"
        return MediaLimitExceeded(msg)
    if "exceeds specified max pixel count" in stderr:
        msg = f"the picture is larger than the limit of {limits.max_pixels / 1e6:.2f} MP"
        return MediaLimitExceeded(msg)
    return MediaError(_readable_error(stderr))


def _readable_error(stderr: str) -> str:
    """Turn ffmpeg's first complaint about the input into a sentence without paths."""
    for line in stderr.splitlines():
        m = _COMPLAINT.match(line)
        if not m or m.group(1).startswith(("out#", "null", "Parsed_")) or "file:" in line:
            continue
        reason = m.group(2).strip()
        if "unspecified size" in reason:
            reason = "no picture size could be read"
        if reason and not reason.startswith("Error opening input"):
            return f"the media could not be decoded ({reason[:200]})"
    return "the media could not be decoded"


def _input_section(stderr: str) -> list[str]:
    """Keep the lines that describe input #0 (not the output echo that follows)."""
    lines = stderr.splitlines()
    start = next((i for i, ln in enumerate(lines) if ln.startswith("Input #0")), len(lines))
    end = next(
        (i for i in range(start + 1, len(lines)) if not lines[i].startswith(" ")), len(lines)
    )
    return lines[start:end]


def _parse_duration(lines: list[str]) -> tuple[float | None, float]:
    for ln in lines:
        m = _DURATION.match(ln)
        if m:
            start = float(m.group(4)) if m.group(4) else 0.0
            if m.group(1) is None:
                return None, start
            h, mi, s = int(m.group(1)), int(m.group(2)), float(m.group(3))
            return h * 3600 + mi * 60 + s, start
    return None, 0.0


class _Video(NamedTuple):
    codec: str
    width: int
    height: int
    fps: float | None


def _parse_streams(lines: list[str]) -> tuple[_Video | None, bool]:
    """Find the first video stream (display size after rotation) and whether audio exists."""
    video: _Video | None = None
    has_audio, in_video = False, False
    for ln in lines:
        m = _STREAM.match(ln)
        if m:
            in_video = m.group(1) == "Video" and video is None
            has_audio = has_audio or m.group(1) == "Audio"
            dims, fps = _DIMS.search(m.group(3)), _FPS.search(m.group(3))
            if in_video and dims:
                rate = float(fps.group(1)) * (1000 if fps.group(2) else 1) if fps else None
                video = _Video(m.group(2), int(dims.group(1)), int(dims.group(2)), rate)
            continue
        rot = _ROTATION.match(ln)
        if rot and in_video and video is not None and abs(float(rot.group(1))) % 180 == 90:
            video = video._replace(width=video.height, height=video.width)
    return video, has_audio


def probe(path: Path, limits: LimitSettings) -> MediaInfo:
    """Read what the bytes really are, refusing anything beyond `limits`."""
    ctype, kind = sniff(path)
    size = _check_size(path, limits)
    if kind == "image":
        dims = image_size(path, ctype)
        if dims:
            _check_pixels(*dims, limits)
    args = [*input_args(path, ctype, limits), *"-map 0 -c copy -t 0 -f null -".split()]
    _, err = run_limited(args, limits)
    lines = _input_section(err)
    video, has_audio = _parse_streams(lines)
    if video is None:
        msg = f"the {DEMUXERS[ctype][1]} file has no video or picture stream"
        raise MediaError(msg)
    _check_pixels(video.width, video.height, limits)
    duration, _ = _parse_duration(lines)
    if kind == "video" and duration is not None and duration > limits.max_duration_s:
        msg = f"video is {duration:.0f} s long; the limit is {limits.max_duration_s:.0f} s"
        raise MediaLimitExceeded(msg)
    is_video = kind == "video"
    return MediaInfo(
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
    _, start = _parse_duration(_input_section(err))
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
    _check_size(path, limits)
    _check_pixels(info.width, info.height, limits)
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
