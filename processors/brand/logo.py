"""Find a brand logo in a frame: coarse multi-scale NCC over an image pyramid, then verification.

1. Coarse: for logo sizes from `MIN_LOGO_PX` up to 90 % of the frame width or height (four sizes
   per octave), correlate a small template (10–20 px) with the pyramid level where the logo has
   that size, so every size costs about the same and small rotations barely matter. Elongated
   marks (wordmarks) are also tried at ±7°.
2. Verify: the best few candidates per level are matched again, locally, where the logo is at
   most `VERIFY_PX` px: the pose (rotation up to ±10°, scale to a quarter step) is searched in
   grey with the alpha as mask, then scored in colour. Confidence is the lower of the whole
   mark's NCC and its weakest quarter's, so a blob that matches the overall shape but not the
   detail is rejected. Small marks carry less evidence and need more (`required_confidence`).
   Logos are matched in their own colours: a match whose colours are far from the logo's is
   rejected (`COLOUR_TOLERANCE`), so a white or mono version needs its own logo file.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

from processors.brand.scoring import score, window
from processors.brand.templates import LogoTemplate, Rendered

Image = npt.NDArray[np.uint8]
Box = tuple[float, float, float, float]

TEMPLATE_MIN_PX = 10  # coarse templates are 10–20 px (their shorter side)
SCALES_PER_OCTAVE = 4
MIN_LOGO_PX = 20  # smallest logo searched (square root of its area, analysis px)
MAX_LOGO_WIDTH = 0.90  # largest logo searched, as a share of the frame width...
MAX_LOGO_HEIGHT = 0.90  # ...and height (a logo may fill an end card)
ELONGATED = 2.2  # marks longer than this (either way) and not small also get COARSE_ANGLES
COARSE_ANGLES = (-7.0, 0.0, 7.0)
CANDIDATE_MIN = 0.30  # coarse NCC below this is not worth verifying
CANDIDATES_PER_LEVEL = 3
VERIFY_PX = 40  # verification runs where the logo's shorter side is at most this large
ANGLES = (0.0, -5.0, 5.0, -10.0, 10.0)  # verification rotations, refined by ±ANGLE_REFINE
ANGLE_REFINE = 2.5
SCALE_STEP = 2 ** (1 / (2 * SCALES_PER_OCTAVE))  # half a coarse step
EARLY_REJECT = 0.35  # a candidate this poor at its first poses is not refined
MATCH_THRESHOLD = 0.60  # confidence a logo of SMALL_PX or more needs to count as found
SMALL_PX = 40  # below this size the threshold rises linearly...
SMALL_PENALTY = 0.15  # ...by this much at MIN_LOGO_PX
COLOUR_TOLERANCE = 30.0  # a match must also be in the logo's colours (median ΔE76 under the mark)
NEUTRAL_INK_TOLERANCE = 15.0  # a white/grey/black one-colour mark cannot bleed chroma: stricter
NEUTRAL_CHROMA = 10.0


@dataclass(frozen=True)
class LogoHit:
    """A verified logo: normalised [x, y, w, h] box, confidence, which logo, its size in px."""

    bbox: Box
    confidence: float
    logo: int
    size: float  # square root of the box area, analysis px
    colour_de: float = 0.0  # median Lab distance of the colours under the mark from the logo's


@dataclass(frozen=True)
class Candidate:
    """A coarse match worth verifying."""

    score: float
    cx: float  # centre, analysis px
    cy: float
    size: float  # square root of the logo's area, analysis px
    level: int
    logo: int


@dataclass(frozen=True)
class _Pose:
    score: float  # grey masked NCC at this pose
    width: float  # logo width at the verification level, px
    angle: float
    x: int  # template top-left in the verification level
    y: int


def required_confidence(size: float) -> float:
    """The threshold for a match of this size: small marks carry less evidence, ask more."""
    small = (SMALL_PX - size) / (SMALL_PX - MIN_LOGO_PX)
    return MATCH_THRESHOLD + SMALL_PENALTY * min(1.0, max(0.0, small))


class _Frame:
    """One frame's pyramids: grey (pose search), colour (scoring), ink maps (one-colour marks)."""

    def __init__(self, bgr: Image, logos: Sequence[LogoTemplate]):
        self.logos = logos
        self.grey = _pyramid(np.asarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY), np.uint8))
        self._bgr = bgr
        self._colour: list[Image] = []
        self._ink: dict[int, list[Image]] = {}

    def search(self, index: int) -> list[Image]:
        """Where logo `index` is searched: its ink map if one-colour, else grey."""
        if not self.logos[index].silhouette:
            return self.grey
        if index not in self._ink:
            self._ink[index] = _pyramid(self.logos[index].ink_map(self._bgr), len(self.grey))
        return self._ink[index]

    def score(self, index: int) -> list[Image]:
        """Where logo `index` is scored: its ink map if one-colour, else colour."""
        if self.logos[index].silhouette:
            return self.search(index)
        if not self._colour:
            self._colour = _pyramid(self._bgr, len(self.grey))
        return self._colour


