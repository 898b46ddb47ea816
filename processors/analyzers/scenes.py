"""Scene cuts, motion and audio measures of a video, keyframe-first.

Two ways, one meaning (the scales are in `processors.analyzers.local`):
- `thorough`: one ffmpeg child decodes every frame (128 px, loop filter skipped) for `scdet`
  and the audio for loudness and silence: the reference, at the cost of a full decode;
- fast (the default): the child that samples the frames for the checks also measures how much
  each keyframe differs from the one before (`scdet` on the keyframes alone) and the audio. Only
  the GOPs whose two keyframes differ by as much as a cut can are then decoded (their
  I- and P-frames), in one more child, with the same `scdet` and the same cut rule as the
  reference; motion comes from five short runs of consecutive frames after keyframes, decoded
  by the first child. A cut inside a GOP always shows as a
  large difference between the GOP's two keyframes (the shots differ), so it is never skipped.
  Most such GOPs need no decode at all: the frame that opens a new shot cannot be predicted
  from the frames before it, so the encoder codes it (nearly) as a picture of its own, and its
  packet stands out from its neighbours' (`spikes`, from the packet sizes the probe listed). A
  differing GOP with such a packet has its cut there; one without (a cut on the next keyframe,
  a fade, fast motion) is decoded. A GOP whose keyframes look alike but which holds a spike (a
  short insert) is decoded too, and where spikes are common in GOPs without cuts (an encoder
  that writes intra frames on a schedule) they are not trusted at all.
  Where most GOPs must be decoded (fast motion everywhere), the reference pass runs instead.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import numpy as np

from processors.media import input_args, run_limited, sniff
from processors.media.frames import Sampled, Taps, sample
from processors.media.limits import LimitSettings
from processors.media.probe import Packet, probe_media
from schemas.events import MediaInfo

SILENCE_DB = -50
CUT_MIN_CHANGE = 4.0  # a cut changes at least 4 % of full scale on average per pixel
CUT_RATIO = 3.0  # ... and at least 3x the typical change of its neighbourhood
CUT_WINDOW = 8  # frames each side that define the neighbourhood
MIN_SHOT_S = 0.3
# a keyframe pair is decoded in full when it differs by this much, or by KEY_RATIO times its
# neighbours (a cut between similar shots), and at least KEY_FLOOR
KEY_ABSOLUTE = CUT_MIN_CHANGE
KEY_RATIO = 2.0
KEY_FLOOR = 1.0
KEY_WINDOW = 4
REFERENCE_SHARE = 0.4  # above this share of the duration to refine, decode it all at once
# a packet opens a new shot when it is at least this share of its GOP's keyframes' size and this
# many times larger than any other frame within SPIKE_NEIGHBOURS frames of it (a fade's or a
# motion's frames grow together; measured on the labelled clips: cuts 4.5-10x, dissolves < 2x)
SPIKE_OF_KEY = 0.25
SPIKE_ISOLATION = 3.0
SPIKE_NEIGHBOURS = 8
SPIKES_UNTRUSTED = 0.25  # share of alike keyframe pairs holding a spike past which none counts
MOTION_RUNS = 5  # short runs of consecutive frames measured for motion (3 runs of 4 frames: off
# the reference by up to 72 % on the labelled clips; 5 of 6: by up to 8 %)
MOTION_FRAMES = 6  # a run's first change (keyframe to the next frame) is left out: encoders
# make keyframes look different from their neighbours, which is not motion
_SCDET: Final = "scale=128:-2:flags=fast_bilinear,scdet=threshold=100"
_PRINT: Final = "metadata=mode=print:key=lavfi.scd.mafd"
_FRAME_T = re.compile(
    r"^\[Parsed_metadata_(\d+) @ 0x[0-9a-f]+\] frame:\s*\d+\s+pts:\s*-?\d+\s+pts_time:(\S+)"
)
_MAFD = re.compile(r"^\[Parsed_metadata_(\d+) @ 0x[0-9a-f]+\] lavfi\.scd\.mafd=([\d.]+)")
_SILENCE = re.compile(
    r"^\[Parsed_silencedetect_\d+ @ 0x[0-9a-f]+\] silence_(start|end): (-?[\d.]+)"
)
_LUFS = re.compile(r"^\s+I:\s+(-?[\d.]+) LUFS")
Diffs = list[tuple[float, float]]  # (frame time, change from the frame before, 0-100)


@dataclass
class Timeline:
    """What ffmpeg's filters logged: per-chain frame changes, and the audio measures."""

    chains: dict[int, Diffs] = field(default_factory=lambda: defaultdict(list))
    lufs: float | None = None
    silences: list[tuple[str, float]] = field(default_factory=list)

    @property
    def diffs(self) -> Diffs:
        """The one chain's changes (a single `scdet` chain)."""
        return next(iter(self.chains.values()), [])


