"""Untrusted media: type from magic bytes, probe and sampling under hard limits."""

from __future__ import annotations

import struct
import subprocess
import zlib
from pathlib import Path

import numpy as np
import pytest

from processors.errors import MediaError, MediaLimitExceeded, UnsupportedMedia
from processors.media import ffmpeg_exe, image_size, probe, sample_frames, sniff
from processors.media.limits import LimitSettings
from processors.synthetic.samples import cut_times, hex_to_bgr, make_corrupt, make_image, make_video
from schemas.events import MediaInfo

LIMITS = LimitSettings()


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Generate each kind of media once for the module."""
    d = tmp_path_factory.mktemp("media")
    clip = make_video(d / "clip.mp4", width=320, height=240, seconds=3, cuts=2)
    out = {"mp4": clip, "corrupt": make_corrupt(d / "corrupt.mp4")}
    out["jpg"] = make_image(d / "i.jpg", width=400, height=300, fmt="jpg")
    out["png"] = make_image(d / "i.png", width=300, height=400, fmt="png")
    for name, codec in [("mov", "-c copy -f mov"), ("webm", "-c:v libvpx-vp9 -an -f webm")]:
        out[name] = _convert(clip, d / f"clip.{name}", codec)
    out["webp"] = _convert(out["jpg"], d / "i.webp", "-f webp")
    return out


def _convert(src: Path, dst: Path, codec: str) -> Path:
    args = ["-loglevel", "error", "-y", "-i", str(src), *codec.split()]
    if "vp9" in codec:
        args += ["-deadline", "realtime", "-cpu-used", "8"]
    subprocess.run([ffmpeg_exe(), *args, str(dst)], check=True)
    return dst


def _png_header(width: int, height: int) -> bytes:
    """A PNG whose IHDR declares `width`x`height` (a decompression bomb's calling card)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = b"IHDR" + ihdr
    idat = b"IDAT" + zlib.compress(b"\0" * 4096)
    return (
        b"\x89PNG\r\n\x1a\n"
        + struct.pack(">I", len(ihdr))
        + chunk
        + struct.pack(">I", zlib.crc32(chunk))
        + struct.pack(">I", len(idat) - 4)
        + idat
        + struct.pack(">I", zlib.crc32(idat))
    )


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("mp4", ("video/mp4", "video")),
        ("mov", ("video/quicktime", "video")),
        ("webm", ("video/webm", "video")),
        ("jpg", ("image/jpeg", "image")),
        ("png", ("image/png", "image")),
        ("webp", ("image/webp", "image")),
        ("corrupt", ("video/mp4", "video")),
    ],
)
def test_sniff_supported(media: dict[str, Path], name: str, expected: tuple[str, str]) -> None:
    assert sniff(media[name]) == expected


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b"#EXTM3U\n#EXT-X-VERSION:3\nhttp://169.254.169.254/latest\n", "HLS playlist"),
        (b"ffconcat version 1.0\nfile '/etc/passwd'\n", "concat script"),
        (b"file '/etc/passwd'\nfile '/etc/shadow'\n", "concat script"),
        (b"<!DOCTYPE html><html><body>hi</body></html>", "HTML page"),
        (b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"/>', "XML document"),
        (b"<svg xmlns='http://www.w3.org/2000/svg'></svg>", "SVG image"),
        (b"GIF89a\x01\x00\x01\x00", "GIF image"),
        (b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00", "HEIF/AVIF"),
        (b"just some words\n", "text file"),
        (bytes(range(256)), "unknown binary"),
        (b"", "empty"),
    ],
)
def test_sniff_refuses_hostile_and_unknown(tmp_path: Path, content: bytes, words: str) -> None:
    path = tmp_path / "upload.mp4"  # the name lies; only the bytes count
    path.write_bytes(content)
    with pytest.raises(UnsupportedMedia, match=words):
        sniff(path)
    with pytest.raises(UnsupportedMedia):
        probe(path, LIMITS)


