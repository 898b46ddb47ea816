"""Benchmark the Gemini analyzer against the fake Gemini server (2 s per call, like a real video).

Prints three tables: throughput by concurrency (I/O bound, so the ceiling is concurrency ÷
latency), tokens and cost per video minute by option set, and a replay that must be served from
the cache with zero new calls. Run from the repo root:
`.venv/bin/python -m bench.bench_gemini [--latency 2]` (it imports the fake from `tests/`).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import tempfile
import time
from pathlib import Path
from typing import Any

from processors.analyzers.base import AnalysisRequest
from processors.analyzers.gemini.analyzer import GeminiAnalyzer
from processors.analyzers.gemini.cache import CachedAnalysis, MemoryCache
from processors.analyzers.gemini.fake_server import FakeGemini
from processors.analyzers.gemini.options import GeminiOptions
from processors.analyzers.gemini.prompt import SYSTEM, build_prompt
from processors.synthetic.samples import make_image, make_video
from schemas.events import MediaInfo, MediaUploaded
from schemas.fields import MediaKind
from schemas.ids import uuid7

MODEL = "gemini-2.5-flash"
OPTION_SETS: dict[str, dict[str, Any]] = {
    "default (low, 1 fps)": {},
    "detail (Gemini's default resolution)": {"media_resolution": "default"},
    "fps 2": {"fps": 2.0},
    "fps 0.5, low": {"fps": 0.5, "media_resolution": "low"},
    "first 5 s only": {"clip_end_s": 5.0},
}


class NoCache:
    """Never hits: every analysis is a real call (for throughput)."""

    async def get(self, key: str) -> CachedAnalysis | None:
        return None

    async def put(self, key: str, entry: CachedAnalysis) -> None:
        return None


def request(path: Path, kind: MediaKind, duration_s: float | None) -> AnalysisRequest:
    data = path.read_bytes()
    event = MediaUploaded(
        media_id=uuid7(),
        producer="bench",
        object_key=f"media/{path.name}",
        sha256=hashlib.sha256(data).hexdigest(),
        size_bytes=len(data),
        content_type="video/mp4" if kind == "video" else "image/jpeg",
        media_kind=kind,
        platforms=["tiktok", "instagram_reels"],
    )
    info = MediaInfo(
        kind=kind,
        container="mp4",
        width=320,
        height=240,
        duration_s=duration_s,
        has_audio=kind == "video",
        size_bytes=len(data),
    )
    return AnalysisRequest(path=path, event=event, media=info, producer="bench")


def analyzer(
    fake: FakeGemini, concurrency: int = 8, cache: Any = None, **options: Any
) -> GeminiAnalyzer:
    return GeminiAnalyzer(
        api_key=fake.api_key,
        model=MODEL,
        base_url=fake.url,
        timeout_s=30,
        options=GeminiOptions(**options),
        concurrency=concurrency,
        cache=cache if cache is not None else NoCache(),
    )


async def throughput(fake: FakeGemini, req: AnalysisRequest, latency: float) -> list[str]:
    rows, base = [], 0.0
    for c, rpm in ((1, 0), (8, 0), (32, 0), (32, 1000)):
        a, n = analyzer(fake, concurrency=c, rpm=rpm), max(4, 2 * c)
        fake.latency_s = latency
        started = time.perf_counter()
        results = await asyncio.gather(*[a.analyze(req) for _ in range(n)])
        rate = n / (time.perf_counter() - started)
        await a.aclose()
        assert all(r.status == "done" for r in results)
        base = base or rate
        ideal = c / latency
        rpm_txt = str(rpm) if rpm else "off"
        rows.append(
            f"| {c:>11} | {rpm_txt:>6} | {n:>5} | {rate:>10.2f} | {rate / base:>7.2f}x "
            f"| {rate / ideal:>13.0%} |"
        )
    return [
        "| concurrency | rpm    | calls | analyses/s | vs c=1  | of c÷latency  |",
        "| ---: | ---: | ---: | ---: | ---: | ---: |",
        *rows,
    ]


async def per_minute(fake: FakeGemini, req: AnalysisRequest, seconds: float) -> list[str]:
    """Tokens per video-minute of each option set, as the fake counts them from the request
    actually sent: the media's (frames and audio, what a minute of video costs) apart from the
    prompt's (paid once per call, whatever the length)."""
    fake.latency_s = 0.0
    kind = req.media.kind if req.media else req.event.media_kind
    prompt = len(build_prompt(req.event, kind)) // 4 + len(SYSTEM) // 4  # the fake: 4 chars a token
    rows = []
    for label, opts in OPTION_SETS.items():
        a = analyzer(fake, **opts)
        r = await a.analyze(req)
        await a.aclose()
        scale = 60.0 / seconds
        u = r.usage
        media = ((u.input_tokens or 0) - prompt) * scale
        rows.append(
            f"| {label:<36} | {media:>13,.0f} | {prompt:>6} | {(u.output_tokens or 0):>6} | "
            f"${(u.cost_usd or 0) * scale:>8.5f} | ${(u.estimated_cost_usd or 0) * scale:>8.5f} |"
        )
    return [
        "| options                              | media tok/min | prompt | out/call | cost/min "
        "| estimate/min |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
        *rows,
    ]


async def replay(fake: FakeGemini, reqs: list[AnalysisRequest]) -> list[str]:
    fake.latency_s = 0.0
    a = analyzer(fake, concurrency=8, cache=MemoryCache())
    before = len(fake.calls())
    first = await asyncio.gather(*[a.analyze(r) for r in reqs])
    calls = len(fake.calls())
    started = time.perf_counter()
    again = await asyncio.gather(*[a.analyze(r) for r in reqs])
    took = time.perf_counter() - started
    await a.aclose()
    hits = sum(r.cached for r in again)
    cost = sum(r.usage.cost_usd or 0 for r in again)
    return [
        "| pass   | analyses | cached | new calls | cost USD |",
        "| --- | ---: | ---: | ---: | ---: |",
        f"| first  | {len(first):>8} | {sum(r.cached for r in first):>6} | "
        f"{calls - before:>9} | {sum(r.usage.cost_usd or 0 for r in first):>8.5f} |",
        f"| replay | {len(again):>8} | {hits / len(again):>6.0%} | "
        f"{len(fake.calls()) - calls:>9} | {cost:>8.5f} |",
        f"replay wall time: {took * 1000:.0f} ms for {len(again)} analyses (hash + cache)",
    ]


async def main(latency: float) -> None:
    fake = FakeGemini().start()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        clip = make_video(folder / "clip.mp4", width=320, height=240, seconds=10, fps=15)
        still = make_image(folder / "still.jpg", width=320, height=240)
        images = [
            make_image(folder / f"s{i}.jpg", width=320 + 16 * i, height=240) for i in range(16)
        ]
        try:
            print(f"## throughput (fake latency {latency:g} s per call, image input)")
            print("\n".join(await throughput(fake, request(still, "image", None), latency)))
            print("\n## tokens and cost per video minute (gemini-2.5-flash prices, 10 s clip)")
            print("\n".join(await per_minute(fake, request(clip, "video", 10.0), 10.0)))
            print("\n## replay of 16 distinct inputs")
            print("\n".join(await replay(fake, [request(p, "image", None) for p in images])))
        finally:
            fake.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--latency", type=float, default=2.0, help="seconds per fake call")
    asyncio.run(main(parser.parse_args().latency))