@dataclass(frozen=True)
class VideoMeasures:
    cuts_s: list[float]  # time of the first frame of each new shot, from the first frame
    motion: float  # mean change between consecutive frames, 0-1 of full scale, cuts excluded
    lufs: float | None
    silence_ratio: float | None
    frames_decoded: int  # frames decoded in full for the cuts and the motion
    cuts_from_packets: int = 0  # cuts located by their packet's size, without a decode


def parse_timeline(stderr: str) -> Timeline:
    """Read the lines the metadata, silencedetect and ebur128 filters logged."""
    tl, frame_t = Timeline(), 0.0
    for line in stderr.splitlines():
        if m := _FRAME_T.match(line):
            frame_t = float(m.group(2))
        elif m := _MAFD.match(line):
            tl.chains[int(m.group(1))].append((frame_t, float(m.group(2))))
        elif m := _SILENCE.match(line):
            tl.silences.append((m.group(1), float(m.group(2))))
        elif m := _LUFS.match(line):
            tl.lufs = float(m.group(1))
    return tl


def audio_chain(info: MediaInfo) -> str | None:
    """The filters that measure loudness and silence, if there is audio."""
    if not info.has_audio:
        return None
    return f"silencedetect=n={SILENCE_DB}dB:d=0.5,ebur128=peak=none:framelog=quiet"


def silence_ratio(silences: list[tuple[str, float]], origin: float, duration: float) -> float:
    """Share of the duration inside silence_start/silence_end pairs (open end: till the end)."""
    total, start = 0.0, None
    for kind, t in silences:
        if kind == "start":
            start = t - origin
        elif start is not None:
            total += (t - origin) - max(0.0, start)
            start = None
    if start is not None:
        total += duration - max(0.0, start)
    return min(1.0, max(0.0, total / duration)) if duration > 0 else 0.0


def detect_cuts(mafd: Diffs) -> list[int]:
    """Find hard cuts: frames whose change stands out from their neighbourhood (adaptive).

    A cut must change at least `CUT_MIN_CHANGE` % and `CUT_RATIO` times the median change of
    the `CUT_WINDOW` frames each side, so steady fast motion is not mistaken for cuts. Gradual
    transitions (fades, dissolves) are not reported. The first value has no frame before it.
    """
    values = [v for _, v in mafd]
    cuts: list[int] = []
    for i in range(1, len(values)):
        near = values[max(1, i - CUT_WINDOW) : i] + values[i + 1 : i + 1 + CUT_WINDOW]
        typical = max(0.5, float(np.median(near))) if near else 0.5
        if values[i] < CUT_MIN_CHANGE or values[i] < CUT_RATIO * typical:
            continue
        if cuts and mafd[i][0] - mafd[cuts[-1]][0] < MIN_SHOT_S:
            continue
        cuts.append(i)
    return cuts


def scene_cuts(
    path: Path,
    info: MediaInfo,
    limits: LimitSettings,
    *,
    thorough: bool = False,
    first_pass: Sampled | None = None,
    packets: list[Packet] | None = None,
) -> VideoMeasures:
    """Cuts, motion and audio of a video; `first_pass` is the sampling decode, if it ran with
    `taps_for(info)` (else the keyframes are decoded here), `packets` the probe's list of the
    video's packets (else the file is probed here)."""
    if thorough:
        return reference(path, info, limits)
    if first_pass is None:
        first_pass = sample(path, info, 1, limits, taps=taps_for(info))
    if not first_pass.keyframes_only or not first_pass.log:
        return reference(path, info, limits)  # too few keyframes to go by: decode them all
    if packets is None:
        packets = probe_media(path, limits).packets
    return keyframe_first(path, info, limits, parse_timeline(first_pass.log), packets)


def taps_for(info: MediaInfo, *, thorough: bool = False) -> Taps:
    """What the sampling decode should measure on the side for `scene_cuts` (fast mode)."""
    if info.kind != "video" or thorough:
        return Taps()
    duration = info.duration_s or 0.0
    runs = tuple(duration * (i + 0.5) / MOTION_RUNS for i in range(MOTION_RUNS))
    fps = info.fps or 30.0
    return Taps(
        video=f"{_SCDET},{_PRINT}",
        audio=audio_chain(info),
        runs=runs if duration else (),
        run_s=(MOTION_FRAMES - 0.5) / fps,
    )


