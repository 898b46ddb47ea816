"""A brand check and an analysis in plain words, for people: what was measured, what the brand
requires, and whether it held. Templates only lay these out."""

from __future__ import annotations

from dataclasses import dataclass, field

from schemas.events import BrandCheck, ContentAnalysis, MediaAnalysis, Violation
from schemas.profiles import BrandProfile

VERDICT_WORDS = {"pass": "Pass", "warn": "Warning", "fail": "Fail", None: "No verdict"}
DECISION_WORDS = {
    "approved": "Approved",
    "rejected": "Rejected",
    "pending": "Waiting for review",
    None: "Not decided yet",
}


@dataclass(frozen=True)
class CheckLine:
    """One check as a row: its name, outcome (pass, warn, fail, skipped), measured, required."""

    name: str
    outcome: str
    measured: str
    required: str
    notes: list[str] = field(default_factory=list)


def _pct(value: float | None) -> str:
    return "not measured" if value is None else f"{value:.0%}"


def _outcome(violations: list[Violation], prefix: str, status: str | None) -> str:
    mine = [v for v in violations if v.code.startswith(prefix)]
    if any(v.severity == "fail" for v in mine):
        return "fail"
    if mine:
        return "warn"
    return "skipped" if status in ("skipped", "failed", None) else "pass"


def check_lines(check: BrandCheck, profile: BrandProfile | None) -> list[CheckLine]:
    """Every check of `check`, measured against the profile it was made with."""
    v = check.violations
    lines: list[CheckLine] = []
    if check.palette is not None:
        p = check.palette
        tolerance = f"ΔE ≤ {profile.tolerance_de:g}" if profile else "the brand palette"
        colours = ", ".join(c.hex for c in profile.palette) if profile else "not known"
        lines.append(
            CheckLine(
                "Colour palette",
                _outcome(v, "palette.", p.status),
                f"{_pct(p.on_palette_ratio)} of the picture is on the palette"
                + (
                    f"; off-palette colours {', '.join(p.off_palette[:5])}" if p.off_palette else ""
                ),
                f"brand colours {colours}, within {tolerance}",
                [p.reason] if p.reason else [],
            )
        )
    if check.logo is not None:
        lo = check.logo
        if lo.found:
            seen = f"found, {lo.area_pct or 0:.1f}% of the frame"
            seen += ", in an allowed zone" if lo.in_allowed_zone else ", outside the allowed zones"
        else:
            seen = "not found" if lo.found is False else "not checked"
        zones = ", ".join(z.replace("_", " ") for z in profile.logo_zones) if profile else "any"
        size = f"at least {profile.min_logo_area_pct:g}% of the frame" if profile else "visible"
        lines.append(
            CheckLine(
                "Logo",
                _outcome(v, "logo.", lo.status),
                seen,
                f"{size}, in: {zones}",
                [lo.reason] if lo.reason else [],
            )
        )
    if check.text is not None:
        t = check.text
        read = "; ".join(t.read[:6]) or "no text read"
        lines.append(
            CheckLine(
                "Required text",
                _outcome(v, "text.", t.status),
                f"read: {read}" + (f" (missing: {', '.join(t.missing)})" if t.missing else ""),
                ", ".join(t.required) or "none required",
            )
        )
    if check.quality is not None:
        q = check.quality
        lines.append(
            CheckLine(
                "Picture quality",
                _outcome(v, "quality.", q.status),
                "; ".join(x.message for x in v if x.code.startswith("quality.")) or "no problem",
                "sharp, well exposed, no black or frozen frames",
            )
        )
    return lines


def violation_words(violation: Violation) -> str:
    """A violation's message, with measured vs required when it has them."""
    words = violation.message
    if violation.measured is not None and violation.required is not None:
        words += f" (measured {_fmt(violation.measured)}, required {_fmt(violation.required)})"
    return words


def _fmt(value: float | str) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)


def analysis_lines(analysis: MediaAnalysis) -> list[tuple[str, str]]:
    """The analysis as (label, words): the model's understanding when it ran, else measures."""
    if analysis.content is not None:
        return _content(analysis.content)
    t = analysis.technical
    if t is None:
        return [("Analysis", f"{analysis.status}: {analysis.error or 'nothing measured'}")]
    measures = [
        ("Shots", t.shot_count),
        ("Mean shot length (s)", t.mean_shot_s),
        ("Motion", t.motion),
        ("Brightness", t.brightness),
        ("Sharpness", t.sharpness),
        ("Faces (most in one frame)", t.faces_max),
        ("Share of the frame under text", t.text_coverage),
        ("Audio", None if t.audio_present is None else ("yes" if t.audio_present else "none")),
        ("Loudness (LUFS)", t.loudness_lufs),
    ]
    return [(k, _fmt(x) if isinstance(x, float) else str(x)) for k, x in measures if x is not None]


def _content(c: ContentAnalysis) -> list[tuple[str, str]]:
    rows = [
        ("Summary", c.summary),
        ("Labels", ", ".join(c.labels)),
        ("On-screen text", "; ".join(c.on_screen_text)),
        ("Speech", c.spoken_content),
        ("Brand safety", ", ".join(c.brand_safety) or "no concern raised"),
        ("Hook", c.hook_assessment),
        ("Call to action", None if c.call_to_action is None else str(c.call_to_action).lower()),
        ("Prompt adherence", None if c.prompt_adherence is None else f"{c.prompt_adherence:.0%}"),
        ("Differs from the prompt", "; ".join(c.prompt_mismatches)),
    ]
    return [(k, v) for k, v in rows if v]
