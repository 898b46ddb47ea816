"""Text check: the profile's required disclosure text (`#ad`, `Sponsored`) is on screen.

OCR is the costliest step (~50–130 ms per 512 px frame), so it reads at most `MAX_FRAMES`
frames spread over the ones already sampled, and does not run at all when the profile requires
no text. Matching is case-insensitive with whitespace normalised: `#AD`, `# ad` and `#ad` are
the same disclosure. A phrase counts as present if any read frame shows it (lines of one frame
are joined, so a phrase wrapped over two lines still matches). Text coverage is the largest
share of a frame that the read lines cover. Reading stops at the first frame that shows every
phrase, so a compliant asset usually costs one OCR pass; a missing disclosure costs three.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from processors.vision.ocr import read_text, text_coverage
from schemas.events import Violation

Image = npt.NDArray[np.uint8]
MAX_FRAMES = 3
MAX_EVIDENCE_CHARS = 200  # what was read, as evidence, is cut to this length


@dataclass(frozen=True)
class TextResult:
    """What the text check found: the phrases required and missing, what was read, coverage."""

    required: list[str]
    missing: list[str] = field(default_factory=list)
    read: list[str] = field(default_factory=list)
    coverage: float = 0.0
    frames_read: int = 0
    boxes: list[tuple[float, str, tuple[float, float, float, float]]] = field(
        default_factory=list
    )  # (frame time, phrase, normalised box) of each required phrase read on one line


def normalise(text: str) -> str:
    """Lower case, whitespace runs collapsed to one space, trimmed."""
    return re.sub(r"\s+", " ", text).strip().casefold()


def contains(haystack: str, phrase: str) -> bool:
    """Whether `phrase` appears in `haystack`, ignoring case and whitespace (`# AD` is `#ad`)."""
    h, p = normalise(haystack), normalise(phrase)
    if not p:
        return True
    return p in h or p.replace(" ", "") in h.replace(" ", "")


def pick_frames(count: int, limit: int = MAX_FRAMES) -> list[int]:
    """Indices of up to `limit` frames spread evenly over `count` (ends and middle first)."""
    if count <= limit:
        return list(range(count))
    return sorted({round(i * (count - 1) / (limit - 1)) for i in range(limit)})


def check_text(
    images: Sequence[tuple[float, Image]], required: Sequence[str]
) -> tuple[TextResult, list[Violation], float]:
    """OCR a few frames (stopping once every phrase is found) and look for every required
    phrase; returns what was found, the violations and a 0–1 score."""
    picked = [images[i] for i in pick_frames(len(images))]
    lines: list[str] = []
    coverage, missing, used = 0.0, list(required), 0
    placed: list[tuple[float, str, tuple[float, float, float, float]]] = []
    for t_s, image in picked:
        boxes = read_text(image)
        used += 1
        lines += [b.text for b in boxes]
        coverage = max(coverage, text_coverage(boxes))
        joined = " ".join(b.text for b in boxes)
        placed += [(t_s, p, b.bbox) for p in missing for b in boxes if contains(b.text, p)]
        missing = [p for p in missing if not contains(joined, p)]
        if not missing:
            break
    result = TextResult(list(required), missing, lines, coverage, used, placed)
    seen = " | ".join(dict.fromkeys(lines))[:MAX_EVIDENCE_CHARS]
    violations = [
        Violation(
            code="text.required_missing",
            severity="fail",
            frame_s=picked[0][0] if picked else None,
            message=(
                f"required text {phrase!r} not found in {used} frame(s) read; "
                f"read: {seen!r} (text covers {coverage:.1%} of the frame)"
            ),
            measured=seen,
            required=phrase,
        )
        for phrase in missing
    ]
    found = len(required) - len(missing)
    return result, violations, found / len(required) if required else 1.0