def _pyramid(image: Image, levels: int = 6) -> list[Image]:
    out = [image]
    while len(out) < levels and min(out[-1].shape[:2]) >= 4 * TEMPLATE_MIN_PX:
        out.append(np.asarray(cv2.pyrDown(out[-1]), np.uint8))
    return out


class LogoDetector:
    """Search frames for any of a brand's logos; build once per asset, reuse for every frame."""

    def __init__(self, logos: Sequence[LogoTemplate], threshold: float | None = None):
        self.logos = list(logos)
        self.threshold = threshold

    def detect(self, bgr: Image) -> LogoHit | None:
        """Return the most confident verified logo in the frame, or None."""
        hits = [
            h
            for h in self.verified(bgr)
            if h.confidence >= self.required(h.size) and h.colour_de <= self.tolerance(h)
        ]
        return max(hits, key=lambda h: h.confidence, default=None)

    def tolerance(self, hit: LogoHit) -> float:
        """How far the colours under a match may be from the logo's."""
        logo = self.logos[hit.logo]
        neutral = logo.silhouette and logo.ink_chroma < NEUTRAL_CHROMA
        return NEUTRAL_INK_TOLERANCE if neutral else COLOUR_TOLERANCE

    def required(self, size: float) -> float:
        """The confidence a match of this size needs."""
        return required_confidence(size) if self.threshold is None else self.threshold

    def verified(self, bgr: Image) -> list[LogoHit]:
        """Every candidate after verification, whatever its confidence."""
        frame = _Frame(bgr, self.logos)
        hits = (self._verify(frame, cand) for cand in self.candidates(frame))
        return [h for h in hits if h is not None]

    def candidates(self, frame: _Frame) -> list[Candidate]:
        """Coarse candidates: the best few per logo and pyramid level, one per place."""
        found = [c for i in range(len(self.logos)) for c in self._coarse_all(frame.search(i), i)]
        kept: list[Candidate] = []
        quota: dict[tuple[int, int], int] = {}
        for cand in sorted(found, key=lambda c: -c.score):
            key = (cand.logo, cand.level)
            if quota.get(key, 0) >= CANDIDATES_PER_LEVEL or any(_same_place(cand, k) for k in kept):
                continue
            kept.append(cand)
            quota[key] = quota.get(key, 0) + 1
        return kept

    def _coarse_all(self, pyr: list[Image], index: int) -> Iterator[Candidate]:
        logo = self.logos[index]
        elongated = max(logo.aspect, 1 / logo.aspect) > ELONGATED
        h, w = pyr[0].shape
        for size in _sizes(logo, w, h):
            level = min(max(0, int(math.log2(_side(logo, size) / TEMPLATE_MIN_PX))), len(pyr) - 1)
            for angle in COARSE_ANGLES if elongated and size >= SMALL_PX else (0.0,):
                yield from self._coarse(pyr[level], level, index, size, angle)

    def _coarse(
        self, image: Image, level: int, index: int, size: float, angle: float
    ) -> Iterator[Candidate]:
        logo, f = self.logos[index], 2**level
        tmpl = _unmasked(logo.render(size * math.sqrt(logo.aspect) / f, angle), logo.silhouette)
        th, tw = tmpl.shape
        if th >= image.shape[0] or tw >= image.shape[1]:
            return
        res = np.asarray(cv2.matchTemplate(image, tmpl, cv2.TM_CCOEFF_NORMED), np.float32)
        for _ in range(CANDIDATES_PER_LEVEL):
            _, score, _, (x, y) = cv2.minMaxLoc(res)
            if score < CANDIDATE_MIN:
                return
            yield Candidate(float(score), (x + tw / 2) * f, (y + th / 2) * f, size, level, index)
            res[max(0, y - th // 2) : y + th // 2 + 1, max(0, x - tw // 2) : x + tw // 2 + 1] = -1

    def _verify(self, frame: _Frame, cand: Candidate) -> LogoHit | None:
        """Search the pose locally in grey, then score the best pose in colour, by quarters."""
        logo = self.logos[cand.logo]
        side = _side(logo, cand.size)
        level = min(max(0, math.ceil(math.log2(side / VERIFY_PX))), len(frame.grey) - 1)
        image, f = frame.search(cand.logo)[level], 2**level
        width = cand.size * math.sqrt(logo.aspect) / f
        margin = int(0.25 * side / f) + 2 ** max(0, cand.level - level) + 2
        centre = (cand.cx / f, cand.cy / f)
        best = max(
            (_pose(image, logo, width, a, centre, margin) for a in ANGLES), key=lambda p: p.score
        )
        if best.score < EARLY_REJECT:
            return None
        fine = math.sqrt(SCALE_STEP)
        for step in (
            (1 / SCALE_STEP, 0.0),
            (SCALE_STEP, 0.0),
            (1.0, -ANGLE_REFINE),
            (1.0, ANGLE_REFINE),
            (1 / fine, 0.0),
            (fine, 0.0),
        ):
            best = max(best, _refine(image, logo, best, *step), key=lambda p: p.score)
        tmpl = logo.render(best.width, best.angle)
        image = frame.score(cand.logo)[level]
        confidence, colour_de = score(image, tmpl, best.x, best.y, logo.silhouette)
        bx, by, bw, bh = tmpl.box
        h, w = frame.grey[0].shape
        x0, y0 = max(0.0, (best.x + bx) * f / w), max(0.0, (best.y + by) * f / h)
        x1, y1 = min(1.0, (best.x + bx + bw) * f / w), min(1.0, (best.y + by + bh) * f / h)
        bbox = (round(x0, 4), round(y0, 4), round(x1 - x0, 4), round(y1 - y0, 4))
        return LogoHit(
            bbox, round(confidence, 4), cand.logo, math.sqrt(bw * bh) * f, round(colour_de, 2)
        )


def _sizes(logo: LogoTemplate, width: int, height: int) -> list[float]:
    """Logo sizes (square root of area, analysis px) to search in a frame of this size."""
    root = math.sqrt(logo.aspect)
    limit = min(MAX_LOGO_WIDTH * width / root, MAX_LOGO_HEIGHT * height * root)
    if limit < MIN_LOGO_PX:
        return []
    count = int(math.floor(SCALES_PER_OCTAVE * math.log2(limit / MIN_LOGO_PX))) + 1
    return [MIN_LOGO_PX * 2 ** (k / SCALES_PER_OCTAVE) for k in range(count)]


def _side(logo: LogoTemplate, size: float) -> float:
    """The shorter side of the mark at this size: what limits how far it can be shrunk."""
    return size / math.sqrt(max(logo.aspect, 1 / logo.aspect))


def _unmasked(tmpl: Rendered, silhouette: bool) -> Image:
    """Unmasked stand-in for speed: clear pixels take the mark's mean grey (no correlation)."""
    if silhouette or tmpl.mask is None:
        return tmpl.grey
    opaque = tmpl.mask > 0
    return np.where(opaque, tmpl.grey, np.uint8(tmpl.grey[opaque].mean())).astype(np.uint8)


def _pose(
    image: Image,
    logo: LogoTemplate,
    width: float,
    angle: float,
    centre: tuple[float, float],
    margin: int,
) -> _Pose:
    """Best grey masked NCC of the mark at this width and angle near `centre`."""
    tmpl = logo.render(width, angle)
    th, tw = tmpl.grey.shape
    x0, y0 = int(centre[0] - tw / 2) - margin, int(centre[1] - th / 2) - margin
    crop = window(image, x0, y0, tw + 2 * margin, th + 2 * margin)
    res = cv2.matchTemplate(crop, tmpl.grey, cv2.TM_CCOEFF_NORMED, mask=tmpl.mask)
    res = np.nan_to_num(np.asarray(res, np.float32), nan=0.0, posinf=0.0, neginf=0.0)
    _, score, _, (x, y) = cv2.minMaxLoc(res)
    return _Pose(float(score), width, angle, x0 + x, y0 + y)


def _refine(image: Image, logo: LogoTemplate, pose: _Pose, factor: float, turn: float) -> _Pose:
    """Try a nearby pose in a tight window around the current one."""
    old = logo.render(pose.width, pose.angle).grey.shape
    centre = (pose.x + old[1] / 2, pose.y + old[0] / 2)
    return _pose(
        image, logo, pose.width * factor, pose.angle + turn, centre, margin=3 + int(0.06 * max(old))
    )


def _same_place(a: Candidate, b: Candidate) -> bool:
    """Two candidates describe the same spot if their centres are within half a logo."""
    near = math.hypot(a.cx - b.cx, a.cy - b.cy) < 0.5 * max(a.size, b.size)
    return near and a.logo == b.logo
