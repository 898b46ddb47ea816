"""How fast the local analyzer is on one core, as ratios to ffmpeg's plain decode of the same clip.

Run: `python -m bench.bench_local_analyzer`. Makes (once, cached in bench/out/) a 30 s 1080p30
H.264 clip at ~6 Mbit/s with a cut every 5 s, pins this process and its ffmpeg children to one
core, and prints the best of `--repeat` runs of each step next to the two decode baselines.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import cv2

from bench import bench_e2e
from processors.analyzers.local import analyze_file, frame_measures, video_measures
from processors.media import ffmpeg_exe, probe, sample_frames
from processors.media.limits import LimitSettings

OUT = Path(__file__).resolve().parent / "out"
SECONDS = 30
LIMITS = LimitSettings()
FRAMES = 16


def make_clip() -> Path:
    """The 30 s 1080p30 clip of `bench.bench_e2e` (testsrc2 + grain, a brightness and hue jump
    every 5 s, 6 Mbit/s, GOP 2 s, AAC), seed 0: both benches measure the same clip kind."""
    return bench_e2e.make_clip(1920, 1080, SECONDS, 0)


def _cpu() -> float:
    """CPU seconds used so far by this process and its finished children."""
    me, kids = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def best_of(repeat: int, fn: Callable[[], object]) -> tuple[float, float]:
    """Wall and CPU seconds of the fastest of `repeat` runs (least disturbed by neighbours)."""
    walls, cpus = [], []
    for _ in range(repeat):
        wall, cpu = time.perf_counter(), _cpu()
        fn()
        walls.append(time.perf_counter() - wall)
        cpus.append(_cpu() - cpu)
    return min(walls), min(cpus)


def decode(clip: Path, *extra: str) -> Callable[[], object]:
    cmd = [
        ffmpeg_exe(),
        "-hide_banner",
        "-nostdin",
        "-threads",
        "1",
        *extra,
        "-i",
        str(clip),
        "-map",
        "0:v:0",
        "-f",
        "null",
        "-",
    ]
    return lambda: subprocess.run(cmd, check=True, capture_output=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # children inherit: one core
    cv2.setNumThreads(1)
    clip = make_clip()
    info = probe(clip, LIMITS)
    frames = sample_frames(clip, info, FRAMES, LIMITS)
    technical = analyze_file(clip, info, LIMITS, FRAMES)
    rows = [
        ("ffmpeg: decode every frame", best_of(args.repeat, decode(clip))),
        (
            "ffmpeg: decode keyframes only",
            best_of(args.repeat, decode(clip, "-skip_frame", "nokey")),
        ),
        ("probe", best_of(args.repeat, lambda: probe(clip, LIMITS))),
        (
            f"sample_frames ({len(frames)} keyframes, 512 px)",
            best_of(args.repeat, lambda: sample_frames(clip, info, FRAMES, LIMITS)),
        ),
        ("frame measures (OpenCV)", best_of(args.repeat, lambda: frame_measures(frames))),
        (
            "timeline pass (cuts, motion, audio)",
            best_of(args.repeat, lambda: video_measures(clip, info, LIMITS)),
        ),
        (
            "analyze_file total",
            best_of(args.repeat, lambda: analyze_file(clip, info, LIMITS, FRAMES)),
        ),
    ]
    (full, full_cpu), (keys, keys_cpu) = rows[0][1], rows[1][1]
    print(
        f"clip: {info.width}x{info.height} {info.fps:g} fps, {info.duration_s:g} s, "
        f"{info.size_bytes * 8 / (info.duration_s or 1) / 1e6:.1f} Mbit/s, {info.codec}; "
        f"one core; best of {args.repeat}; load average {os.getloadavg()[0]:.1f}"
    )
    print(f"found {technical.shot_count} shots, cuts at {technical.scene_cuts_s}")
    head = ("step", "wall s", "cpu s", "video-s/wall-s", "video-s/cpu-s", "x full (cpu)")
    print(f"{head[0]:<40}{head[1]:>8}{head[2]:>8}{head[3]:>16}{head[4]:>15}{head[5]:>14}")
    for name, (wall, cpu) in rows:
        print(
            f"{name:<40}{wall:>8.3f}{cpu:>8.3f}{SECONDS / wall:>16.1f}"
            f"{SECONDS / max(cpu, 1e-3):>15.1f}{cpu / full_cpu:>14.2f}"
        )
    (total, total_cpu), (sample, sample_cpu) = rows[-1][1], rows[3][1]
    print(
        f"ratios (wall | cpu): analyze_file / full decode = {total / full:.2f} | "
        f"{total_cpu / full_cpu:.2f}; sample_frames / keyframe decode = {sample / keys:.2f} | "
        f"{sample_cpu / keys_cpu:.2f}; full / keyframe decode = {full / keys:.1f} | "
        f"{full_cpu / keys_cpu:.1f}"
    )


if __name__ == "__main__":
    main()
