"""The brand profile contract: what a brand manager writes, and the stored, versioned profile
published on `reelscope.brands.v1` (the checks in `processors.brand` read it)."""

from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime, Field, model_validator

from schemas.fields import (
    FEW_MAX,
    BrandId,
    HexColour,
    MapKey,
    Model,
    NonNegative,
    ObjectKey,
    Platforms,
    Positive,
    Ratio,
    ShortText,
    utcnow,
)
from schemas.provenance import ProvenanceCode, Severity

LogoZone = Literal[
    "top_left", "top_right", "bottom_left", "bottom_right", "top", "bottom", "center", "any"
]


class BrandColour(Model):
    hex: HexColour
    role: Literal["primary", "secondary", "accent"] | None = None


class Thresholds(Model):
    """Score at or above `pass_at` passes, at or above `warn_at` warns, else fails."""

    pass_at: Ratio = 0.8
    warn_at: Ratio = 0.6


Outcome = Literal["pass", "warn", "fail", "failed"]  # a verdict, or a media that failed


class ReviewPolicy(Model):
    """Which machine outcomes the gate decides alone; every other waits (`pending`) for a person."""

    auto_approve: list[Outcome] = Field(
        default_factory=lambda: list[Outcome](["pass"]), max_length=FEW_MAX
    )
    auto_reject: list[Outcome] = Field(default_factory=list, max_length=FEW_MAX)

    @model_validator(mode="after")
    def _one_rule_per_outcome(self) -> ReviewPolicy:
        both = sorted(set(self.auto_approve) & set(self.auto_reject))
        if both:
            msg = f"{', '.join(both)} cannot be both auto-approved and auto-rejected: pick one"
            raise ValueError(msg)
        return self


class BrandRules(Model):
    """What a brand manager writes: the body of `PUT /v1/brands/{brand_id}`."""

    name: ShortText = Field(min_length=1)
    palette: list[BrandColour] = Field(default_factory=list, max_length=64)
    tolerance_de: float = Field(default=12.0, gt=0, le=100)
    min_logo_area_pct: float = Field(default=1.0, ge=0, le=100)
    logo_zones: list[LogoZone] = Field(
        default_factory=lambda: list[LogoZone](["any"]), max_length=FEW_MAX
    )
    clear_space_pct: float = Field(default=0.0, ge=0, le=200)
    required_text: list[ShortText] = Field(default_factory=list, max_length=32)
    platforms: Platforms = Field(default_factory=list)
    weights: dict[MapKey, NonNegative] = Field(default_factory=dict, max_length=FEW_MAX)
    thresholds: Thresholds = Field(default_factory=Thresholds)
    provenance_severity: dict[ProvenanceCode, Severity] = Field(
        default_factory=dict,
        max_length=FEW_MAX,
        description="severity of each provenance cross-check ('off' leaves it out)",
    )
    review: ReviewPolicy = Field(default_factory=ReviewPolicy)


class BrandProfile(BrandRules):
    """A stored, versioned profile as it travels on `reelscope.brands.v1`."""

    schema_id: Literal["reelscope.brand.profile/1"] = Field(
        default="reelscope.brand.profile/1", alias="schema"
    )
    brand_id: BrandId
    version: Positive  # lands in the int32 `brand_version` column of brand checks
    logos: list[ObjectKey] = Field(default_factory=list, max_length=16)
    updated_at: AwareDatetime = Field(default_factory=utcnow)

    def to_bytes(self) -> bytes:
        return self.model_dump_json(by_alias=True).encode()
