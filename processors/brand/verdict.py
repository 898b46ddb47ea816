"""Verdict: one score and one word (pass / warn / fail) from the checks that ran.

Rule, in full:
1. Each check that ran scores 0–1 (palette: on-palette share ÷ 0.70, capped at 1; logo: 0 if
   missing, else 1 minus 0.4 per logo violation; quality: 1 minus 0.25 per warning; platforms:
   per platform 1 with no problem, 0.5 with warnings only, 0 with a failure, averaged; text:
   share of the required phrases found, run only when the profile requires text; the logo's
   clear space counts as one more logo violation; provenance: 1 minus 0.5 per provenance
   violation, scored only when the file carries provenance or was declared generated).
2. The score is their weighted mean. Weights come from the profile (`weights`, keyed by check
   name) over `DEFAULT_WEIGHTS`; a weight of 0 leaves a check out. Skipped checks never count.
3. The score maps to a verdict by the profile's thresholds: ≥ `pass_at` pass, ≥ `warn_at` warn,
   else fail.
4. Caps: a broken hard rule (any violation of severity `fail`) or a check that could not run
   (status `failed`) means the asset cannot pass: the verdict is at most `warn`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from schemas.events import PlatformFit, Violation
from schemas.fields import Verdict
from schemas.profiles import Thresholds

DEFAULT_WEIGHTS: dict[str, float] = {
    "palette": 0.3,
    "logo": 0.3,
    "quality": 0.2,
    "platforms": 0.2,
    "text": 0.2,
    "provenance": 0.2,
}
DEFAULT_THRESHOLDS = Thresholds()


def platforms_score(fits: Mapping[str, PlatformFit]) -> float | None:
    """Average over platforms: 1 clean, 0.5 with warnings only, 0 with a failure."""
    if not fits:
        return None
    values = [0.0 if not f.ok else 0.5 if f.problems else 1.0 for f in fits.values()]
    return sum(values) / len(values)


def weighted_score(scores: Mapping[str, float], weights: Mapping[str, float]) -> float | None:
    """Weighted mean of the scores of the checks that ran (None if none has weight)."""
    merged = {**DEFAULT_WEIGHTS, **weights}
    used = {name: merged.get(name, 0.0) for name in scores}
    total = sum(w for w in used.values() if w > 0)
    if total <= 0:
        return None
    return sum(scores[n] * w for n, w in used.items() if w > 0) / total


def decide(
    score: float | None,
    thresholds: Thresholds,
    violations: Sequence[Violation],
    failed_checks: int = 0,
) -> Verdict | None:
    """Map the score to pass/warn/fail, then apply the caps."""
    if score is None:
        return None
    verdict: Verdict = (
        "pass" if score >= thresholds.pass_at else "warn" if score >= thresholds.warn_at else "fail"
    )
    capped = failed_checks > 0 or any(v.severity == "fail" for v in violations)
    if capped and verdict == "pass":
        return "warn"
    return verdict
