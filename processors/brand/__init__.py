"""Brand checks: palette (CIEDE2000), logo (multi-scale NCC), quality, platform fit, verdict."""

from processors.brand.check import (
    ANALYSIS_WIDTH,
    CHECKS_VERSION,
    BrandParts,
    check_frames,
    check_media,
    decode_logos,
)
from processors.brand.platforms import PLATFORM_SPECS, PLATFORM_SPECS_VERSION

__all__ = [
    "ANALYSIS_WIDTH",
    "CHECKS_VERSION",
    "PLATFORM_SPECS",
    "PLATFORM_SPECS_VERSION",
    "BrandParts",
    "check_frames",
    "check_media",
    "decode_logos",
]