def reference(path: Path, info: MediaInfo, limits: LimitSettings) -> VideoMeasures:
    """Decode every frame once (small) for cuts and motion, and the audio (`thorough`)."""
    ctype, _ = sniff(path)
    args = ["-skip_loop_filter", "all", *input_args(path, ctype, limits)]
    args += ["-map", "0:v:0", "-filter_threads", "1", "-vf", f"{_SCDET},{_PRINT}"]
    if (audio := audio_chain(info)) is not None:
        args += ["-map", "0:a:0", "-af", audio]
    _, stderr = run_limited([*args, "-sn", "-dn", "-f", "null", "-"], limits)
    tl = parse_timeline(stderr)
    diffs = tl.diffs
    origin = diffs[0][0] if diffs else 0.0
    cut_frames = detect_cuts(diffs)
    skip = {0, *cut_frames}
    moving = [v for i, (_, v) in enumerate(diffs) if i not in skip]
    return VideoMeasures(
        cuts_s=[round(diffs[i][0] - origin, 3) for i in cut_frames],
        motion=_motion(moving),
        lufs=tl.lufs,
        silence_ratio=_silences(tl, info, origin, diffs),
        frames_decoded=len(diffs),
    )


def keyframe_first(
    path: Path, info: MediaInfo, limits: LimitSettings, first_pass: Timeline, packets: list[Packet]
) -> VideoMeasures:
    """Cuts and motion from the first pass (keyframe changes, motion runs) and the packet
    sizes, decoding in full only the GOPs where neither tells where the cut is."""
    chains = [first_pass.chains[k] for k in sorted(first_pass.chains)]
    keys, runs = (chains[0], chains[1:]) if chains else ([], [])
    if len(keys) < 2:
        return reference(path, info, limits)
    origin = keys[0][0]
    flagged = set(flagged_pairs(keys))
    half_frame = 0.5 / (info.fps or 30.0)
    found = _spikes_by_pair(keys, packets, half_frame)
    alike = [found[i] for i in range(1, len(keys)) if i not in flagged]
    trusted = sum(bool(f) for f in alike) <= SPIKES_UNTRUSTED * len(alike)
    cut_times: list[float] = []
    refine = []
    for i in range(1, len(keys)):
        if i in flagged and trusted and found[i]:
            cut_times += found[i]
        elif i in flagged or found[i]:
            refine.append((keys[i - 1][0], keys[i][0]))
    duration = info.duration_s or 0.0
    # after the last keyframe no keyframe pair tells whether the picture changed: a spike does
    if _tail_spikes(keys, packets, half_frame):
        refine.append((keys[-1][0], origin + duration))
    if duration and sum(b - a for a, b in refine) > REFERENCE_SHARE * duration:
        return reference(path, info, limits)
    from_packets = len(cut_times)
    moving = _without_cuts([v for run in runs for _, v in run[2:]])  # first: no frame before;
    # second: the keyframe's change
    refined = _decode_ranges(path, info, limits, refine)
    for diffs in refined:  # I- and P-frames only: changes span 1-4 frames, so no motion here
        cut_times += [diffs[i][0] for i in detect_cuts(diffs)]
    return VideoMeasures(
        cuts_s=[round(t - origin, 3) for t in _dedupe(sorted(cut_times))],
        motion=_motion(moving),
        lufs=first_pass.lufs,
        silence_ratio=_silences(first_pass, info, origin, keys),
        frames_decoded=sum(len(d) for d in refined) + sum(len(r) for r in runs) + len(keys),
        cuts_from_packets=from_packets,
    )


def spikes(packets: list[Packet], key_size: float) -> list[int]:
    """Indexes of the packets (one GOP's frames between its keyframes, in presentation order)
    that open a new shot: large, and alone in being large (see `SPIKE_OF_KEY`)."""
    sizes = [p.size for p in packets]
    out = []
    for j, size in enumerate(sizes):
        if size < SPIKE_OF_KEY * key_size:
            continue
        near = sizes[max(0, j - SPIKE_NEIGHBOURS) : j] + sizes[j + 1 : j + 1 + SPIKE_NEIGHBOURS]
        if not near or size >= SPIKE_ISOLATION * max(near):
            out.append(j)
    return out


