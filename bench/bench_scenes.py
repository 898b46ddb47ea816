"""Scene cuts: the fast (keyframe-first) mode against the full-decode reference, on labelled clips.

Run: `python -m bench.bench_scenes [--width 640] [--quick]`. Makes (once, cached in
bench/out/scenes/) the labelled clips of `processors.synthetic.scenes` (hard cuts on and inside
GOPs, inserts, dissolves, stills, fast motion, colour and chroma-only cuts, flashes), pins
itself and its ffmpeg children to one core, and runs `scene_cuts` on each clip, fast and
`thorough=True`. Found cuts are matched to the labels within +-0.5 s, each label at most once.
Per clip kind and overall it prints precision, recall and F1 of both modes, the fast mode's
agreement with the reference (F1 of the fast cuts against the reference's cuts), how far the
fast motion is from the reference's, and the frames decoded and wall time of each mode; then
every clip where a mode missed a label or reported a cut that is none. The bar: fast F1 >= 0.95.
"""

from __future__ import annotations

import argparse
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from processors.analyzers.scenes import scene_cuts
from processors.media import probe
from processors.media.limits import LimitSettings
from processors.synthetic.scenes import KINDS, LabelledClip, labelled_set

OUT = Path(__file__).resolve().parent / "out" / "scenes"
LIMITS = LimitSettings()
TOLERANCE_S = 0.5
BAR_F1 = 0.95


class Found(Protocol):
    """What `scene_cuts` returns, as far as this bench reads it."""

    @property
    def cuts_s(self) -> list[float]: ...
    @property
    def motion(self) -> float: ...
    @property
    def frames_decoded(self) -> int: ...


@dataclass(frozen=True)
class Run:
    cuts_s: list[float]
    motion: float
    frames: int
    wall_s: float


@dataclass(frozen=True)
class Result:
    clip: LabelledClip
    fast: Run
    ref: Run


@dataclass
class Counts:
    """True positives, false positives and false negatives of found cuts against labels."""

    tp: int = 0
    fp: int = 0
    fn: int = 0

    def __iadd__(self, other: Counts) -> Counts:
        self.tp, self.fp, self.fn = self.tp + other.tp, self.fp + other.fp, self.fn + other.fn
        return self

    @property
    def precision(self) -> float:  # nothing claimed: nothing wrong
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:  # nothing to find: nothing missed
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


def matched(found: list[float], truth: list[float], tolerance: float = TOLERANCE_S) -> set[int]:
    """Indexes into `found` matched to `truth` within `tolerance`, closest pairs first, each
    found cut and each true cut used at most once."""
    pairs = sorted(
        (abs(f - t), i, j)
        for i, f in enumerate(found)
        for j, t in enumerate(truth)
        if abs(f - t) <= tolerance
    )
    used_found: set[int] = set()
    used_truth: set[int] = set()
    for _, i, j in pairs:
        if i not in used_found and j not in used_truth:
            used_found.add(i)
            used_truth.add(j)
    return used_found


def score(found: list[float], truth: list[float], tolerance: float = TOLERANCE_S) -> Counts:
    """Counts of `found` against `truth` within `tolerance`."""
    tp = len(matched(found, truth, tolerance))
    return Counts(tp, len(found) - tp, len(truth) - tp)


def timed(clip: LabelledClip, thorough: bool) -> Run:
    """Run `scene_cuts` once on a clip and time it (the probe is not timed)."""
    info = probe(clip.path, LIMITS)
    started = time.perf_counter()
    found: Found = scene_cuts(clip.path, info, LIMITS, thorough=thorough)
    wall = time.perf_counter() - started
    return Run(list(found.cuts_s), found.motion, found.frames_decoded, wall)


def row(name: str, results: list[Result], tolerance: float) -> str:
    """One line of the table: the scores and costs of a group of clips."""
    fast, ref, agree = Counts(), Counts(), Counts()
    for r in results:
        fast += score(r.fast.cuts_s, r.clip.cuts_s, tolerance)
        ref += score(r.ref.cuts_s, r.clip.cuts_s, tolerance)
        agree += score(r.fast.cuts_s, r.ref.cuts_s, tolerance)
    gaps = [abs(r.fast.motion - r.ref.motion) for r in results]
    ref_motion = sum(r.ref.motion for r in results)
    relative = f"{100 * sum(gaps) / ref_motion:6.1f}%" if ref_motion > 0 else f"{'-':>7}"
    labels = sum(len(r.clip.cuts_s) for r in results)
    frames = [sum(getattr(r, m).frames for r in results) for m in ("fast", "ref")]
    walls = [sum(getattr(r, m).wall_s for r in results) for m in ("fast", "ref")]
    return (
        f"{name:<16}{len(results):>3}{labels:>4} | "
        f"{fast.precision:5.2f}{fast.recall:5.2f}{fast.f1:5.2f} | "
        f"{ref.precision:5.2f}{ref.recall:5.2f}{ref.f1:5.2f} | {agree.f1:5.2f} | "
        f"{sum(gaps) / len(gaps):8.5f}{relative} | {frames[0]:6d}{frames[1]:6d} | "
        f"{walls[0]:6.2f}{walls[1]:6.2f}"
    )


