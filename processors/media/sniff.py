"""What a file is, from its magic bytes alone (never its name or a client's say-so)."""

from __future__ import annotations

import struct
from pathlib import Path
from typing import BinaryIO

from processors.errors import UnsupportedMedia
from schemas.fields import MediaKind

# sniffed type -> (ffmpeg demuxer, container name)
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
        return header_size(f, ctype)


def header_size(f: BinaryIO, ctype: str) -> tuple[int, int] | None:
    """The (width, height) an image file declares (`ctype` as `sniff` names it), else None."""
    head = f.read(64)
    if ctype == "image/png" and len(head) >= 24 and head[12:16] == b"IHDR":
        w, h = struct.unpack(">II", head[16:24])
        return int(w), int(h)
    if ctype == "image/webp" and len(head) >= 30:
        return _webp_size(head)
    if ctype == "image/jpeg":
        return _jpeg_size(f)
    return None


def sniff_bytes(head: bytes) -> tuple[str, MediaKind] | None:
    """`sniff` for bytes already in memory (a logo): the type, or None if we do not decode it."""
    return _sniff_bytes(head[:4096])


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