def test_probe_video(media: dict[str, Path]) -> None:
    info = probe(media["mp4"], LIMITS)
    assert info.model_dump() == {
        "kind": "video",
        "container": "mp4",
        "codec": "h264",
        "width": 320,
        "height": 240,
        "duration_s": 3.0,
        "fps": 30.0,
        "has_audio": True,
        "size_bytes": media["mp4"].stat().st_size,
    }


def test_probe_other_containers(media: dict[str, Path]) -> None:
    mov, webm = probe(media["mov"], LIMITS), probe(media["webm"], LIMITS)
    assert (mov.container, mov.codec, mov.has_audio) == ("mov", "h264", True)
    assert (webm.container, webm.codec, webm.has_audio) == ("webm", "vp9", False)
    assert webm.duration_s == pytest.approx(3.0, abs=0.05)


def test_probe_rotated_video_reports_display_size(media: dict[str, Path], tmp_path: Path) -> None:
    rotated = tmp_path / "rot.mp4"
    subprocess.run(
        [
            ffmpeg_exe(),
            "-loglevel",
            "error",
            "-display_rotation",
            "90",
            "-i",
            str(media["mp4"]),
            "-c",
            "copy",
            str(rotated),
        ],
        check=True,
    )
    info = probe(rotated, LIMITS)
    assert (info.width, info.height) == (240, 320)
    frames = sample_frames(rotated, info, 3, LIMITS, width=240)
    assert frames[0].image.shape == (320, 240, 3)


@pytest.mark.parametrize(
    ("name", "dims", "codec"),
    [("jpg", (400, 300), "mjpeg"), ("png", (300, 400), "png"), ("webp", (400, 300), "webp")],
)
def test_probe_images(media: dict[str, Path], name: str, dims: tuple[int, int], codec: str) -> None:
    info = probe(media[name], LIMITS)
    assert (info.kind, info.width, info.height, info.codec) == ("image", *dims, codec)
    assert (info.duration_s, info.fps, info.has_audio) == (None, None, False)
    assert image_size(media[name], sniff(media[name])[0]) == dims


def test_limits_refuse_long_big_and_many_pixels(media: dict[str, Path]) -> None:
    with pytest.raises(MediaLimitExceeded, match=r"video is 3 s long; the limit is 2 s"):
        probe(media["mp4"], LimitSettings(max_duration_s=2))
    with pytest.raises(MediaLimitExceeded, match=r"file is [\d,]+ bytes; the limit is 1,000 bytes"):
        probe(media["mp4"], LimitSettings(max_upload_bytes=1000))
    with pytest.raises(MediaLimitExceeded, match=r"320x240 .* the limit is 0.05 MP"):
        probe(media["mp4"], LimitSettings(max_pixels=50_000))