def _spikes_by_pair(
    keys: Diffs, packets: list[Packet], half_frame: float
) -> dict[int, list[float]]:
    """For each keyframe pair (i-1, i) of the first pass, the times (in the first pass's time)
    of the packets between them that open a new shot. The probe's times are the file's: both
    lists start at the first keyframe, which aligns them (to within `half_frame`)."""
    if not packets:
        return {i: [] for i in range(1, len(keys))}
    shift = keys[0][0] - packets[0].t_s
    times = [p.t_s for p in packets]
    out: dict[int, list[float]] = {}
    for i in range(1, len(keys)):
        start, end = keys[i - 1][0] - shift, keys[i][0] - shift
        lo = bisect_left(times, start - half_frame)
        hi = bisect_right(times, end + half_frame)
        gop = packets[lo:hi]
        bounds = [
            p.size for p in gop if p.key and min(abs(p.t_s - start), abs(p.t_s - end)) <= half_frame
        ]
        inner = [p for p in gop if start + half_frame < p.t_s < end - half_frame]
        if len(bounds) < 2:  # the pair does not line up with the container's keyframes
            out[i] = []
            continue
        out[i] = [inner[j].t_s + shift for j in spikes(inner, sum(bounds) / len(bounds))]
    return out


def flagged_pairs(keys: Diffs) -> list[int]:
    """Indexes i of keyframes whose change from keyframe i-1 could hide a cut between them."""
    values = [v for _, v in keys]
    out = []
    for i in range(1, len(values)):
        near = values[max(1, i - KEY_WINDOW) : i] + values[i + 1 : i + 1 + KEY_WINDOW]
        typical = float(np.median(near)) if near else 0.0
        if values[i] >= KEY_ABSOLUTE or (
            values[i] >= KEY_FLOOR and values[i] >= KEY_RATIO * typical
        ):
            out.append(i)
    return out


def _decode_ranges(
    path: Path, info: MediaInfo, limits: LimitSettings, ranges: list[tuple[float, float]]
) -> list[Diffs]:
    """Decode the I- and P-frames of each range [start keyframe, end] (end frame included),
    in one child: one input per range, each seeked to its keyframe, each with its own `scdet`.
    B-frames are skipped (`-skip_frame bidir`): a cut on one is found on the next P-frame, at
    most a few frames (~0.1 s) late. Decoding then costs 0.55 of a full decode (a 1080p clip of
    the bench: 1.68 s of CPU against 3.04 s; skipping only unreferenced frames: 2.24 s)."""
    if not ranges:
        return []
    ctype, _ = sniff(path)
    fps = info.fps or 30.0
    args = ["-copyts"]
    graph = []
    for i, (start, end) in enumerate(ranges):
        length = end - start + 1.5 / fps
        args += ["-skip_loop_filter", "all", "-skip_frame", "bidir"]
        args += [
            "-ss",
            f"{start:.6f}",
            *input_args(path, ctype, limits, seconds=length, reopen=True),
        ]
        graph.append(f"[{i}:v:0]{_SCDET},{_PRINT}[o{i}]")
    args += ["-filter_threads", "1", "-filter_complex", ";".join(graph)]
    for i in range(len(ranges)):
        args += ["-map", f"[o{i}]"]
    _, stderr = run_limited([*args, "-f", "null", "-"], limits)
    chains = parse_timeline(stderr).chains
    return [chains[k] for k in sorted(chains)]


def _tail_spikes(keys: Diffs, packets: list[Packet], half_frame: float) -> bool:
    """Whether a packet after the last keyframe opens a new shot."""
    if not packets:
        return False
    last = keys[-1][0] - keys[0][0] + packets[0].t_s + half_frame
    tail = [p for p in packets[bisect_right([p.t_s for p in packets], last) :] if not p.key]
    key_sizes = [p.size for p in packets if p.key]
    return bool(tail and spikes(tail, key_sizes[-1] if key_sizes else 0))


def _without_cuts(changes: list[float]) -> list[float]:
    """Drop the changes of a motion run that are cuts by `detect_cuts`' rule (a run can start
    on the keyframe just before a cut)."""
    if not changes:
        return changes
    typical = max(0.5, float(np.median(changes)))
    return [v for v in changes if v < CUT_MIN_CHANGE or v < CUT_RATIO * typical]


def _dedupe(times: list[float]) -> list[float]:
    """One cut per shot change: ranges that share an end keyframe can both report it."""
    out: list[float] = []
    for t in times:
        if not out or t - out[-1] >= MIN_SHOT_S:
            out.append(t)
    return out


def _motion(moving: list[float]) -> float:
    return round(float(np.mean(moving)) / 100, 5) if moving else 0.0


def _silences(tl: Timeline, info: MediaInfo, origin: float, frames: Diffs) -> float | None:
    if not info.has_audio:
        return None
    duration = info.duration_s or (frames[-1][0] - origin if frames else 0.0)
    return silence_ratio(tl.silences, origin, duration)
