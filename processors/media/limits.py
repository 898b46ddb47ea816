"""Hard limits on untrusted media, and the checks that refuse what lies beyond them."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field

from processors import DEFAULT_MAX_PIXELS
from processors.errors import MediaLimitExceeded

# codecs ffmpeg may decode (its names, as it reports a stream's codec); anything else is refused
# before it is decoded, and ffmpeg is given the matching decoders only (`decoder_whitelist`)
ACCEPTED_CODECS = (
    *("h264", "hevc", "vp8", "vp9", "av1", "mpeg4", "prores", "mjpeg", "png", "webp"),
    *("aac", "mp3", "opus", "vorbis", "flac", "alac", "ac3", "eac3"),
    *("pcm_s16le", "pcm_s24le", "pcm_s32le", "pcm_f32le", "pcm_s16be", "pcm_s24be"),
)
# where ffmpeg's decoder is not named after its codec (native decoders only: no hardware ones)
_DECODERS = {"mp3": ("mp3float", "mp3"), "av1": ("libdav1d", "av1")}


class LimitSettings(BaseModel):
    """Hard limits on untrusted media; anything beyond them is refused, not attempted."""

    max_upload_bytes: int = Field(default=512 * 1024 * 1024, ge=1)
    max_duration_s: float = Field(default=15 * 60, gt=0)
    # OpenCV's own cap is set from REELSCOPE_LIMITS__MAX_PIXELS at import (processors/__init__)
    max_pixels: int = Field(default=DEFAULT_MAX_PIXELS, gt=0)
    decode_timeout_s: float = Field(default=120, gt=0)
    decoder_memory_mb: int = Field(default=2048, ge=64)
    codecs: tuple[str, ...] = Field(
        default=ACCEPTED_CODECS, min_length=1, description="codecs that may be decoded"
    )

    def decoder_whitelist(self) -> str:
        """ffmpeg's `-codec_whitelist`: the decoders of the accepted codecs."""
        return ",".join(d for c in self.codecs for d in _DECODERS.get(c, (c,)))


def check_codecs(codecs: list[str], limits: LimitSettings) -> None:
    refused = sorted({c for c in codecs if c not in limits.codecs})
    if refused:
        msg = (
            f"the codec {' and '.join(refused)} is not one we decode; "
            f"send {', '.join(c for c in limits.codecs if not c.startswith('pcm_'))} or PCM"
        )
        raise MediaLimitExceeded(msg)


def check_size(path: Path, limits: LimitSettings) -> int:
    size = path.stat().st_size
    if size > limits.max_upload_bytes:
        msg = f"file is {_amount(size)}; the limit is {_amount(limits.max_upload_bytes)}"
        raise MediaLimitExceeded(msg)
    return size


def _amount(size: int) -> str:
    return f"{size / 1e6:.1f} MB" if size >= 1e6 else f"{size:,} bytes"


def check_pixels(width: int, height: int, limits: LimitSettings) -> None:
    if width * height > limits.max_pixels:
        msg = (
            f"picture is {width}x{height} ({width * height / 1e6:.2f} MP); "
            f"the limit is {limits.max_pixels / 1e6:.2f} MP"
        )
        raise MediaLimitExceeded(msg)
