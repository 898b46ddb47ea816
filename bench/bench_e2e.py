"""End to end over HTTP: how fast the embedded default stack turns uploads into results.

Run: `python -m bench.bench_e2e` (full size: 12 + 12 clips, 54 images, 5 latency runs each;
about 13 min the first time on 2 cores, 9 of them making the media, then about 4 min) or
`python -m bench.bench_e2e --quick` (2 + 2 ten-second clips, 6 images, 2 runs; about 1 min
once its media exist) while developing. `--clips N --images M --repeat R` set the sizes.

It makes its own media once (cached in bench/out/e2e/): testsrc2 + grain clips, H.264 1080p30
at 6 Mbit/s (x264 superfast), GOP 2 s, AAC audio, N distinct 16:9 (1920x1080) and N distinct
9:16 (1080x1920), plus R more 16:9 clips for the latency runs, and M + R distinct 1080x1080
JPEG stills. Then it
starts the stack `reelscope up` runs (`streams.supervisor.Stack`: embedded broker, one worker
with its default 2 check processes, the API) with the default settings, a folder bucket in a
temporary directory and the local analyzer; registers a brand with palette + logo (as the demo
does), and over HTTP (httpx, loopback only) measures:

- a burst of the N 16:9 clips, all uploaded at once, from the first upload's start to the last
  `done`/`failed` seen by `GET /v1/media/{id}` (each pending id polled, one request at a time,
  every `--poll` s): video-seconds per wall-second per core (cores = os.cpu_count());
- the same for the N 9:16 clips, and the M images (images per second per core);
- latency on the idle stack: R clips and R images never uploaded before, one at a time, upload
  start -> done, p50 / p95;
- the peak resident memory of the worker's process tree (worker + decoder pool + their ffmpeg
  children: sum of VmRSS, sampled every 0.2 s) in each burst, and the CPU the worker tree and
  the API used;
- per-stage mean seconds from the worker's `reelscope_stage_seconds` (sum / count per phase);
- the limit, in the same run on the same files, before the stack starts: ffmpeg's keyframe-only
  decode (`-skip_frame nokey`, one thread, one process at a time) of the 16:9 and 9:16 clips,
  and OpenCV's decode of the JPEGs; throughput figures are printed as ratios to it.

Prints one table (what | figure | target | ratio to the decode limit) and the settings used.
Ctrl-C (or SIGTERM) stops the stack; the temporary bucket is deleted.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import resource
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import httpx
import numpy as np
from prometheus_client.parser import text_string_to_metric_families

from processors.config import Settings
from processors.media import ffmpeg_exe
from processors.synthetic.samples import make_logo
from streams.broker import free_port
from streams.demo import RULES, wait_ready
from streams.supervisor import Stack, topic_partitions

OUT = Path(__file__).resolve().parent / "out" / "e2e"
CORES = os.cpu_count() or 1
BRAND = "bench-e2e"
PLATFORMS = {"16:9": "youtube", "9:16": "instagram_reels,tiktok", "image": "instagram_feed"}
SHAPES = {"16:9": (1920, 1080), "9:16": (1080, 1920)}
IMAGE_SIDE = 1080
TARGETS = {"16:9": 25.0, "9:16": 12.0, "image": 25.0, "clip_p95": 3.0, "image_p95": 0.5}
CLK_TCK = os.sysconf("SC_CLK_TCK")


# --- media -------------------------------------------------------------------------------


def _ffmpeg(args: Sequence[str], out: Path) -> Path:
    """Run ffmpeg writing `out` through a temporary name, so a cached file is always whole."""
    if out.exists():
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.stem}.{os.getpid()}.tmp{out.suffix}")
    cmd = [ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-nostdin", "-y", *args]
    try:
        subprocess.run([*cmd, str(tmp)], check=True)
        tmp.rename(out)
    finally:
        tmp.unlink(missing_ok=True)
    return out


def make_clip(width: int, height: int, seconds: int, seed: int) -> Path:
    """The clip kind of the issue (testsrc2 + grain, a brightness and hue jump every 5 s,
    6 Mbit/s, GOP 2 s, AAC) at any size; `seed` shifts hue, grain and tone, so
    every seed gives other bytes. x264 `superfast` rather than `veryfast`: it makes the clips
    1.7x sooner, still with CABAC, so a frame costs the decoder about as much."""
    video = (
        f"testsrc2=s={width}x{height}:r=30:d={seconds},"
        "eq=brightness='0.25*mod(floor(t/5)\\,2)':eval=frame,"
        f"hue=H=2*PI*floor(t/5)/6+{0.41 * seed:.2f},"
        f"noise=alls=10:allf=t:all_seed={seed + 1}"
    )
    args = [
        "-f",
        "lavfi",
        "-i",
        video,
        "-f",
        "lavfi",
        "-i",
        f"sine=frequency={300 + 7 * seed}:d={seconds}",
        "-c:v",
        "libx264",
        "-preset",
        "superfast",
        "-b:v",
        "6M",
        "-maxrate",
        "6M",
        "-bufsize",
        "12M",
        "-g",
        "60",
        "-keyint_min",
        "60",
        "-pix_fmt",
        "yuv420p",
        "-c:a",
        "aac",
        "-b:a",
        "128k",
        "-movflags",
        "+faststart",
    ]
    return _ffmpeg(args, OUT / f"clip_{width}x{height}_{seconds}s_{seed:03d}.mp4")


def make_still(seed: int) -> Path:
    """A 1080x1080 JPEG: testsrc2's frame at t = seed s, hue-shifted, with its own grain."""
    video = (
        f"testsrc2=s={IMAGE_SIDE}x{IMAGE_SIDE}:r=1:d={seed + 1},trim=start_frame={seed},"
        f"hue=H={0.41 * seed:.2f},noise=alls=10:allf=t:all_seed={seed + 1}"
    )
    args = ["-f", "lavfi", "-i", video, "-frames:v", "1", "-q:v", "2"]
    return _ffmpeg(args, OUT / f"still_{IMAGE_SIDE}_{seed:03d}.jpg")


