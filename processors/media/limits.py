"""Hard limits on untrusted media, and the checks that refuse what lies beyond them."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field

from processors import DEFAULT_MAX_PIXELS
from processors.errors import MediaLimitExceeded


class LimitSettings(BaseModel):
    """Hard limits on untrusted media; anything beyond them is refused, not attempted."""

    max_upload_bytes: int = Field(default=512 * 1024 * 1024, ge=1)
    max_duration_s: float = Field(default=15 * 60, gt=0)
    # OpenCV's own cap is set from REELSCOPE_LIMITS__MAX_PIXELS at import (processors/__init__)
    max_pixels: int = Field(default=DEFAULT_MAX_PIXELS, gt=0)
    decode_timeout_s: float = Field(default=120, gt=0)
    decoder_memory_mb: int = Field(default=2048, ge=64)


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
