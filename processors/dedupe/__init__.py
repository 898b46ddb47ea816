"""Near-duplicate uploads: a perceptual fingerprint of the sampled frames (`phash`), the rule
that says when two uploads are the same asset (`rule`), and the per-brand index in the bucket
(`index`). The fingerprint is made in the pool child from the frames the brand check already
decoded; the lookup runs in the worker (the child has no network to reach the bucket)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np
import numpy.typing as npt

from processors.dedupe.phash import colour_signature, phash
from processors.dedupe.settings import DedupeSettings
from schemas.provenance import Fingerprint

__all__ = ["DedupeSettings", "fingerprint"]


class _Frame(Protocol):
    @property
    def t_s(self) -> float: ...

    @property
    def image(self) -> npt.NDArray[np.uint8]: ...


def fingerprint(frames: Sequence[_Frame], duration_s: float | None) -> Fingerprint:
    """The fingerprint of the sampled frames (any width: pHash works on 32×32)."""
    return Fingerprint(
        frame_s=[round(f.t_s, 3) for f in frames],
        phash=[f"{phash(f.image):016x}" for f in frames],
        colour=[colour_signature(f.image).hex() for f in frames],
        duration_s=duration_s,
    )