@dataclass
class Media:
    seconds: int
    bursts: dict[str, list[Path]]  # "16:9", "9:16", "image" -> files
    fresh_clips: list[Path]  # for the latency runs: never in a burst
    fresh_images: list[Path]
    warmup: list[Path]


def make_media(clips: int, images: int, repeat: int, seconds: int) -> Media:
    w, h = SHAPES["16:9"]
    wide = [make_clip(w, h, seconds, seed) for seed in range(clips + repeat)]
    tall = [make_clip(*SHAPES["9:16"], seconds, seed) for seed in range(clips)]
    stills = [make_still(seed) for seed in range(images + repeat)]
    return Media(
        seconds=seconds,
        bursts={"16:9": wide[:clips], "9:16": tall, "image": stills[:images]},
        fresh_clips=wide[clips:],
        fresh_images=stills[images:],
        warmup=[make_clip(w, h, 2, 999), make_still(999)],
    )


# --- limits ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Limit:
    """A decode rate (video-seconds or images per second) per wall-second and per CPU-second."""

    wall: float
    cpu: float


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def keyframe_rate(clips: Sequence[Path], seconds: int) -> Limit:
    """ffmpeg decoding only keyframes, one thread, one file at a time (so one core)."""
    wall = cpu = 0.0
    for clip in clips:
        cmd = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-threads", "1", "-skip_frame", "nokey"]
        cmd += ["-i", str(clip), "-map", "0:v:0", "-f", "null", "-"]
        started, cpu0 = time.perf_counter(), _children_cpu()
        subprocess.run(cmd, check=True, capture_output=True)
        wall += time.perf_counter() - started
        cpu += _children_cpu() - cpu0
    return Limit(len(clips) * seconds / wall, len(clips) * seconds / cpu)


def jpeg_rate(images: Sequence[Path]) -> Limit:
    """OpenCV decoding the JPEGs on one thread (the bytes already in memory)."""
    data = [np.frombuffer(p.read_bytes(), np.uint8) for p in images]
    cv2.setNumThreads(1)
    started, cpu0 = time.perf_counter(), time.thread_time()
    for d in data:
        if cv2.imdecode(d, cv2.IMREAD_COLOR) is None:
            raise RuntimeError("OpenCV could not decode a bench still")
    wall, cpu = time.perf_counter() - started, time.thread_time() - cpu0
    return Limit(len(data) / wall, len(data) / cpu)


# --- process tree: memory and CPU --------------------------------------------------------


