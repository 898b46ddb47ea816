"""When two uploads are the same asset: the rule, in full.

Two frames match when their pHashes differ in at most `max_distance` bits of 64 and their colour
grids by at most `max_colour_delta` (mean CIELAB). For video, a frame of the new upload is
compared with the earlier's frames within `TIME_WINDOW_S` of its own time (re-encoding moves
the keyframes the sampler picks).
- Near duplicate (`duplicate_of` is set): an image whose frame matches; a video of which at
  least half the sampled frames match.
- Exact in content (`exact`, the earlier analysis is reused): the same kind, every sampled frame
  matches, and for video the durations agree within `duration_tolerance_s`.
Resized, re-encoded, 5 %-cropped and lightly watermarked copies meet it (`bench/bench_dedupe.py`
measures how often); an asset that merely looks alike (the same layout, other picture or colours)
must not.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Final
from uuid import UUID

from processors.dedupe.phash import colour_delta, distance
from processors.dedupe.settings import DedupeSettings
from schemas.fields import MediaKind
from schemas.provenance import DuplicateOf, Fingerprint, FrameMatch

TIME_WINDOW_S: Final = 2.0


@dataclass(frozen=True)
class Entry:
    """One earlier upload of a brand, as the index keeps it."""

    media_id: UUID
    sha256: str
    kind: MediaKind
    fingerprint: Fingerprint

    @cached_property
    def hashes(self) -> list[int]:
        """The pHashes as ints, parsed once (an entry is compared with every later upload)."""
        return [int(h, 16) for h in self.fingerprint.phash]


def compare(
    new: Fingerprint, kind: MediaKind, old: Entry, settings: DedupeSettings
) -> DuplicateOf | None:
    """The match of `new` against one earlier upload, or None if it is not a near duplicate."""
    if kind != old.kind or not new.phash or not old.fingerprint.phash:
        return None
    ours = [int(h, 16) for h in new.phash]
    near = sum(min((h ^ o).bit_count() for o in old.hashes) <= settings.max_distance for h in ours)
    if near * 2 < len(ours):  # the cheap reject: most earlier uploads end here
        return None
    matches = [m for i in range(len(new.phash)) if (m := _best(new, i, old, settings))]
    if len(matches) * 2 < len(new.phash) or not matches:
        return None
    exact = len(matches) == len(new.phash) and _same_length(new, old.fingerprint, settings)
    return DuplicateOf(
        media_id=old.media_id,
        sha256=old.sha256,
        distance=max(m.distance for m in matches),
        exact=exact,
        frames=matches,
    )


def _best(new: Fingerprint, i: int, old: Entry, settings: DedupeSettings) -> FrameMatch | None:
    """The closest matching earlier frame near the new frame's time, if any matches."""
    t, h, c = new.frame_s[i], int(new.phash[i], 16), bytes.fromhex(new.colour[i])
    best: FrameMatch | None = None
    theirs = old.fingerprint
    for j, (u, ph) in enumerate(zip(theirs.frame_s, old.hashes, strict=True)):
        if abs(u - t) > TIME_WINDOW_S:
            continue
        d = distance(h, ph)
        if d > settings.max_distance or (best is not None and d >= best.distance):
            continue
        delta = colour_delta(c, bytes.fromhex(theirs.colour[j]))
        if delta <= settings.max_colour_delta:
            best = FrameMatch(
                frame_s=t, earlier_frame_s=u, distance=d, colour_delta_e=round(delta, 2)
            )
    return best


def _same_length(a: Fingerprint, b: Fingerprint, settings: DedupeSettings) -> bool:
    if a.duration_s is None or b.duration_s is None:
        return a.duration_s == b.duration_s  # both stills
    return abs(a.duration_s - b.duration_s) <= settings.duration_tolerance_s


def best_match(
    new: Fingerprint, kind: MediaKind, earlier: list[Entry], settings: DedupeSettings
) -> DuplicateOf | None:
    """The closest near duplicate among earlier uploads: exact first, then fewest bits apart."""
    found = [m for e in earlier if (m := compare(new, kind, e, settings)) is not None]
    return min(found, key=lambda m: (not m.exact, m.distance), default=None)
