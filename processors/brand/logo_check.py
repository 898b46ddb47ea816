"""Logo check: from per-frame detections to the asset's answer, its zone rules and violations.

The answer describes the logo's best sighting (highest confidence): its box, confidence and
area. `screen_share` is the share of sampled frames that show the logo, `first_seen_s` the
time of the first of them. Zones are judged on the centre of the box: a corner zone is that
corner's third of the frame in both directions, `top`/`bottom` the top/bottom third, `center`
the middle third in both directions, `any` everything. Every sighting must be in an allowed
zone; the first one that is not is the evidence. Clear space: the margin of `clear_space_pct` %
of the logo's size around its box must be free of other content, measured as the share of edge
pixels (Canny) there; the first sighting over `CLEAR_SPACE_MAX_EDGES` is the evidence.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import cv2
import numpy as np
import numpy.typing as npt

from processors.brand.logo import LogoHit
from schemas.events import LogoCheck, Violation
from schemas.profiles import LogoZone

THIRD = 1 / 3
PENALTY = 0.4  # score lost per logo violation short of "missing" (which scores 0)
CLEAR_SPACE_MAX_EDGES = 0.02  # share of edge pixels a side of the clear space may hold
CANNY = (80.0, 160.0)  # hysteresis thresholds: object and text outlines, not gradients or noise
RIM_SHARE = 0.06  # of the logo's size, around the box, left out: the logo's own outline
# (detected boxes can sit a few % inside the mark)
Image = npt.NDArray[np.uint8]


def zone_of(bbox: Sequence[float]) -> str:
    """Name the frame third (e.g. `top_left`, `center`) the box's centre falls in."""
    cx, cy = bbox[0] + bbox[2] / 2, bbox[1] + bbox[3] / 2
    row = "top" if cy < THIRD else "bottom" if cy > 2 * THIRD else "middle"
    col = "left" if cx < THIRD else "right" if cx > 2 * THIRD else "center"
    if row == "middle":
        return "center" if col == "center" else f"middle_{col}"
    return row if col == "center" else f"{row}_{col}"


def in_zone(bbox: Sequence[float], zone: LogoZone) -> bool:
    """True if the box's centre lies in the zone."""
    if zone == "any":
        return True
    where = zone_of(bbox)
    if zone in ("top", "bottom"):
        return where.startswith(zone)
    return where == zone


def summarise(
    sightings: Sequence[tuple[float, LogoHit | None]],
    zones: Sequence[LogoZone],
    min_area_pct: float,
) -> tuple[LogoCheck, list[Violation], float]:
    """Aggregate per-frame detections (time, hit or None) into the check, violations, score."""
    seen = [(t, h) for t, h in sightings if h is not None]
    if not seen:
        check = LogoCheck(status="ok", found=False, screen_share=0.0)
        missing = Violation(
            code="logo.missing",
            severity="fail",
            measured=0.0,
            required=1.0,
            message=f"no brand logo in any of {len(sightings)} sampled frames",
        )
        return check, [missing], 0.0
    best_t, best = max(seen, key=lambda s: s[1].confidence)
    area_pct = round(best.bbox[2] * best.bbox[3] * 100, 3)
    outside = next(((t, h) for t, h in seen if not any(in_zone(h.bbox, z) for z in zones)), None)
    check = LogoCheck(
        status="ok",
        found=True,
        bbox=list(best.bbox),
        confidence=best.confidence,
        area_pct=area_pct,
        first_seen_s=min(t for t, _ in seen),
        screen_share=round(len(seen) / len(sightings), 4),
        in_allowed_zone=outside is None,
    )
    violations: list[Violation] = []
    if area_pct < min_area_pct:
        violations.append(
            Violation(
                code="logo.too_small",
                severity="warn",
                frame_s=best_t,
                bbox=list(best.bbox),
                message=f"the logo covers {area_pct:.2f} % of the frame (needs {min_area_pct:g} %)",
                measured=area_pct,
                required=min_area_pct,
            )
        )
    if outside is not None:
        t, hit = outside
        violations.append(
            Violation(
                code="logo.outside_zone",
                severity="warn",
                frame_s=t,
                bbox=list(hit.bbox),
                message=f"the logo is at {zone_of(hit.bbox)}; allowed: {', '.join(zones)}",
                measured=zone_of(hit.bbox),
                required=",".join(zones),
            )
        )
    return check, violations, max(0.0, 1.0 - PENALTY * len(violations))


def ring_edge_density(image: Image, bbox: Sequence[float], clear_space_pct: float) -> float:
    """Share of edge pixels (Canny) in the busiest side (top, bottom, left, right) of the margin
    of `clear_space_pct` % of the logo's size around its box; the box itself, plus a rim of
    `RIM_SHARE` of the logo's size (its own outline), is left out. The busiest side, so that
    a caption along one side is not diluted by the empty rest."""
    h, w = image.shape[:2]
    x0, y0 = round(bbox[0] * w), round(bbox[1] * h)
    x1, y1 = round((bbox[0] + bbox[2]) * w), round((bbox[1] + bbox[3]) * h)
    size = max(x1 - x0, y1 - y0)
    rim = max(2, round(size * RIM_SHARE))
    m = max(rim + 1, round(size * clear_space_pct / 100))
    grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image
    edges = cv2.Canny(grey, *CANNY) > 0
    top, left = max(0, y0 - m), max(0, x0 - m)
    sides = (
        edges[top : max(0, y0 - rim), left : x1 + m],
        edges[y1 + rim : y1 + m, left : x1 + m],
        edges[top : y1 + m, left : max(0, x0 - rim)],
        edges[top : y1 + m, x1 + rim : x1 + m],
    )
    return max((float(side.mean()) for side in sides if side.size), default=0.0)


def clear_space_violation(
    frames: Mapping[float, Image],
    sightings: Sequence[tuple[float, LogoHit | None]],
    clear_space_pct: float,
) -> Violation | None:
    """The first sighting whose clear space holds other content (edges), as a warning."""
    if clear_space_pct <= 0:
        return None
    for t, hit in sightings:
        if hit is None or t not in frames:
            continue
        density = ring_edge_density(frames[t], hit.bbox, clear_space_pct)
        if density > CLEAR_SPACE_MAX_EDGES:
            return Violation(
                code="logo.clear_space",
                severity="warn",
                frame_s=t,
                bbox=list(hit.bbox),
                message=(
                    f"other content within {clear_space_pct:g} % of the logo's size around it: "
                    f"{density:.1%} of the margin is edges (allowed {CLEAR_SPACE_MAX_EDGES:.0%})"
                ),
                measured=round(density, 4),
                required=CLEAR_SPACE_MAX_EDGES,
            )
    return None
