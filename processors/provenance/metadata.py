"""IPTC/XMP and EXIF facts from a file's container, read without decoding a pixel.

Walks the container's own structure (JPEG segments, PNG chunks, WebP/RIFF chunks, ISO-BMFF
boxes) to the XMP packet and the EXIF block, with every read bounded: at most `max_xmp_bytes`
of XMP are read (a bigger packet is reported, not read), at most `MAX_UNITS` segments, chunks
or boxes are walked. The XMP is searched with patterns, not parsed as XML: an XML parser is
one more parser facing hostile input (entity expansion), and two properties do not need one.
"""

from __future__ import annotations

import re
import struct
import zlib
from dataclasses import dataclass, field
from typing import BinaryIO, Final

from processors.errors import MediaError

MAX_UNITS: Final = 4096
XMP_JPEG: Final = b"http://ns.adobe.com/xap/1.0/\x00"
XMP_PNG: Final = b"XML:com.adobe.xmp\x00"
XMP_UUID: Final = bytes.fromhex("be7acfcb97a942e89c71999491e3afac")
EXIF_MAX: Final = 64 * 1024
_SOURCE_TYPE = re.compile(
    rb"[\w-]+:DigitalSourceType\s*(?:=\s*[\"']([^\"']{1,300})[\"']|(?:\s+rdf:resource\s*=\s*"
    rb"[\"']([^\"']{1,300})[\"'])|>\s*([^<\s]{1,300})\s*<)"
)
_CREATOR_TOOL = re.compile(
    rb"xmp:CreatorTool\s*(?:=\s*[\"']([^\"']{1,200})[\"']|>\s*([^<]{1,200}?)\s*<)"
)
_SOFTWARE_AGENT = re.compile(rb"stEvt:softwareAgent\s*(?:=\s*[\"']([^\"']{1,200})[\"'])")


class MetadataTooLarge(MediaError):
    """An XMP packet over the limit: the rest of the facts still stand."""


@dataclass
class Metadata:
    source_types: list[str] = field(default_factory=list)
    software: list[str] = field(default_factory=list)


def read_metadata(f: BinaryIO, ctype: str, max_xmp_bytes: int) -> Metadata:
    """The DigitalSourceType values and software names the container declares."""
    xmp, exif = _blocks(f, ctype, max_xmp_bytes)
    found = Metadata()
    if xmp:
        found.source_types = _unique(_values(_SOURCE_TYPE, xmp))
        found.software = _unique(_values(_CREATOR_TOOL, xmp) + _values(_SOFTWARE_AGENT, xmp))
    if exif and (software := exif_software(exif)) is not None:
        found.software = _unique([*found.software, software])
    return found


def _values(pattern: re.Pattern[bytes], xmp: bytes) -> list[str]:
    out = []
    for groups in pattern.findall(xmp)[:100]:
        value = next((g for g in groups if g), b"")
        out.append(value.decode("utf-8", "replace").strip())
    return [v for v in out if v]


def _unique(values: list[str]) -> list[str]:
    return list(dict.fromkeys(values))[:100]


def _blocks(f: BinaryIO, ctype: str, limit: int) -> tuple[bytes | None, bytes | None]:
    if ctype == "image/jpeg":
        return _jpeg(f, limit)
    if ctype == "image/png":
        return _png(f, limit)
    if ctype == "image/webp":
        return _riff(f, limit)
    if ctype in ("video/mp4", "video/quicktime"):
        return _bmff(f, limit), None
    return None, None  # Matroska/WebM keeps XMP nowhere standard


def _take(f: BinaryIO, size: int, limit: int) -> bytes:
    if size > limit:
        msg = f"the XMP packet is {size} bytes, over the {limit}-byte limit: it was not read"
        raise MetadataTooLarge(msg)
    return f.read(size)


def _jpeg(f: BinaryIO, limit: int) -> tuple[bytes | None, bytes | None]:
    f.seek(2)
    xmp = exif = None
    for _ in range(MAX_UNITS):
        head = f.read(4)
        if len(head) < 4 or head[0] != 0xFF or head[1] in (0xD9, 0xDA):
            break  # end of image, or start of scan: metadata comes before the pixels
        length = int.from_bytes(head[2:4], "big") - 2
        if length < 0:
            break
        if head[1] != 0xE1:
            f.seek(length, 1)
            continue
        body = f.read(length)
        if body.startswith(XMP_JPEG) and xmp is None:
            xmp = body[len(XMP_JPEG) :]
        elif body.startswith(b"Exif\x00\x00") and exif is None:
            exif = body[6:]
    return xmp, exif


