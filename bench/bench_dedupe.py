"""Near duplicates: precision and recall of the exact-content rule on a generated set, and what
the fingerprint costs beside the brand check.

Run: `python -m bench.bench_dedupe [--images 120] [--clips 20]`. Makes `--images` stills and
`--clips` 6 s clips (`processors.synthetic.dupes`), each with four transformed copies (resized
to half, re-encoded at JPEG q35 / x264 crf 36 with another GOP, cropped 5 %, watermarked) and a
look-alike (the same template over another picture); stills also meet an unrelated asset of the
same template kind. Originals are indexed as one brand's uploads; every copy and distractor is
looked up against all of them with the rule of `processors.dedupe.rule`. A copy is a true
positive when it is found as an exact copy of its own original; any exact match of a distractor
(or of a copy to another original) is a false positive. Clips are fingerprinted from the frames
the brand check samples (`check_media`, real ffmpeg). The bar: precision >= 0.99, recall >= 0.95.

Cost: the fingerprint of a 1280×720 JPEG and of a 30 s 1280×720 clip (frames the check already
decoded), and a lookup in a brand index of `--index` entries, against `check_media` of the same
file with a palette profile, timed in the same run.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections import Counter
from pathlib import Path
from uuid import uuid4

import cv2

from processors.brand.check import ANALYSIS_WIDTH, check_media
from processors.dedupe import DedupeSettings, fingerprint
from processors.dedupe.rule import Entry, best_match
from processors.media.frames import Frame
from processors.media.limits import LimitSettings
from processors.synthetic import dupes
from processors.synthetic import events as make
from processors.synthetic.samples import make_video
from schemas.fields import MediaKind
from schemas.profiles import BrandColour, BrandProfile
from schemas.provenance import Fingerprint

LIMITS = LimitSettings()
RULE = DedupeSettings()
BAR_PRECISION, BAR_RECALL = 0.99, 0.95
PROFILE = BrandProfile(
    name="bench", brand_id="bench", version=1, palette=[BrandColour(hex="#E4002B")]
)


def still_fp(img: cv2.typing.MatLike) -> Fingerprint:
    h, w = img.shape[:2]
    small = cv2.resize(img, (ANALYSIS_WIDTH, round(h * ANALYSIS_WIDTH / w)), cv2.INTER_AREA)
    return fingerprint([Frame(0.0, small)], None)


def clip_fp(path: Path) -> Fingerprint:
    check = check_media(path, make.uploaded(), None, [], LIMITS, fingerprints=True)
    assert check.fingerprint is not None, check.error
    return check.fingerprint


Query = tuple[str, Fingerprint, Entry | None]  # (group, fingerprint, its original or None)


def image_set(n: int) -> tuple[list[Entry], list[Query]]:
    originals, queries = [], []
    for seed in range(n):
        img = dupes.asset(seed)
        e = Entry(uuid4(), "0" * 64, "image", still_fp(img))
        originals.append(e)
        queries += [(t, still_fp(dupes.transform(img, t)), e) for t in dupes.TRANSFORMS]
        queries.append(("look-alike", still_fp(dupes.lookalike(seed)), None))
    # an unrelated asset of the same template kind, never indexed
    queries += [("unrelated", still_fp(dupes.asset(n + 5 * s)), None) for s in range(n)]
    return originals, queries


def clip_set(n: int, folder: Path) -> tuple[list[Entry], list[Query]]:
    originals, queries = [], []
    for seed in range(n):
        source = dupes.clip(folder / f"{seed}.mp4", seed)
        e = Entry(uuid4(), "0" * 64, "video", clip_fp(source))
        originals.append(e)
        for t in dupes.TRANSFORMS:
            copy = dupes.transform_clip(source, t, folder / f"{seed}-{t}.mp4")
            queries.append((t, clip_fp(copy), e))
        look = dupes.clip(folder / f"{seed}-look.mp4", seed, look_alike=True)
        queries.append(("look-alike", clip_fp(look), None))
    return originals, queries


def score(kind: MediaKind, originals: list[Entry], queries: list[Query]) -> list[str]:
    """Rows per group, then the total with precision and recall."""
    tally: Counter[tuple[str, str]] = Counter()
    for group, fp, truth in queries:
        match = best_match(fp, kind, originals, RULE)
        exact = match is not None and match.exact
        if truth is not None:
            hit = exact and match is not None and match.media_id == truth.media_id
            tally[group, "tp" if hit else "fn"] += 1
            tally[group, "fp"] += int(exact and not hit)
        else:
            tally[group, "fp"] += int(exact)
            tally[group, "near"] += int(match is not None)
            tally[group, "tn"] += int(match is None)
    rows = []
    for group in dict.fromkeys(g for g, _, _ in queries):
        t = {k: tally[group, k] for k in ("tp", "fn", "fp", "tn", "near")}
        total = sum(t[k] for k in ("tp", "fn")) or t["tn"] + t["near"]
        rows.append(
            f"  {kind:<6}{group:<14}{total:>6}{t['tp']:>6}{t['fn']:>6}{t['fp']:>6}{t['near']:>6}"
        )
    tp = sum(v for (g, k), v in tally.items() if k == "tp")
    fn = sum(v for (g, k), v in tally.items() if k == "fn")
    fp = sum(v for (g, k), v in tally.items() if k == "fp")
    precision, recall = tp / max(1, tp + fp), tp / max(1, tp + fn)
    rows.append(f"  {kind:<6}{'all':<14}{len(queries):>6}{tp:>6}{fn:>6}{fp:>6}"
                f"   precision {precision:.3f}  recall {recall:.3f}")  # fmt: skip
    ok = precision >= BAR_PRECISION and recall >= BAR_RECALL
    rows.append(f"  {kind}: {'meets' if ok else 'MISSES'} the bar (P >= 0.99, R >= 0.95)")
    return rows


def timed(fn: object, repeat: int) -> float:
    """Median seconds of `repeat` calls of `fn`."""
    assert callable(fn)
    runs = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - started)
    return statistics.median(runs)


def costs(folder: Path, index_size: int) -> list[str]:
    image = folder / "cost.jpg"
    cv2.imwrite(str(image), dupes.asset(1), [cv2.IMWRITE_JPEG_QUALITY, 90])
    video = make_video(folder / "cost.mp4", width=1280, height=720, seconds=30, cuts=5)
    rows = []
    for name, path, kind in (
        ("image 1280x720", image, "image"),
        ("30 s video 720p", video, "video"),
    ):
        event = make.uploaded(media_kind=kind)
        check_s = timed(lambda p=path, e=event: check_media(p, e, PROFILE, [], LIMITS), 3)
        result = check_media(path, event, PROFILE, [], LIMITS, fingerprints=True)
        fp = result.fingerprint
        assert fp is not None
        frames = [Frame(t, cv2.resize(dupes.asset(1), (512, 288))) for t in fp.frame_s]
        hash_s = timed(lambda f=frames: fingerprint(f, None), 5)
        entries = [Entry(uuid4(), "0" * 64, kind, fp) for _ in range(index_size)]
        other = fingerprint([Frame(f.t_s, dupes.asset(2)[:288, :512]) for f in frames], None)
        best_match(other, kind, entries, RULE)  # entries parse their hashes once, when first read
        lookup_s = timed(lambda k=kind, o=other, es=entries: best_match(o, k, es, RULE), 3)
        rows.append(
            f"  {name:<18}{len(frames):>4} frames  check {check_s * 1000:8.1f} ms  fingerprint "
            f"{hash_s * 1000:6.2f} ms ({hash_s / check_s:6.2%})  lookup in {index_size} "
            f"{lookup_s * 1000:7.1f} ms ({lookup_s / check_s:6.2%})"
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--images", type=int, default=120)
    parser.add_argument("--clips", type=int, default=20)
    parser.add_argument("--index", type=int, default=RULE.max_entries, help="entries per brand")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-dedupe-") as tmp:
        folder = Path(tmp)
        started = time.perf_counter()
        images = image_set(args.images)
        clips = clip_set(args.clips, folder)
        made = time.perf_counter() - started
        print(
            f"{args.images} stills and {args.clips} clips, 4 transformed copies and a look-alike "
            f"each ({args.images} unrelated stills more), made and fingerprinted in {made:.0f} s; "
            f"rule: pHash <= {RULE.max_distance} bits and colour <= {RULE.max_colour_delta:g} "
            f"dE per frame, every frame, duration +-{RULE.duration_tolerance_s:g} s; load "
            f"average {os.getloadavg()[0]:.1f}"
        )
        print(f"  {'kind':<6}{'group':<14}{'n':>6}{'tp':>6}{'fn':>6}{'fp':>6}{'dup':>6}")
        print("  (fp: wrong exact matches; dup: distractors given a non-exact duplicate_of)")
        for line in score("image", *images) + score("video", *clips):
            print(line)
        print("cost beside the brand check (median, this machine, same run):")
        for line in costs(folder, args.index):
            print(line)


if __name__ == "__main__":
    main()
