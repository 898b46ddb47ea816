"""Brand checks of one asset: palette, logo, quality, platform fit, required text; a verdict.

`check_media` is what the stream worker calls in a process pool (module-level, picklable
arguments): it probes and samples the media itself and always returns a complete `BrandCheck`,
with `status="failed"` and a readable `error` for media it cannot read. `check_frames` runs the
same checks on frames already in memory, for tests and benchmarks.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np
import numpy.typing as npt

from processors.analyzers.base import source_ref
from processors.brand import logo_check, palette, quality
from processors.brand.ai_labels import with_ai_label
from processors.brand.logo import LogoDetector
from processors.brand.platforms import fit
from processors.brand.templates import LogoDecodeError, LogoTemplate, cached_logo, prepare_logo
from processors.brand.text import TextResult, check_text
from processors.brand.verdict import (
    DEFAULT_THRESHOLDS,
    decide,
    platforms_score,
    weighted_score,
)
from processors.dedupe import fingerprint
from processors.errors import MediaError
from processors.media import probe, sample_frames, sniff
from processors.media.limits import LimitSettings
from processors.provenance import ProvenanceSettings, cross_check, read_provenance
from processors.provenance.judge import PENALTY
from schemas.events import (
    BrandCheck,
    LogoCheck,
    MediaGenerated,
    MediaInfo,
    MediaUploaded,
    PaletteCheck,
    PlatformFit,
    QualityCheck,
    TextCheck,
    Violation,
)
from schemas.fields import Platform, Verdict
from schemas.profiles import BrandProfile
from schemas.provenance import Provenance

CHECKS_VERSION = "brand-checks/1"
ANALYSIS_WIDTH = 512  # every check sees frames this wide

Image = npt.NDArray[np.uint8]


class FrameLike(Protocol):
    """A sampled frame: its time and a BGR image (`processors.media.Frame` is one)."""

    @property
    def t_s(self) -> float: ...

    @property
    def image(self) -> Image: ...


@dataclass(frozen=True)
class BrandParts:
    """Everything a `BrandCheck` reports about the frames, without the envelope."""

    palette: PaletteCheck
    logo: LogoCheck
    quality: QualityCheck
    platforms: dict[str, PlatformFit]
    violations: list[Violation]
    score: float | None
    verdict: Verdict | None
    scores: dict[str, float] = field(default_factory=dict)
    text: TextResult | None = None  # None: no required text, OCR skipped


def check_frames(
    frames: Sequence[FrameLike],
    info: MediaInfo,
    profile: BrandProfile | None,
    logos: Sequence[npt.NDArray[np.generic] | LogoTemplate],
    platforms: Sequence[Platform],
    logo_error: str | None = None,
    provenance: tuple[Provenance, list[Violation]] | None = None,
) -> BrandParts:
    """Run every check on sampled frames (any width; they are brought to 512 px).

    `provenance` is what the file says of its making and the cross-checks it failed, when it
    was read (`processors.provenance`): they count in the verdict, and the platform fits say
    which AI label each platform needs."""
    if not frames:
        msg = "no frames to check"
        raise ValueError(msg)
    images = [(f.t_s, _analysis_size(f.image)) for f in frames]
    scores: dict[str, float] = {}
    violations: list[Violation] = []
    pal = _palette(images, profile, scores, violations)
    logo, sightings, logo_failed = _logo(images, profile, logos, logo_error, scores, violations)
    qual, qual_violations, scores["quality"] = quality.summarise(
        [quality.measure_frame(img, t) for t, img in images]
    )
    violations += qual_violations
    text = _text(images, profile, scores, violations)
    ai_generated = _provenance(provenance, scores, violations)
    fits: dict[str, PlatformFit] = {}
    for name in platforms:
        fitted, found = fit(name, info, sightings, text.boxes if text else ())
        fits[name] = with_ai_label(fitted, name, info.kind, ai_generated)
        violations += found
    if (platform_score := platforms_score(fits)) is not None:
        scores["platforms"] = platform_score
    weights = profile.weights if profile else {}
    score = weighted_score(scores, weights)
    thresholds = profile.thresholds if profile else DEFAULT_THRESHOLDS
    verdict = decide(score, thresholds, violations, failed_checks=int(logo_failed))
    return BrandParts(
        pal,
        logo,
        qual,
        fits,
        violations,
        None if score is None else round(score, 4),
        verdict,
        scores,
        text,
    )


def _provenance(
    provenance: tuple[Provenance, list[Violation]] | None,
    scores: dict[str, float],
    violations: list[Violation],
) -> bool | None:
    """Score the provenance cross-checks (1 less `PENALTY` per violation) when there was
    anything to judge; whether the asset is AI-generated (null: unknown)."""
    if provenance is None:
        return None
    facts, found = provenance
    if found or facts.evidence or facts.c2pa is not None:
        scores["provenance"] = max(0.0, 1.0 - PENALTY * len(found))
    violations += found
    return facts.ai_generated


def _analysis_size(image: Image) -> Image:
    h, w = image.shape[:2]
    if w == ANALYSIS_WIDTH:
        return image
    size = (ANALYSIS_WIDTH, max(2, round(h * ANALYSIS_WIDTH / w)))
    flags = cv2.INTER_AREA if w > ANALYSIS_WIDTH else cv2.INTER_LINEAR
    return np.asarray(cv2.resize(image, size, interpolation=flags), np.uint8)


def _palette(
    images: list[tuple[float, Image]],
    profile: BrandProfile | None,
    scores: dict[str, float],
    violations: list[Violation],
) -> PaletteCheck:
    if profile is None:
        return PaletteCheck(status="skipped", reason="no brand profile for this asset")
    if not profile.palette:
        return PaletteCheck(status="skipped", reason="the brand profile has no palette")
    lut = palette.palette_lut(tuple(c.hex.upper() for c in profile.palette))
    measured = [palette.measure_frame(img, t, lut, profile.tolerance_de) for t, img in images]
    check, found, scores["palette"] = palette.summarise(measured, lut, profile.tolerance_de)
    violations += found
    return check


def _text(
    images: list[tuple[float, Image]],
    profile: BrandProfile | None,
    scores: dict[str, float],
    violations: list[Violation],
) -> TextResult | None:
    """The required-text check; OCR runs only when the profile requires some text."""
    if profile is None or not profile.required_text:
        return None
    result, found, scores["text"] = check_text(images, profile.required_text)
    violations += found
    return result


def _logo(
    images: list[tuple[float, Image]],
    profile: BrandProfile | None,
    logos: Sequence[npt.NDArray[np.generic] | LogoTemplate],
    logo_error: str | None,
    scores: dict[str, float],
    violations: list[Violation],
) -> tuple[LogoCheck, list[tuple[float, tuple[float, float, float, float]]], bool]:
    if profile is None:
        return LogoCheck(status="skipped", reason="no brand profile for this asset"), [], False
    if logo_error is not None:
        return LogoCheck(status="failed", reason=logo_error), [], True
    if not logos and profile.logos:
        reason = f"the brand profile lists {len(profile.logos)} logo(s) but none was loaded"
        return LogoCheck(status="failed", reason=reason), [], True
    if not logos:
        return LogoCheck(status="skipped", reason="the brand profile has no logo"), [], False
    try:
        templates = [lg if isinstance(lg, LogoTemplate) else prepare_logo(lg) for lg in logos]
    except LogoDecodeError as e:
        return LogoCheck(status="failed", reason=str(e)), [], True
    detector = LogoDetector(templates)
    sightings = [(t, detector.detect(img)) for t, img in images]
    check, found, scores["logo"] = logo_check.summarise(
        sightings, profile.logo_zones, profile.min_logo_area_pct
    )
    crowded = logo_check.clear_space_violation(dict(images), sightings, profile.clear_space_pct)
    if crowded is not None:
        found.append(crowded)
        scores["logo"] = max(0.0, scores["logo"] - logo_check.PENALTY)
    violations += found
    return check, [(t, hit.bbox) for t, hit in sightings if hit is not None], False


def decode_logos(logos: Sequence[bytes]) -> tuple[list[LogoTemplate], str | None]:
    """Decode the profile's logo files; the error names the first one that is not an image."""
    out: list[LogoTemplate] = []
    for i, data in enumerate(logos):
        try:
            out.append(cached_logo(data))
        except LogoDecodeError as e:
            return [], f"logo {i + 1} of {len(logos)}: {e}"
    return out, None