def _png(f: BinaryIO, limit: int) -> tuple[bytes | None, bytes | None]:
    f.seek(8)
    xmp = exif = None
    for _ in range(MAX_UNITS):
        head = f.read(8)
        if len(head) < 8 or head[4:8] == b"IEND":
            break
        length, kind = struct.unpack(">I4s", head)
        if kind == b"iTXt" and xmp is None and length > len(XMP_PNG):
            head = f.read(len(XMP_PNG))
            rest = _take(f, length - len(head), limit) if head == XMP_PNG else None
            xmp = _itxt(rest, limit) if rest is not None else None
            if rest is None:
                f.seek(length - len(head), 1)
        elif kind == b"eXIf" and exif is None and length <= EXIF_MAX:
            exif = f.read(length)
        else:
            f.seek(length, 1)
        f.seek(4, 1)  # CRC
    return xmp, exif


def _itxt(rest: bytes, limit: int) -> bytes | None:
    """The text of an XMP iTXt chunk (after its keyword), inflated to `limit` at most."""
    if len(rest) < 2:
        return None
    compressed, text = rest[0], rest[2:].split(b"\x00", 2)[-1]
    if not compressed:
        return text
    inflater = zlib.decompressobj()
    out = inflater.decompress(text, limit + 1)
    if len(out) > limit:
        msg = f"the compressed XMP packet inflates past the {limit}-byte limit: it was not read"
        raise MetadataTooLarge(msg)
    return out


def _riff(f: BinaryIO, limit: int) -> tuple[bytes | None, bytes | None]:
    f.seek(12)
    xmp = exif = None
    for _ in range(MAX_UNITS):
        head = f.read(8)
        if len(head) < 8:
            break
        kind, length = head[:4], int.from_bytes(head[4:8], "little")
        if kind == b"XMP " and xmp is None:
            xmp = _take(f, length, limit)
        elif kind == b"EXIF" and exif is None and length <= EXIF_MAX:
            exif = f.read(length)
        else:
            f.seek(length, 1)
        f.seek(length & 1, 1)  # chunks are padded to even sizes
    return xmp, exif


def _bmff(f: BinaryIO, limit: int, end: int | None = None, depth: int = 0) -> bytes | None:
    """XMP in a top-level `uuid` box or in `moov/udta/XMP_` (QuickTime's place for it)."""
    for _ in range(MAX_UNITS):
        start = f.tell()
        if end is not None and start + 8 > end:
            return None
        head = f.read(8)
        if len(head) < 8:
            return None
        size, kind = struct.unpack(">I4s", head)
        header = 8
        if size == 1:
            size, header = struct.unpack(">Q", f.read(8))[0], 16
        elif size == 0:
            return None  # runs to the end of the file: mdat, nothing after it
        if size < header:
            return None
        body = size - header
        if kind == b"uuid" and f.read(16) == XMP_UUID:
            return _take(f, body - 16, limit)
        if kind == b"XMP_":
            return _take(f, body, limit)
        if kind in (b"moov", b"udta") and depth < 2:
            f.seek(start + header)
            if (found := _bmff(f, limit, start + size, depth + 1)) is not None:
                return found
        f.seek(start + size)
    return None


def exif_software(tiff: bytes) -> str | None:
    """The Software tag (0x0131) of IFD0 in a TIFF-structured EXIF block."""
    if len(tiff) < 8 or tiff[:2] not in (b"II", b"MM"):
        return None
    order = "<" if tiff[:2] == b"II" else ">"
    (ifd,) = struct.unpack(order + "I", tiff[4:8])
    if ifd + 2 > len(tiff):
        return None
    (count,) = struct.unpack(order + "H", tiff[ifd : ifd + 2])
    for i in range(min(count, 512)):
        entry = tiff[ifd + 2 + 12 * i : ifd + 14 + 12 * i]
        if len(entry) < 12:
            return None
        tag, kind, n, value = struct.unpack(order + "HHII", entry)
        if tag != 0x0131 or kind != 2:
            continue
        raw = entry[8 : 8 + n] if n <= 4 else tiff[value : value + min(n, 256)]
        return raw.split(b"\x00", 1)[0].decode("utf-8", "replace").strip() or None
    return None
