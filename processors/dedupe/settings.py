"""Near-duplicate options: how close counts as the same asset, and how much history is kept."""

from __future__ import annotations

from pydantic import BaseModel, Field


class DedupeSettings(BaseModel):
    enabled: bool = Field(default=True, description="hash uploads and look for earlier ones")
    max_distance: int = Field(
        default=14, ge=0, le=32, description="largest pHash Hamming distance (of 64 bits)"
    )
    max_colour_delta: float = Field(
        default=8.0, ge=0, le=100, description="largest mean CIELAB distance of the 4×4 grid"
    )
    duration_tolerance_s: float = Field(
        default=0.5, ge=0, description="an exact-content video copy lasts as long, within this"
    )
    max_entries: int = Field(
        default=5000, ge=1, le=100_000, description="newest uploads per brand compared with"
    )
    window_days: int = Field(
        default=90, ge=1, le=3660, description="days of a brand's uploads looked back over"
    )
    reuse_analysis: bool = Field(
        default=True, description="an exact-content copy reuses the earlier Gemini analysis"
    )