def test_decompression_bomb_png_is_refused_before_decoding(tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(_png_header(30000, 30000))
    with pytest.raises(MediaLimitExceeded, match=r"30000x30000 \(900.00 MP\)"):
        probe(bomb, LIMITS)


@pytest.mark.parametrize(
    "head", [b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR", b"\xff\xd8\xff\xe0\0\x01", b"RIFF\0\0\0\0WEBPVP8X"]
)
def test_truncated_image_headers_give_media_errors(tmp_path: Path, head: bytes) -> None:
    path = tmp_path / "truncated"
    path.write_bytes(head)
    assert image_size(path, sniff(path)[0]) is None
    with pytest.raises(MediaError, match="could not be decoded"):
        probe(path, LIMITS)


def test_decoder_enforces_pixel_limit_even_if_metadata_lies(media: dict[str, Path]) -> None:
    liar = MediaInfo(kind="video", container="mp4", width=160, height=120, size_bytes=1)
    with pytest.raises(MediaLimitExceeded, match="larger than the limit"):
        sample_frames(media["mp4"], liar, 2, LimitSettings(max_pixels=50_000))


def test_corrupt_mp4_gives_a_readable_error(media: dict[str, Path]) -> None:
    with pytest.raises(MediaError) as caught:
        probe(media["corrupt"], LIMITS)
    message = str(caught.value)
    assert message == "the media could not be decoded (moov atom not found)"
    assert "Traceback" not in message and str(media["corrupt"]) not in message


def test_wall_clock_and_memory_limits(media: dict[str, Path]) -> None:
    with pytest.raises(MediaLimitExceeded, match="longer than 0.001 s"):
        probe(media["mp4"], LimitSettings(decode_timeout_s=0.001))
    with pytest.raises(MediaLimitExceeded, match="64 MB memory limit"):
        probe(media["mp4"], LimitSettings(decoder_memory_mb=64))


def test_decoder_child_gets_no_environment(
    media: dict[str, Path], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    report = tmp_path / "report.log"
    monkeypatch.setenv("FFREPORT", f"file={report}:level=32")
    monkeypatch.setenv("REELSCOPE_GEMINI__API_KEY", "secret-value")
    probe(media["mp4"], LIMITS)
    sample_frames(media["mp4"], probe(media["mp4"], LIMITS), 2, LIMITS)
    assert not report.exists()  # the scrubbed child never saw FFREPORT
    # control: an ffmpeg that inherits the environment does write the report
    cmd = [ffmpeg_exe(), "-nostdin", "-f", "lavfi", "-i", "nullsrc=d=0.1", "-f", "null", "-"]
    subprocess.run(cmd, check=True, capture_output=True)
    assert report.exists()


def test_sample_frames_video_keyframes(media: dict[str, Path]) -> None:
    info = probe(media["mp4"], LIMITS)
    frames = sample_frames(media["mp4"], info, 8, LIMITS)
    times = [f.t_s for f in frames]
    # keyframes: the first frame and the two scene cuts (x264 starts a GOP at each)
    assert times == pytest.approx([0.0, *cut_times(3, 2)], abs=0.1)
    assert all(f.image.shape == (384, 512, 3) and f.image.dtype == np.uint8 for f in frames)
    colours = [hex_to_bgr(c) for c in ("#E4002B", "#FFFFFF", "#E4002B")]
    for frame, colour in zip(frames, colours, strict=True):
        assert np.abs(frame.image[190, 10].astype(int) - colour).max() < 12


def test_sample_frames_falls_back_to_exact_decode(tmp_path: Path) -> None:
    clip = make_video(tmp_path / "one_gop.mp4", width=320, height=240, seconds=3, cuts=0)
    info = probe(clip, LIMITS)
    frames = sample_frames(clip, info, 6, LIMITS, width=256)
    assert len(frames) == 6
    assert [f.t_s for f in frames] == pytest.approx([0, 0.5, 1.0, 1.5, 2.0, 2.5], abs=0.1)
    assert frames[0].image.shape == (192, 256, 3)


def test_sample_frames_image(media: dict[str, Path]) -> None:
    info = probe(media["png"], LIMITS)
    frames = sample_frames(media["png"], info, 8, LIMITS)
    assert len(frames) == 1 and frames[0].t_s == 0.0
    assert frames[0].image.shape == (682, 512, 3)
    assert np.abs(frames[0].image[10, 10].astype(int) - hex_to_bgr("#E4002B")).max() < 12


def test_each_motion_run_decodes_its_few_frames_not_the_rest_of_the_file(tmp_path: Path) -> None:
    """A run is `-ss t` plus a read length; the duration cap's own `-t` came after it and won,
    so each run decoded to the end of the file (a 30 s 1080p sample took 6.7 s, now 1.0 s)."""
    from processors.analyzers.scenes import MOTION_FRAMES, MOTION_RUNS, parse_timeline, taps_for
    from processors.media import probe
    from processors.media.frames import sample
    from tests.helpers import encode

    clip = encode(tmp_path / "twenty.mp4", "-t", "20", "-c:v", "libx264", "-g", "20")
    info = probe(clip, LimitSettings())
    sampled = sample(clip, info, 4, LimitSettings(), width=64, taps=taps_for(info))
    chains = parse_timeline(sampled.log).chains
    runs = [frames for chain, frames in sorted(chains.items())][1:]
    assert len(runs) == MOTION_RUNS
    assert all(1 <= len(frames) <= MOTION_FRAMES + 1 for frames in runs), [len(r) for r in runs]
