"""What OCR, face detection and the thumbnail cost on one core, and what they add to analyze_file.

Run: `python -m bench.bench_vision`. Uses the 30 s 1080p30 clip of `bench_local_analyzer.py`
(made once in bench/out/), samples its frames at 512 px, writes 0–6 lines of text on one of them,
and prints per-frame costs (best of `--repeat`) next to the keyframe sampling of the same clip.
"""

from __future__ import annotations

import argparse
import functools
import os
import time

import cv2
import numpy as np
import numpy.typing as npt

from bench.bench_local_analyzer import FRAMES, LIMITS, SECONDS, best_of, make_clip
from processors.analyzers.local import analyze_media, frame_measures, vision_measures
from processors.media import probe, sample_frames
from processors.vision import detect_faces, read_text, text_coverage
from processors.vision import ocr as ocr_mod
from processors.vision.frames import pick_thumbnail, thumbnail_jpeg

LINES = ["SUMMER SALE", "Sponsored", "#ad", "shop now", "link in bio", "50% OFF TODAY"]


def with_text(image: npt.NDArray[np.uint8], lines: int) -> npt.NDArray[np.uint8]:
    """Write `lines` outlined caption lines down the left of a copy of the frame."""
    out = image.copy()
    for i, text in enumerate(LINES[:lines]):
        org = (24, 40 + i * 44)
        cv2.putText(out, text, org, cv2.FONT_HERSHEY_SIMPLEX, 1.0, (0, 0, 0), 6, cv2.LINE_AA)
        cv2.putText(out, text, org, cv2.FONT_HERSHEY_SIMPLEX, 1.0, (255, 255, 255), 2)
    return out


def vertical(image: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
    """A 9:16 crop of the frame, 512 px wide (as a vertical video would be sampled)."""
    h = image.shape[0]
    crop = image[:, : round(h * 9 / 16)]
    return np.asarray(cv2.resize(crop, (512, 910), interpolation=cv2.INTER_AREA), np.uint8)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    cv2.setNumThreads(1)
    clip = make_clip()
    info = probe(clip, LIMITS)
    frames = sample_frames(clip, info, FRAMES, LIMITS)
    base = frames[len(frames) // 2].image
    started = time.perf_counter()
    read_text(base)  # loads the OCR engine (once per process)
    load_s = time.perf_counter() - started
    rows = [
        (
            "sample_frames (keyframes, 512 px)",
            best_of(args.repeat, lambda: sample_frames(clip, info, FRAMES, LIMITS)),
        )
    ]
    for n in (0, 1, 3, 6):
        img = with_text(base, n)
        found = read_text(img)
        name = f"read_text, {n} lines drawn ({len(found)} read, cover {text_coverage(found):.3f})"
        rows.append((name, best_of(args.repeat, functools.partial(read_text, img))))
    tall = vertical(base)
    rows += [
        ("read_text, 9:16 frame 512x910, 0 lines", best_of(args.repeat, lambda: read_text(tall))),
        ("detect_faces, 16:9 frame", best_of(args.repeat, lambda: detect_faces(base))),
        ("detect_faces, 9:16 frame", best_of(args.repeat, lambda: detect_faces(tall))),
        (
            "pick_thumbnail + 320 px JPEG",
            best_of(
                args.repeat,
                lambda: thumbnail_jpeg(frames[pick_thumbnail([f.image for f in frames])].image),
            ),
        ),
        ("frame_measures (existing)", best_of(args.repeat, lambda: frame_measures(frames))),
        (
            f"vision_measures ({len(frames)} frames, OCR on 3)",
            best_of(args.repeat, lambda: vision_measures(frames)),
        ),
        (
            "analyze_media, OCR on 0 frames",
            best_of(args.repeat, lambda: analyze_media(clip, info, LIMITS, FRAMES, ocr_frames=0)),
        ),
        (
            "analyze_media, OCR on 3 frames",
            best_of(args.repeat, lambda: analyze_media(clip, info, LIMITS, FRAMES, ocr_frames=3)),
        ),
    ]
    result = analyze_media(clip, info, LIMITS, FRAMES)
    print(
        f"clip: {info.width}x{info.height}, {SECONDS} s, {len(frames)} sampled frames at 512 px;"
        f" one core; best of {args.repeat}; load average {os.getloadavg()[0]:.1f}"
    )
    print(
        f"OCR engine load {load_s:.2f} s (first call, once per process); models "
        f"{sum(p.stat().st_size for p in ocr_mod.model_paths().values()) / 1e6:.1f} MB; "
        f"clip: text_coverage {result.technical.text_coverage}, faces_max "
        f"{result.technical.faces_max}, thumbnail {len(result.thumbnail or b'')} bytes"
    )
    print(f"{'step':<58}{'wall ms':>9}{'cpu ms':>9}{'x sample_frames':>17}")
    sample_wall = rows[0][1][0]
    for name, (wall, cpu) in rows:
        print(f"{name:<58}{wall * 1000:>9.1f}{cpu * 1000:>9.1f}{wall / sample_wall:>17.2f}")
    (without, _), (with_ocr, _) = rows[-2][1], rows[-1][1]
    print(
        f"OCR on 3 frames adds {with_ocr - without:.3f} s wall to analyze_media "
        f"({(with_ocr / without - 1) * 100:.0f} %); the whole vision step (OCR + faces) is "
        f"{rows[-3][1][0]:.3f} s"
    )


if __name__ == "__main__":
    main()