def _stat(pid: int) -> list[str] | None:
    """The fields of /proc/<pid>/stat after the command name (index 0 = state)."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return raw[raw.rindex(")") + 2 :].split()


def tree(root: int) -> list[int]:
    """`root` and all its live descendants."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (fields := _stat(int(entry.name))) is not None:
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def rss_bytes(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def cpu_seconds(pids: Sequence[int]) -> float:
    """User + system CPU of these processes and of their children they have waited for."""
    total = 0
    for pid in pids:
        if (fields := _stat(pid)) is not None:
            total += sum(int(v) for v in fields[11:15])  # utime stime cutime cstime
    return total / CLK_TCK


class TreeWatch(threading.Thread):
    """Sample the worker tree's summed VmRSS every 0.2 s; keep the peak of the current phase
    and every pid seen (with its start time), to end stragglers after the stack stops."""

    def __init__(self, root: int, every: float = 0.2) -> None:
        super().__init__(daemon=True)
        self.root, self.every = root, every
        self.phase: str | None = None
        self.peak: dict[str, int] = {}
        self.most: dict[str, int] = {}  # phase -> most processes in the tree at once
        self.seen: dict[int, str] = {}
        self._stop = threading.Event()

    def run(self) -> None:
        while not self._stop.wait(self.every):
            pids = tree(self.root)
            for pid in pids:
                if (fields := _stat(pid)) is not None:
                    self.seen.setdefault(pid, fields[19])  # starttime
            if self.phase is not None:
                rss = sum(rss_bytes(pid) for pid in pids)
                self.peak[self.phase] = max(self.peak.get(self.phase, 0), rss)
                self.most[self.phase] = max(self.most.get(self.phase, 0), len(pids))

    def stop(self) -> None:
        self._stop.set()

    def stragglers(self) -> list[int]:
        """Seen pids still alive as the same process (same start time)."""
        return [p for p, start in self.seen.items() if (f := _stat(p)) and f[19] == start]


# --- the stack ---------------------------------------------------------------------------


def stack_settings(bucket: Path) -> Settings:
    """The defaults, but a folder bucket of our own and free ports (another stack may run)."""
    os.environ["REELSCOPE_STORE__URL"] = f"file://{bucket}"
    os.environ["REELSCOPE_API__PORT"] = str(free_port())
    os.environ["REELSCOPE_WORKER__WEB_PORT"] = str(free_port())
    os.environ.setdefault("REELSCOPE_LOG_LEVEL", "WARNING")
    return Settings()


def register_brand(http: httpx.Client, logo: Path) -> None:
    http.put(f"/v1/brands/{BRAND}", json={**RULES, "name": "bench e2e"}).raise_for_status()
    headers = {"content-type": "image/png"}
    r = http.put(f"/v1/brands/{BRAND}/logo", content=logo.read_bytes(), headers=headers)
    r.raise_for_status()


StageTotals = dict[str, tuple[float, float]]  # stage -> (sum of seconds, count)


def stage_totals(port: int) -> StageTotals:
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
    sums: dict[str, float] = {}
    counts: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        if family.name != "reelscope_stage_seconds":
            continue
        for s in family.samples:
            if s.name.endswith("_sum"):
                sums[s.labels["stage"]] = s.value
            elif s.name.endswith("_count"):
                counts[s.labels["stage"]] = s.value
    return {stage: (sums.get(stage, 0.0), counts.get(stage, 0.0)) for stage in counts}


@dataclass
class Phase:
    """What one phase measured."""

    name: str
    wall: float = 0.0
    latencies: list[float] = field(default_factory=list)
    polls: int = 0  # GET /v1/media/{id} sent
    poll_s: float = 0.0  # time spent waiting for their answers
    statuses: list[str] = field(default_factory=list)
    worker_cpu: float = 0.0
    api_cpu: float = 0.0
    stages: dict[str, float] = field(default_factory=dict)  # stage -> mean seconds

    @property
    def done(self) -> str:
        return f"{self.statuses.count('done')}/{len(self.statuses)} done"


@dataclass
class Bench:
    stack: Stack
    watch: TreeWatch
    poll: float
    phases: dict[str, Phase] = field(default_factory=dict)

    @property
    def worker_pid(self) -> int:
        return self.stack.children["worker"].pid

    @property
    def api_pid(self) -> int:
        return self.stack.children["api"].pid

    @contextmanager
    def phase(self, name: str) -> Iterator[Phase]:
        """Measure CPU, memory and stage times around one phase."""
        port = self.stack.settings.worker.web_port
        before, out = stage_totals(port), Phase(name)
        worker0, api0 = cpu_seconds(tree(self.worker_pid)), cpu_seconds([self.api_pid])
        self.watch.phase = name
        try:
            yield out
        finally:
            self.watch.phase = None
        out.worker_cpu = cpu_seconds(tree(self.worker_pid)) - worker0
        out.api_cpu = cpu_seconds([self.api_pid]) - api0
        for stage, (total, count) in stage_totals(port).items():
            s0, c0 = before.get(stage, (0.0, 0.0))
            if count > c0:
                out.stages[stage] = (total - s0) / (count - c0)
        self.phases[name] = out

    def settle(self, quiet: float = 0.15, most: float = 20.0) -> None:
        """Wait until the worker tree is idle (< `quiet` CPU-s in 1 s; the lake flushed)."""
        deadline = time.monotonic() + most
        while time.monotonic() < deadline:
            cpu = cpu_seconds(tree(self.worker_pid))
            time.sleep(1.0)
            if cpu_seconds(tree(self.worker_pid)) - cpu < quiet:
                return

    async def batch(self, files: Sequence[Path], platforms: str, timeout: float) -> Phase:
        """Upload all `files` at once; poll each pending id until done or failed. Phase.wall:
        first upload start -> last final status; latencies: each upload start -> its final."""
        out = Phase("batch")
        pending: dict[str, float] = {}  # media_id -> its upload's start
        uploads_left = len(files)
        deadline = time.perf_counter() + timeout
        limits = httpx.Limits(max_connections=len(files) + 2)
        async with httpx.AsyncClient(
            base_url=self.stack.api_url, timeout=timeout, limits=limits
        ) as http:

            async def upload(path: Path) -> None:
                nonlocal uploads_left
                started = time.perf_counter()
                with path.open("rb") as fh:
                    r = await http.post(
                        "/v1/media",
                        files={"file": (path.name, fh)},
                        data={"brand_id": BRAND, "platforms": platforms},
                    )
                r.raise_for_status()
                pending[r.json()["media_id"]] = started
                uploads_left -= 1

            first = time.perf_counter()
            tasks = [asyncio.create_task(upload(p)) for p in files]
            while uploads_left or pending:
                if time.perf_counter() > deadline:
                    raise SystemExit(f"no result for {len(pending)} media within {timeout:.0f} s")
                self.stack.check()
                for task in tasks:
                    if task.done() and task.exception() is not None:
                        raise task.exception()  # type: ignore[misc]
                for media_id in list(pending):
                    asked = time.perf_counter()
                    r = await http.get(f"/v1/media/{media_id}")
                    out.polls += 1
                    out.poll_s += time.perf_counter() - asked
                    if r.status_code == 200 and r.json()["status"] != "processing":
                        now = time.perf_counter()
                        out.latencies.append(now - pending.pop(media_id))
                        out.statuses.append(r.json()["status"])
                        out.wall = now - first
                await asyncio.sleep(self.poll)
            await asyncio.gather(*tasks)
        return out

    def burst(self, name: str, files: Sequence[Path], platforms: str, timeout: float) -> Phase:
        self.settle()
        with self.phase(name) as p:
            got = asyncio.run(self.batch(files, platforms, timeout))
            p.wall, p.latencies, p.statuses = got.wall, got.latencies, got.statuses
            p.polls, p.poll_s = got.polls, got.poll_s
        return p

    def one_by_one(self, name: str, files: Sequence[Path], platforms: str, timeout: float) -> Phase:
        """Each file alone on an idle stack."""
        p = Phase(name)
        for path in files:
            self.settle()
            with self.phase(name) as one:
                got = asyncio.run(self.batch([path], platforms, timeout))
            p.latencies += got.latencies
            p.statuses += got.statuses
            p.polls += got.polls
            p.poll_s += got.poll_s
            p.worker_cpu += one.worker_cpu
            p.api_cpu += one.api_cpu
            for stage, mean in one.stages.items():  # mean of the per-run means
                p.stages[stage] = p.stages.get(stage, 0.0) + mean / len(files)
        self.phases[name] = p
        return p


def percentile(values: Sequence[float], q: float) -> float:
    """Linear interpolation between the closest ranks (numpy's default)."""
    s = sorted(values)
    k = (len(s) - 1) * q
    lo, hi = math.floor(k), math.ceil(k)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def end_stragglers(watch: TreeWatch) -> None:
    """After the stack stopped: kill what the worker tree left behind (same pid, same start)."""
    for pid in watch.stragglers():
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


# --- report ------------------------------------------------------------------------------


def mib(n: int) -> str:
    return f"{n / 2**20:,.0f} MiB"


Row = tuple[str, str, str, str]  # what, figure, target, ratio to the decode limit
KINDS = ("16:9", "9:16", "image")
ORDER = (*KINDS, "clip", "image1")  # every phase, as the "a | b | c; d | e" figures list them


def _throughput(kind: str, p: Phase, count: int, seconds: int, limit: Limit) -> list[Row]:
    video = kind != "image"
    amount = count * (seconds if video else 1)
    rate, per_cpu = amount / p.wall / CORES, amount / p.worker_cpu
    unit = "x real time" if video else " images/s"
    target = TARGETS[kind]
    return [
        (
            f"{kind} burst of {count}: per core (wall {p.wall:.1f} s, {p.done})",
            f"{rate:.2f}{unit}",
            f">= {target:g}{unit} ({target / limit.wall:.2f} of limit)",
            f"{rate / limit.wall:.3f}",
        ),
        (
            f"{kind} burst: per CPU-s of the worker tree ({p.worker_cpu:.0f} CPU-s)",
            f"{per_cpu:.2f}{unit}",
            "",
            f"{per_cpu / limit.cpu:.3f}",
        ),
    ]


def table(bench: Bench, media: Media, limits: dict[str, Limit]) -> list[Row]:
    ph, peaks = bench.phases, bench.watch.peak
    what = {
        "16:9": "limit: keyframe decode 16:9 (ffmpeg -skip_frame nokey, 1 thread)",
        "9:16": "limit: keyframe decode 9:16 (same)",
        "image": "limit: JPEG decode 1080x1080 (cv2.imdecode, 1 thread)",
    }
    rows: list[Row] = []
    for kind in KINDS:
        unit = "x" if kind != "image" else "/s"
        lim = limits[kind]
        figure = f"{lim.wall:.0f}{unit} per wall-s, {lim.cpu:.0f}{unit} per CPU-s"
        rows.append((what[kind], figure, "", "1"))
    for kind in KINDS:
        count = len(media.bursts[kind])
        rows += _throughput(kind, ph[kind], count, media.seconds, limits[kind])
    for key, target in (("clip", "clip_p95"), ("image1", "image_p95")):
        p = ph[key]
        one = f"{media.seconds} s 16:9 clip" if key == "clip" else "1080x1080 image"
        rows.append(
            (
                f"latency on the idle stack: {one}, {len(p.latencies)} fresh ({p.done})",
                f"p50 {percentile(p.latencies, 0.5):.2f} s, "
                f"p95 {percentile(p.latencies, 0.95):.2f} s",
                f"p95 <= {TARGETS[target]:g} s",
                "",
            )
        )
    bursts = [ph[k] for k in KINDS]
    wall = sum(p.wall for p in bursts)
    idle_peak = max(peaks.get("clip", 0), peaks.get("image1", 0))
    rows += [
        (
            "worker RSS peak in the bursts (worker + pool + ffmpeg, sum)",
            f"{mib(max(peaks.get(k, 0) for k in KINDS))} "
            f"(up to {max(bench.watch.most.get(k, 0) for k in KINDS)} processes)",
            "",
            "",
        ),
        (
            "  by burst: 16:9 | 9:16 | img (idle latency runs)",
            " | ".join(mib(peaks.get(k, 0)) for k in KINDS) + f" ({mib(idle_peak)})",
            "",
            "",
        ),
        (
            "CPU used in the bursts: worker tree | API (intake + polls)",
            f"{sum(p.worker_cpu for p in bursts) / wall:.2f} | "
            f"{sum(p.api_cpu for p in bursts) / wall:.2f} cores",
            "",
            "",
        ),
        (
            "GET /v1/media/{id}: mean ms, bursts 16:9 | 9:16 | img; idle clip | img",
            " | ".join(f"{1000 * ph[k].poll_s / max(ph[k].polls, 1):.0f}" for k in ORDER),
            "",
            "",
        ),
    ]
    for stage in sorted({s for k in ORDER for s in ph[k].stages}):
        means = (f"{ph[k].stages[stage]:.2f}" if stage in ph[k].stages else "-" for k in ORDER)
        rows.append((f"stage {stage}: mean s, same phases", " | ".join(means), "", ""))
    return rows


def print_table(rows: Sequence[Row]) -> None:
    head: Row = ("what", "figure", "target", "ratio to decode limit")
    widths = [max(len(r[i]) for r in [*rows, head]) for i in range(4)]
    print(" | ".join(h.ljust(w) for h, w in zip(head, widths, strict=True)).rstrip())
    print("-+-".join("-" * w for w in widths))
    for r in rows:
        print(" | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())
    print(
        "ratio: the figure over the limit measured above in this run (per-core rows over the "
        "wall rate, per-CPU-s rows over the CPU rate); cores = os.cpu_count() = "
        f"{CORES}; stage seconds include waiting for a free check process"
    )


# --- main --------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=(__doc__ or "").split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--quick", action="store_true", help="N=2, M=6, R=2, 10 s clips")
    parser.add_argument("--clips", type=int, help="N clips per aspect ratio (default 12)")
    parser.add_argument("--images", type=int, help="M images in the image burst (default 54)")
    parser.add_argument("--repeat", type=int, help="R latency runs per kind (default 5)")
    parser.add_argument("--poll", type=float, default=0.05, help="seconds between status polls")
    args = parser.parse_args(argv)
    quick = {"clips": 2, "images": 6, "repeat": 2} if args.quick else {}
    for name, full in (("clips", 12), ("images", 54), ("repeat", 5)):
        if getattr(args, name) is None:
            setattr(args, name, quick.get(name, full))
    args.seconds = 10 if args.quick else 30
    return args


INTERRUPTED = threading.Event()


def _stop_on_signals() -> None:
    """Ctrl-C and SIGTERM unwind main (which stops the stack) and are remembered, so an error
    they cause on the way (the API already gone) is not reported as a failure."""

    def on_signal(signum: int, frame: object) -> None:
        INTERRUPTED.set()
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    _stop_on_signals()
    started = time.perf_counter()
    load0 = os.getloadavg()[0]
    media = make_media(args.clips, args.images, args.repeat, args.seconds)
    made = time.perf_counter() - started
    limits = {
        "16:9": keyframe_rate(media.bursts["16:9"], media.seconds),
        "9:16": keyframe_rate(media.bursts["9:16"], media.seconds),
        "image": jpeg_rate(media.bursts["image"]),
    }
    logo = make_logo(OUT / "logo.png")
    bucket = Path(tempfile.mkdtemp(prefix="reelscope-bench-e2e-"))
    settings = stack_settings(bucket)
    stack = Stack(settings)
    watch: TreeWatch | None = None
    try:
        stack.start()
        watch = TreeWatch(stack.children["worker"].pid)
        watch.start()
        with httpx.Client(base_url=stack.api_url, timeout=30) as http:
            wait_ready(http, stack, deadline=time.monotonic() + 60)
            register_brand(http, logo)
        bench = Bench(stack, watch, args.poll)
        for path in media.warmup:  # worker joined, pool children spawned, models loaded
            asyncio.run(bench.batch([path], PLATFORMS["16:9"], timeout=120))
        timeout = 300 + 3 * args.clips * media.seconds
        for kind in ("16:9", "9:16"):
            bench.burst(kind, media.bursts[kind], PLATFORMS[kind], timeout)
        bench.burst("image", media.bursts["image"], PLATFORMS["image"], 300 + 2 * args.images)
        bench.one_by_one("clip", media.fresh_clips, PLATFORMS["16:9"], 300)
        bench.one_by_one("image1", media.fresh_images, PLATFORMS["image"], 120)
    finally:
        stack.stop()
        if watch is not None:
            watch.stop()
            end_stragglers(watch)
        shutil.rmtree(bucket, ignore_errors=True)
    total = time.perf_counter() - started
    command = [Path(sys.executable).name, "-m", "bench.bench_e2e", *sys.argv[1:]]
    print(f"command: {shlex.join(command)}")
    partitions = topic_partitions(settings, embedded=True)
    print(
        f"settings: {CORES} cores; N={args.clips} clips per aspect ({media.seconds} s, 1080p30 "
        f"H.264 6 Mbit/s, GOP 2 s, AAC), M={args.images} images 1080x1080 JPEG, R={args.repeat} "
        f"latency runs on fresh media; poll every {args.poll:g} s; stack: embedded broker "
        f"({partitions} partitions), {settings.worker.check_processes} check "
        f"processes, analyzer {settings.analyzer_name} (concurrency "
        f"{settings.analyzer.concurrency}), {settings.worker.sample_frames} sample frames, "
        f"folder bucket; brand {BRAND!r} with palette + logo; platforms {PLATFORMS}"
    )
    print(
        f"load average {load0:.1f} at start, {os.getloadavg()[0]:.1f} at end; run took "
        f"{total:.0f} s (media {made:.0f} s)\n"
    )
    print_table(table(bench, media, limits))


if __name__ == "__main__":
    try:
        main()
    except BaseException:
        if not INTERRUPTED.is_set():
            raise
        sys.exit("interrupted: the stack is stopped")
