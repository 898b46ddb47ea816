"""Labelled clips for the scene-cut tests and bench: hard cuts at known frames, and look-alikes.

Every clip is drawn frame by frame in numpy (textured shots, slow or fast pans, moving balls,
film grain) and piped as raw BGR into libx264 like an upload: yuv420p, 30 fps, CRF 23, a 2 s
GOP (keyint 60), AAC audio on some. So cuts are frame-accurate: a cut's time is the time of the
first frame of the new shot, `frame / 30` s from the first frame (the convention of the
`cuts_s` of `processors.analyzers.scenes.scene_cuts`). Each clip is 6-12 s long.

The kinds (`KINDS`), the first clip of each being the one `labelled_set(one_per_kind=True)` makes:
- `cut_on_keyframe`: hard cuts on GOP boundaries (fixed GOP, x264 scenecut off);
- `cut_in_gop`: hard cuts inside GOPs with x264 scenecut off, so no keyframe at the cut; one a
  frame after a keyframe, one a frame before, two inside one GOP;
- `cut_scenecut`: cuts off the 2 s grid with x264 scenecut on (the encoder opens a GOP there);
- `insert_in_gop`: a short insert and the cut back, both inside one GOP: the keyframes on both
  sides show the same shot;
- `dissolve`: dissolves and fades through black between shots. These are NOT hard cuts and are
  labelled as no cut: the reference (every frame through ffmpeg's scdet, then an adaptive
  threshold) reports hard cuts only, never gradual transitions. Their mid-points are `decoys_s`;
- `static`: long shots without any motion (a cut between two stills; one still alone);
- `fast_motion`: fast pans and shake over textured images, fast objects and grain; no cut;
- `colour_cut`: cuts between shots of the same luma level and spread (mean 128, spread 20) and
  different colours;
- `chroma_cut`: cuts where only the colour changes: the luma picture runs on unchanged. These
  are cuts, and labelled so, but the reference cannot see them: ffmpeg's `scdet` compares the
  luma plane only for YUV input, so expect a recall of 0 from it here;
- `flash`: one bright frame inside a shot (75 % of the way to white) is not a cut, and is
  labelled as none (its time is in `decoys_s`); the reference does report it as a cut (a frame
  that differs from both of its neighbours), so expect its false positives here.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import cv2
import numpy as np
import numpy.typing as npt

from processors.media import ffmpeg_exe
from processors.synthetic.samples import Image, _encode

FPS = 30
GOP = 2 * FPS
VERSION = 3  # part of the file names: bump it when the drawings change, so caches are remade
REF_WIDTH = 640  # speeds and sizes below are in pixels at this width, scaled to the clip's
FLASH = 0.75  # a flash frame is this much of the way to white
KINDS = (
    "cut_on_keyframe",
    "cut_in_gop",
    "cut_scenecut",
    "insert_in_gop",
    "dissolve",
    "static",
    "fast_motion",
    "colour_cut",
    "chroma_cut",
    "flash",
)

Floats = npt.NDArray[np.float32]
Gop = Literal["fixed", "scenecut"]


@dataclass(frozen=True)
class LabelledClip:
    """A generated clip, its hard cuts (s from the first frame) and what it is a case of."""

    path: Path
    cuts_s: list[float]
    kind: str
    decoys_s: list[float] = field(default_factory=list)  # look-alikes that are not cuts


@dataclass(frozen=True)
class Shot:
    """What one camera sees: a textured picture, its motion, its objects and its grain."""

    seed: int
    pan: tuple[float, float] = (1.0, 0.0)  # px a frame (x, y)
    shake: float = 0.0  # amplitude in px of a smooth handheld shake
    balls: int = 1
    ball_speed: float = 4.0  # px a frame
    grain: float = 3.0  # standard deviation of the per-frame grain, 0-255
    chroma: tuple[int, int] | None = None  # (Cr, Cb): same luma as every other chroma shot


def _still(seed: int) -> Shot:
    """A locked-off camera on a still picture: no pan, no objects, no grain."""
    return Shot(seed=seed, pan=(0.0, 0.0), balls=0, grain=0.0)


@dataclass(frozen=True)
class Spec:
    """A clip: segments of shots, how each segment joins the previous one, flashes, encoding."""

    name: str
    kind: str
    shots: tuple[Shot, ...]
    plan: tuple[tuple[int, int], ...]  # (frames, shot index) segments, in order
    joins: tuple[tuple[str, int], ...] = ()  # per boundary: ("cut"|"dissolve"|"fade", frames)
    flashes: tuple[int, ...] = ()  # frame indices
    gop: Gop = "fixed"
    audio: bool = False

    @property
    def starts(self) -> list[int]:
        """The first frame of each segment."""
        out, at = [], 0
        for frames, _ in self.plan:
            out.append(at)
            at += frames
        return out

    @property
    def total(self) -> int:
        return sum(frames for frames, _ in self.plan)

    def join(self, k: int) -> tuple[str, int]:
        """How segment `k` (k >= 1) begins."""
        return self.joins[k - 1] if self.joins else ("cut", 0)

    def labels(self) -> tuple[list[float], list[float]]:
        """Hard cut times, and the times of the look-alikes (transition mid-points, flashes)."""
        cuts: list[float] = []
        decoys = [f / FPS for f in self.flashes]
        for k, start in enumerate(self.starts[1:], 1):
            kind, _ = self.join(k)
            (cuts if kind == "cut" else decoys).append(start / FPS)
        return [round(t, 4) for t in cuts], sorted(round(t, 4) for t in decoys)


def _cuts(*lengths: int, shots: int | None = None) -> tuple[tuple[int, int], ...]:
    """Segments of `lengths` frames showing shots 0, 1, 2, ... (cycling if `shots` is given)."""
    return tuple((n, i % shots if shots else i) for i, n in enumerate(lengths))


def _specs() -> list[Spec]:
    """Every labelled clip; the first of each kind is the one-per-kind subset."""
    moving = tuple(Shot(seed=s, pan=(1.5 - s % 3, 0.5 * (s % 2)), grain=3.0) for s in range(1, 8))
    colours = ((170, 90), (90, 170), (150, 150), (100, 100))
    tinted = tuple(Shot(seed=31 + k, pan=(1.0, 0.0), chroma=c) for k, c in enumerate(colours))
    same_luma = tuple(Shot(seed=0, pan=(1.0, 0.0), chroma=c) for c in colours)
    return [
        Spec("keyframe_a", "cut_on_keyframe", moving, _cuts(60, 60, 120, 60), audio=True),
        Spec("keyframe_b", "cut_on_keyframe", moving[3:], _cuts(120, 180, 60)),
        Spec("in_gop_a", "cut_in_gop", moving, _cuts(37, 24, 39, 79, 50, 71)),
        Spec("in_gop_b", "cut_in_gop", moving[2:], _cuts(100, 10, 85, 47, 58), audio=True),
        Spec("scenecut_a", "cut_scenecut", moving, _cuts(45, 65, 90, 60, 40), gop="scenecut"),
        Spec("scenecut_b", "cut_scenecut", moving[1:], _cuts(80, 97, 103), gop="scenecut"),
        Spec("insert_a", "insert_in_gop", moving, _cuts(130, 12, 58, 15, 85, shots=2)),
        Spec(
            "insert_b",
            "insert_in_gop",
            (moving[4], moving[5], moving[6]),
            ((75, 0), (20, 1), (100, 0), (14, 2), (61, 0)),
            audio=True,
        ),
        Spec(
            "dissolve_a",
            "dissolve",
            moving,
            _cuts(90, 80, 80, 50),
            (("dissolve", 30), ("fade", 30), ("dissolve", 16)),
            gop="scenecut",
        ),
        Spec(
            "dissolve_b",
            "dissolve",
            moving[3:],
            _cuts(130, 130, 100),
            (("fade", 20), ("dissolve", 45)),
            audio=True,
        ),
        Spec(
            "static_a",
            "static",
            (_still(11), _still(12)),
            _cuts(197, 163),
        ),
        Spec("static_b", "static", (_still(13),), _cuts(360), audio=True),
        Spec(
            "fast_a",
            "fast_motion",
            (Shot(seed=21, pan=(20.0, 1.0), balls=3, ball_speed=25.0, grain=6.0),),
            _cuts(300),
            gop="scenecut",
        ),
        Spec(
            "fast_b",
            "fast_motion",
            (Shot(seed=22, pan=(4.0, 0.0), shake=40.0, balls=4, ball_speed=30.0, grain=8.0),),
            _cuts(300),
            audio=True,
        ),
        Spec("colour_a", "colour_cut", tinted, _cuts(50, 70, 80, 40)),
        Spec("colour_b", "colour_cut", tinted[1:], _cuts(75, 90, 75), gop="scenecut"),
        Spec("chroma_a", "chroma_cut", same_luma, _cuts(50, 70, 80, 40)),
        Spec("flash_a", "flash", moving, _cuts(150, 90), flashes=(100, 190), gop="scenecut"),
        Spec("flash_b", "flash", moving[5:], _cuts(180), flashes=(61,)),
    ]


def _texture(rng: np.random.Generator, height: int, width: int, scale: float) -> Floats:
    """A picture with large colour blobs, fine detail and hard-edged shapes (BGR, float)."""

    def field_of(cell: float, channels: int) -> Floats:
        small = rng.random((max(2, round(height / cell)), max(2, round(width / cell)), channels))
        big = cv2.resize(small.astype(np.float32), (width, height), interpolation=cv2.INTER_CUBIC)
        return np.asarray(big, np.float32).reshape(height, width, channels)

    low, high = rng.uniform(20, 120, 3), rng.uniform(140, 240, 3)
    img = low + (high - low) * field_of(90 * scale, 3)
    img += 60 * (field_of(6 * scale, 1) - 0.5)
    out = np.ascontiguousarray(np.clip(img, 0, 255).astype(np.uint8))
    for _ in range(max(4, width * height // round(12000 * scale * scale))):
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        x, y = int(rng.integers(0, width)), int(rng.integers(0, height))
        size = int(rng.integers(4, 40) * scale) + 2
        if rng.random() < 0.5:
            cv2.rectangle(out, (x, y), (x + size, y + size // 2), colour, -1)
        else:
            cv2.circle(out, (x, y), size // 2, colour, -1, cv2.LINE_AA)
    return out.astype(np.float32)


def _tinted(texture: Floats, chroma: tuple[int, int]) -> Floats:
    """The texture's luma, brought to mean 128 and spread 20 (and 90-165, so that no channel
    clips), with a chroma of its own."""
    grey = cv2.cvtColor(np.clip(texture, 0, 255).astype(np.uint8), cv2.COLOR_BGR2GRAY)
    grey = grey.astype(np.float32)
    luma = np.clip(128 + 20 * (grey - grey.mean()) / max(1.0, float(grey.std())), 90, 165)
    cr, cb = (np.full_like(luma, c) for c in chroma)
    ycrcb = np.stack([luma, cr, cb], axis=-1) / 255  # float conversions work on 0-1
    return np.asarray(cv2.cvtColor(ycrcb, cv2.COLOR_YCrCb2BGR), np.float32) * 255


class _Camera:
    """Renders one shot at any frame of its own time: a window onto a larger canvas."""

    def __init__(self, shot: Shot, width: int, height: int, frames: range) -> None:
        self.shot, self.width, self.height = shot, width, height
        self.scale = width / REF_WIDTH
        offsets = [self._offset(j) for j in frames]
        self.x0 = min(x for x, _ in offsets)
        self.y0 = min(y for _, y in offsets)
        cw = max(x for x, _ in offsets) - self.x0 + width
        ch = max(y for _, y in offsets) - self.y0 + height
        rng = np.random.default_rng(shot.seed)
        canvas = _texture(rng, ch, cw, self.scale)
        canvas = _tinted(canvas, shot.chroma) if shot.chroma else canvas
        self.canvas = np.clip(canvas, 0, 255).astype(np.uint8)  # a long pan's canvas is big
        self.balls = [
            (rng.uniform(0, width), rng.uniform(0, height), rng.uniform(0, 2 * math.pi))
            for _ in range(shot.balls)
        ]
        self.ball_colour = tuple(float(c) for c in rng.integers(0, 256, 3))
        if shot.chroma:  # a grey ball: the same luma in every tinted shot
            self.ball_colour = (200.0, 200.0, 200.0)

    def _offset(self, j: int) -> tuple[int, int]:
        s, shot = self.scale, self.shot
        wobble = shot.shake * s
        x = shot.pan[0] * s * j + wobble * math.sin(2 * math.pi * j / 13)
        y = shot.pan[1] * s * j + 0.6 * wobble * math.sin(2 * math.pi * j / 19 + 1)
        return round(x), round(y)

    def frame(self, j: int) -> Floats:
        """The picture at frame `j` of the shot (before grain)."""
        x, y = self._offset(j)
        x, y = x - self.x0, y - self.y0
        img = self.canvas[y : y + self.height, x : x + self.width].copy()
        radius = max(3, round(self.height / 9))
        speed = self.shot.ball_speed * self.scale
        for bx, by, angle in self.balls:
            px = _bounce(bx + speed * j * math.cos(angle), self.width)
            py = _bounce(by + speed * j * math.sin(angle), self.height)
            cv2.circle(img, (px, py), radius, self.ball_colour, -1, cv2.LINE_AA)
        return img.astype(np.float32)


def _bounce(position: float, size: int) -> int:
    """Fold a straight-line position into [0, size) as if it bounced off the edges."""
    period = 2 * size
    p = position % period
    return round(p if p < size else period - p)


def _weights(spec: Spec, i: int) -> list[tuple[int, float]]:
    """Which segments frame `i` shows and how much of each (dissolves, fades through black)."""
    starts = spec.starts
    k = max(n for n, s in enumerate(starts) if s <= i)
    for b in (k, k + 1):  # the join at the start of this segment, or of the next one
        if b < 1 or b >= len(starts):
            continue
        kind, n = spec.join(b)
        start, half = starts[b] - n // 2, n // 2
        if kind == "dissolve" and start <= i < start + n:
            alpha = (i - start + 1) / (n + 1)
            return [(b - 1, 1 - alpha), (b, alpha)]
        if kind == "fade" and starts[b] - half <= i < starts[b]:
            return [(b - 1, (starts[b] - 1 - i) / half)]
        if kind == "fade" and starts[b] <= i < starts[b] + half:
            return [(b, (i - starts[b]) / half)]
    return [(k, 1.0)]


def _frames(spec: Spec, width: int, height: int) -> Iterator[Image]:
    """Draw the frames of a clip, one at a time."""
    mixes = [_weights(spec, i) for i in range(spec.total)]
    origin: dict[int, int] = {}  # a shot's own time starts where it first appears ...
    for (_, shot), start in zip(spec.plan, spec.starts, strict=True):
        # ... but tinted shots share the clip's time, so their luma runs on across the cuts
        origin.setdefault(shot, 0 if spec.shots[shot].chroma else start)
    seen: dict[int, list[int]] = {}
    for i, mix in enumerate(mixes):
        for seg, _ in mix:
            shot = spec.plan[seg][1]
            seen.setdefault(shot, []).append(i - origin[shot])
    cameras = {
        s: _Camera(
            spec.shots[s],
            width,
            height,
            range(spec.total) if spec.shots[s].chroma else range(min(js), max(js) + 1),
        )
        for s, js in seen.items()
    }
    grain_rng = np.random.default_rng(1000 + len(spec.name))
    bank = grain_rng.standard_normal((16, height, width, 1), dtype=np.float32)
    for i, mix in enumerate(mixes):
        img = np.zeros((height, width, 3), np.float32)
        for seg, weight in mix:
            shot = spec.plan[seg][1]
            cam = cameras[shot]
            if weight > 0:
                img += weight * (cam.frame(i - origin[shot]) + cam.shot.grain * bank[i % 16])
        if i in spec.flashes:
            img = img * (1 - FLASH) + 255 * FLASH
        yield np.clip(img, 0, 255).astype(np.uint8)


def _encoder(path: Path, width: int, height: int, spec: Spec) -> list[str]:
    """ffmpeg reading raw BGR on stdin and writing H.264 (2 s GOP) in mp4, AAC if `audio`."""
    seconds = spec.total / FPS
    x264 = f"keyint={GOP}"
    if spec.gop == "fixed":  # no keyframe at cuts: they fall where the 2 s grid puts them
        x264 = f"scenecut=0:keyint={GOP}:min-keyint={GOP}"
    cmd = [ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y"]
    cmd += ["-f", "rawvideo", "-pix_fmt", "bgr24", "-s", f"{width}x{height}"]
    cmd += ["-r", str(FPS), "-i", "pipe:0"]
    if spec.audio:
        cmd += ["-f", "lavfi", "-i", f"sine=frequency=330:sample_rate=48000:duration={seconds}"]
        cmd += ["-map", "0:v", "-map", "1:a", "-c:a", "aac", "-b:a", "96k"]
    cmd += ["-c:v", "libx264", "-preset", "veryfast", "-crf", "23", "-pix_fmt", "yuv420p"]
    cmd += ["-g", str(GOP), "-x264-params", x264, "-movflags", "+faststart"]
    return [*cmd, "-t", f"{seconds:.4f}", str(path)]


def make_clip(spec: Spec, path: Path, width: int, height: int) -> Path:
    """Encode one labelled clip (atomically: a half-written file is never taken for the clip)."""
    if width % 2 or height % 2:
        msg = f"width and height must be even for yuv420p, got {width}x{height}"
        raise ValueError(msg)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f"{path.stem}.partial.mp4")
    _encode(_encoder(partial, width, height, spec), _frames(spec, width, height), path.name)
    partial.rename(path)
    return path


def labelled_set(
    folder: Path, *, width: int = 640, height: int = 360, one_per_kind: bool = False
) -> list[LabelledClip]:
    """Make (once: cached by file name) the labelled clips in `folder` and return them."""
    clips, kinds = [], set()
    for spec in _specs():
        if one_per_kind and spec.kind in kinds:
            continue
        kinds.add(spec.kind)
        path = folder / f"{spec.name}_{width}x{height}_v{VERSION}.mp4"
        if not path.exists():
            make_clip(spec, path, width, height)
        cuts, decoys = spec.labels()
        clips.append(LabelledClip(path, cuts, spec.kind, decoys))
    return clips