def header() -> list[str]:
    top = (
        f"{'':<23} | {'fast':^15} | {'reference':^15} | agree | {'motion |f-r|':^15} | "
        f"{'frames':^12} | {'wall s':^12}"
    )
    sub = (
        f"{'kind':<16}{'n':>3}{'cut':>4} | {'P':>5}{'R':>5}{'F1':>5} | {'P':>5}{'R':>5}{'F1':>5} | "
        f"{'F1':>5} | {'mean':>8}{'rel':>7} | {'fast':>6}{'ref':>6} | {'fast':>6}{'ref':>6}"
    )
    return [top, sub, "-" * len(sub)]


def errors(r: Result, tolerance: float) -> list[str]:
    """What each mode got wrong on one clip: labels missed, cuts reported that are none."""
    out = []
    for mode, run in (("fast", r.fast), ("ref", r.ref)):
        hits = matched(run.cuts_s, r.clip.cuts_s, tolerance)
        found = matched(r.clip.cuts_s, run.cuts_s, tolerance)
        missed = [t for j, t in enumerate(r.clip.cuts_s) if j not in found]
        false = [t for i, t in enumerate(run.cuts_s) if i not in hits]
        if missed or false:
            out.append(f"{mode} missed {missed} reported {false}")
    return out


def bar(results: list[Result], tolerance: float) -> str:
    """The fast mode against the bar: over all clips, and over the kinds the reference itself
    gets right (so that the fast mode is not held to what no full decode with scdet can do)."""
    fast, fair, ref_wrong = Counts(), Counts(), set()
    for r in results:
        fast += score(r.fast.cuts_s, r.clip.cuts_s, tolerance)
        if score(r.ref.cuts_s, r.clip.cuts_s, tolerance).f1 < 1:
            ref_wrong.add(r.clip.kind)
    for r in results:
        if r.clip.kind not in ref_wrong:
            fair += score(r.fast.cuts_s, r.clip.cuts_s, tolerance)
    verdicts = ["meets" if c.f1 >= BAR_F1 else "misses" for c in (fast, fair)]
    return (
        f"fast F1 {fast.f1:.3f} over all clips: {verdicts[0]} the bar F1 >= {BAR_F1} within "
        f"+-{tolerance:g} s; {fair.f1:.3f} without the kinds the reference gets wrong too "
        f"({', '.join(sorted(ref_wrong)) or 'none'}): {verdicts[1]} it"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--width", type=int, default=640, help="clip width (16:9; even)")
    parser.add_argument("--quick", action="store_true", help="one clip per kind")
    parser.add_argument("--tolerance", type=float, default=TOLERANCE_S, help="match window, s")
    args = parser.parse_args()
    width = args.width - args.width % 2
    height = round(width * 9 / 16 / 2) * 2
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # children inherit: one core
    made = time.perf_counter()
    clips = labelled_set(OUT, width=width, height=height, one_per_kind=args.quick)
    made = time.perf_counter() - made
    results = [Result(c, timed(c, thorough=False), timed(c, thorough=True)) for c in clips]
    print(
        f"{len(clips)} labelled clips, {width}x{height} 30 fps H.264 (2 s GOP), made or found in "
        f"{made:.1f} s; one core; load average {os.getloadavg()[0]:.1f}; match within "
        f"+-{args.tolerance:g} s; P/R/F1 against the labels"
    )
    for line in header():
        print(line)
    for kind in KINDS:
        group = [r for r in results if r.clip.kind == kind]
        if group:
            print(row(kind, group, args.tolerance))
    print("-" * len(header()[1]))
    print(row("all", results, args.tolerance))
    print(bar(results, args.tolerance))
    print("clips where a mode is wrong (labels missed, reported cuts that are none):")
    for r in results:
        for line in errors(r, args.tolerance):
            print(f"  {r.clip.path.stem:<24}{r.clip.kind:<16}{line}")


if __name__ == "__main__":
    main()