def check_media(
    path: Path,
    event: MediaUploaded | MediaGenerated,
    profile: BrandProfile | None,
    logos: list[bytes],
    limits: LimitSettings,
    frames: int = 8,
    producer: str = "reelscope-worker",
    *,
    sampled: tuple[MediaInfo | None, Sequence[FrameLike] | MediaError] | None = None,
    provenance: ProvenanceSettings | None = None,
    fingerprints: bool = False,
) -> BrandCheck:
    """Probe, sample and check one asset; never raises for media it cannot read.

    `sampled` is the probe and the frames (`ANALYSIS_WIDTH` wide) when a caller already made
    them (one decode shared with the analyzer), or the `MediaError` that stopped it. With
    `provenance` the file's provenance is read and cross-checked; with `fingerprints` the
    frames' perceptual hashes are reported for the near-duplicate index."""
    cv2.setNumThreads(1)  # one process per core does better than threads inside OpenCV
    started = time.perf_counter()
    base = {
        "media_id": event.media_id,
        "producer": producer,
        "source": source_ref(event),
        "checks_version": CHECKS_VERSION,
        "brand_version": profile.version if profile else None,
    }
    info: MediaInfo | None = None
    try:
        if sampled is None:
            sniff(path)
            info = probe(path, limits)
            sampled = info, sample_frames(path, info, frames, limits, width=ANALYSIS_WIDTH)
        info, images = sampled
        if isinstance(images, MediaError):
            raise images
        if info is None:
            msg = "the media was not probed"
            raise MediaError(msg)
    except MediaError as e:
        elapsed = (time.perf_counter() - started) * 1000
        return BrandCheck(
            **base, status="failed", error=str(e), media=info, processing_ms=round(elapsed, 1)
        )
    templates, logo_error = decode_logos(logos)
    platforms = list(event.platforms or (profile.platforms if profile else []))
    facts = read_provenance(path, event, provenance) if provenance is not None else None
    judged = (facts, cross_check(facts, event, profile)) if facts is not None else None
    parts = check_frames(images, info, profile, templates, platforms, logo_error, judged)
    duration = info.duration_s if info.kind == "video" else None
    elapsed = (time.perf_counter() - started) * 1000
    return BrandCheck(
        **base,
        status="done",
        verdict=parts.verdict,
        score=parts.score,
        media=info,
        frames_sampled=len(images),
        palette=parts.palette,
        logo=parts.logo,
        platforms=parts.platforms,
        quality=parts.quality,
        text=_text_check(parts.text),
        violations=parts.violations,
        processing_ms=round(elapsed, 1),
        provenance=facts,
        fingerprint=fingerprint(images, duration) if fingerprints else None,
    )


def _text_check(result: TextResult | None) -> TextCheck | None:
    if result is None:
        return None
    return TextCheck(
        status="ok",
        required=result.required,
        missing=result.missing,
        read=result.read,
        coverage=round(result.coverage, 4),
    )
