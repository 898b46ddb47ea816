"""The Gemini analyzer through the real SDK against a real (fake) Gemini HTTP server."""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from processors.analyzers.base import AnalysisRequest
from processors.analyzers.gemini.analyzer import GeminiAnalyzer
from processors.analyzers.gemini.cache import MemoryCache, StoreCache
from processors.analyzers.gemini.cost import estimate_usd, media_tokens
from processors.analyzers.gemini.fake_server import Behaviour, FakeGemini, wait_for
from processors.analyzers.gemini.options import GeminiOptions, GeminiSettings
from processors.analyzers.gemini.prompt import SYSTEM, build_prompt
from processors.analyzers.gemini.resilience import RateLimiter, SystemClock, TokenLimiter
from processors.config import Settings
from processors.errors import AnalyzerRejected, AnalyzerUnavailable
from processors.storage import LocalStore, StoreSettings
from processors.synthetic.samples import make_image, make_video
from schemas.events import Generation, MediaGenerated, MediaInfo, MediaUploaded
from schemas.fields import MediaKind
from schemas.ids import uuid7

MODEL = "gemini-2.5-flash"
FAST = {
    "backoff_base_s": 0.01,
    "backoff_max_s": 0.05,
    "file_poll_interval_s": 0.02,
    "max_attempts": 3,
}


@dataclass
class ShiftedClock(SystemClock):
    """The system clock moved forward on demand (to pass breaker windows and UTC days)."""

    shift_s: float = 0.0

    def now(self) -> datetime:
        return super().now() + timedelta(seconds=self.shift_s)

    def monotonic(self) -> float:
        return super().monotonic() + self.shift_s


@pytest.fixture(scope="session")
def server() -> Iterator[FakeGemini]:
    fake = FakeGemini().start()
    yield fake
    fake.stop()


@pytest.fixture
def fake(server: FakeGemini) -> FakeGemini:
    server.reset()
    return server


@pytest.fixture(scope="session")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("gemini-media")
    return {
        "video": make_video(folder / "v.mp4", width=320, height=240, seconds=2, fps=15),
        "image": make_image(folder / "i.jpg", width=320, height=240),
    }


@pytest.fixture
async def analyzers(fake: FakeGemini) -> AsyncIterator[Callable[..., GeminiAnalyzer]]:
    made: list[GeminiAnalyzer] = []

    def make(timeout_s: float = 5.0, concurrency: int = 8, **options: Any) -> GeminiAnalyzer:
        kw: dict[str, Any] = {k: v for k, v in options.items() if k in ("cache", "clock")}
        opts = GeminiOptions(**{**FAST, **{k: v for k, v in options.items() if k not in kw}})
        a = GeminiAnalyzer(
            api_key=fake.api_key,
            model=MODEL,
            base_url=fake.url,
            timeout_s=timeout_s,
            options=opts,
            concurrency=concurrency,
            **kw,
        )
        made.append(a)
        return a

    yield make
    for a in made:
        await a.aclose()


def request(
    path: Path,
    kind: MediaKind = "video",
    *,
    prompt: str | None = None,
    brand: str | None = None,
    platforms: list[str] | None = None,
) -> AnalysisRequest:
    data = path.read_bytes()
    fields: dict[str, Any] = {
        "media_id": uuid7(),
        "producer": "tests",
        "object_key": f"media/{path.name}",
        "sha256": hashlib.sha256(data).hexdigest(),
        "size_bytes": len(data),
        "content_type": "video/mp4" if kind == "video" else "image/jpeg",
        "media_kind": kind,
        "brand_id": brand,
        "platforms": platforms or ["tiktok", "youtube_shorts"],
    }
    event: MediaUploaded | MediaGenerated = (
        MediaGenerated(**fields, generation=Generation(prompt=prompt, model="imagen-x"))
        if prompt
        else MediaUploaded(**fields)
    )
    info = MediaInfo(
        kind=kind,
        container="mp4" if kind == "video" else "jpeg",
        width=320,
        height=240,
        duration_s=2.0 if kind == "video" else None,
        has_audio=kind == "video",
        size_bytes=len(data),
    )
    return AnalysisRequest(path=path, event=event, media=info, producer="tests")


def text_tokens(req: AnalysisRequest) -> int:
    """What the fake charges for our text (4 chars a token), to isolate the media tokens."""
    kind = req.media.kind if req.media else req.event.media_kind
    return len(build_prompt(req.event, kind)) // 4 + len(SYSTEM) // 4


# --- success ------------------------------------------------------------------------------


async def test_video_inline_parses_and_costs(
    fake: FakeGemini, analyzers: Any, media: dict[str, Path]
) -> None:
    req = request(media["video"])
    result = await analyzers().analyze(req)
    assert result.status == "done", result.error
    assert (result.analyzer, result.model, result.prompt_version) == ("gemini", MODEL, "analysis/1")
    assert result.content is not None and result.content.summary
    assert set(result.content.platform_suitability) == {"tiktok", "youtube_shorts"}
    assert result.content.prompt_adherence is None
    assert result.source.event_id == req.event.event_id and result.media == req.media
    assert result.media_id == req.event.media_id and not result.cached
    # 2 s at 1 fps, low resolution (the default): 66 frame tokens + 32 audio tokens per second
    assert result.usage.input_tokens == 2 * (66 + 32) + text_tokens(req)
    out = result.usage.output_tokens or 0
    assert result.usage.cost_usd == pytest.approx(
        (result.usage.input_tokens * 0.30 + out * 2.50) / 1e6
    )
    assert result.usage.estimated_cost_usd and result.latency_ms > 0
    (call,) = fake.calls()
    assert call.path == f"/v1/models/{MODEL}:generateContent"
    part = call.json["contents"][0]["parts"][0]
    assert part["inlineData"] == {"mimeType": "video/mp4", "size": req.path.stat().st_size}
    config = call.json["generationConfig"]
    assert config["responseMimeType"] == "application/json"
    assert "on_screen_text" in config["responseJsonSchema"]["properties"]


async def test_image_inline(fake: FakeGemini, analyzers: Any, media: dict[str, Path]) -> None:
    req = request(media["image"], "image")
    result = await analyzers().analyze(req)
    assert result.status == "done" and result.content is not None
    assert result.usage.input_tokens == 66 + text_tokens(req)
    part = fake.calls()[0].json["contents"][0]["parts"][0]
    assert part["inlineData"]["mimeType"] == "image/jpeg" and "videoMetadata" not in part


async def test_video_options_reach_the_model(
    fake: FakeGemini, analyzers: Any, media: dict[str, Path]
) -> None:
    req = request(media["video"])
    a = analyzers(fps=2, media_resolution="low", clip_start_s=0.5, clip_end_s=1.5)
    result = await a.analyze(req)
    body = fake.calls()[0].json
    meta = body["contents"][0]["parts"][0]["videoMetadata"]
    assert meta == {"fps": 2.0, "startOffset": "0.5s", "endOffset": "1.5s"}
    assert body["generationConfig"]["mediaResolution"] == "MEDIA_RESOLUTION_LOW"
    assert result.usage.input_tokens == round(1.0 * (66 * 2 + 32)) + text_tokens(req)


async def test_the_default_sends_at_most_6k_tokens_per_video_minute(
    fake: FakeGemini, analyzers: Any, media: dict[str, Path]
) -> None:
    """Gemini's own default resolution costs ~290 tokens per video-second (17k a minute); the
    default here asks for low resolution, and 'default' stays one setting away for detail."""
    req = request(media["video"])
    seconds = req.media.duration_s if req.media and req.media.duration_s else 0.0
    assert seconds > 0
    per_minute = {}
    for resolution in ("low", "default"):
        options = {} if resolution == "low" else {"media_resolution": resolution}
        result = await analyzers(**options).analyze(req)
        media_tokens = (result.usage.input_tokens or 0) - text_tokens(req)
        per_minute[resolution] = media_tokens * 60 / seconds
        sent = fake.calls()[-1].json["generationConfig"].get("mediaResolution")
        assert sent == ("MEDIA_RESOLUTION_LOW" if resolution == "low" else None)
    assert per_minute["low"] <= 6000
    assert per_minute["default"] > 15_000


async def test_generated_asset_gets_prompt_adherence(
    fake: FakeGemini, analyzers: Any, media: dict[str, Path]
) -> None:
    req = request(media["image"], "image", prompt="a red badge with the letter R on white")
    result = await analyzers().analyze(req)
    assert result.content is not None
    assert result.content.prompt_adherence is not None
    assert 0 <= result.content.prompt_adherence <= 1 and result.content.prompt_mismatches
    body = fake.calls()[0].json
    assert "prompt_adherence" in body["generationConfig"]["responseJsonSchema"]["required"]
    assert "a red badge with the letter R" in body["contents"][0]["parts"][1]["text"]


async def test_files_api_for_large_media(
    fake: FakeGemini, analyzers: Any, media: dict[str, Path]
) -> None:
    fake.processing_polls = 2
    result = await analyzers(inline_limit_bytes=1000, media_resolution="default").analyze(
        request(media["video"])
    )
    assert result.status == "done", result.error
    route = [(r.method, r.path.split("/")[1]) for r in fake.requests]
    assert route == [
        ("POST", "upload"),
        ("POST", "upload"),
        ("GET", "v1"),
        ("GET", "v1"),
        ("GET", "v1"),
        ("POST", "v1"),
        ("DELETE", "v1"),
    ]
    part = fake.calls()[0].json["contents"][0]["parts"][0]
    assert "fileData" in part and "inlineData" not in part
    assert fake.deleted and not fake.files
    assert result.usage.input_tokens and result.usage.input_tokens > 2 * 290


async def test_files_api_deletes_after_a_rejection(
    fake: FakeGemini, analyzers: Any, media: dict[str, Path]
) -> None:
    fake.script(Behaviour.error(400))
    with pytest.raises(AnalyzerRejected):
        await analyzers(inline_limit_bytes=1000).analyze(request(media["video"]))
    assert len(fake.deleted) == 1 and not fake.files


async def test_files_api_failed_processing(
    fake: FakeGemini, analyzers: Any, media: dict[str, Path]
) -> None:
    fake.processed_state = "FAILED"
    result = await analyzers(inline_limit_bytes=1000, media_resolution="default").analyze(
        request(media["video"])
    )
    assert result.status == "failed" and "could not process" in (result.error or "")
    assert not fake.calls() and len(fake.deleted) == 1


async def test_files_api_processing_deadline(
    fake: FakeGemini, analyzers: Any, media: dict[str, Path]
) -> None:
    fake.processing_polls = 1000
    a = analyzers(inline_limit_bytes=1000, file_active_timeout_s=0.1)
    with pytest.raises(AnalyzerUnavailable, match="still PROCESSING"):
        await a.analyze(request(media["video"]))
    assert not fake.calls() and len(fake.deleted) == 1


# --- faults -------------------------------------------------------------------------------


async def test_429_retry_delay_is_honoured(
    fake: FakeGemini, analyzers: Any, media: dict[str, Path]
) -> None:
    fake.script(Behaviour.error(429, retry_delay="1s"))
    started = time.monotonic()
    analyzer = analyzers()
    result = await analyzer.analyze(request(media["image"], "image"))
    assert time.monotonic() - started >= 1.0
    assert result.status == "done" and len(fake.calls()) == 2
    assert analyzer.requests == {"rate_limited": 1, "retry": 1, "ok": 1}


async def test_500_then_success(fake: FakeGemini, analyzers: Any, media: dict[str, Path]) -> None:
    fake.script(Behaviour.error(500), Behaviour.error(503))
    analyzer = analyzers()
    result = await analyzer.analyze(request(media["image"], "image"))
    assert result.status == "done" and len(fake.calls()) == 3
    assert analyzer.requests == {"error": 2, "retry": 2, "ok": 1}


async def test_hang_times_out_then_unavailable(
    fake: FakeGemini, analyzers: Any, media: dict[str, Path]
) -> None:
    a = analyzers(timeout_s=0.3)
    await a.analyze(request(media["image"], "image"))  # warm: session set-up is not timed here
    fake.hang_s = 1.0
    fake.script(*[Behaviour("hang")] * 3)
    with pytest.raises(AnalyzerUnavailable, match="timed out"):
        await a.analyze(request(media["image"], "image", platforms=["youtube"]))
    assert wait_for(lambda: len(fake.calls()) == 1 + 3)


async def test_circuit_breaker_stops_calls(
    fake: FakeGemini, analyzers: Any, media: dict[str, Path]
) -> None:
    clock = ShiftedClock()
    a = analyzers(max_attempts=2, breaker_failures=3, breaker_open_s=60, clock=clock)
    fake.script(*[Behaviour.error(500)] * 3)
    for _ in range(2):
        with pytest.raises(AnalyzerUnavailable):
            await a.analyze(request(media["image"], "image"))
    assert len(fake.calls()) == 3 and a.breaker.is_open
    with pytest.raises(AnalyzerUnavailable, match="circuit open"):
        await a.analyze(request(media["image"], "image"))
    assert len(fake.calls()) == 3
    clock.shift_s = 61  # the window has passed: one trial call goes through and closes it
    result = await a.analyze(request(media["image"], "image"))
    assert result.status == "done" and not a.breaker.is_open and len(fake.calls()) == 4


@pytest.mark.parametrize("kind", ["block_prompt", "block_safety"])
async def test_safety_block_is_final(
    fake: FakeGemini, analyzers: Any, media: dict[str, Path], kind: str
) -> None:
    fake.script(Behaviour(kind))  # type: ignore[arg-type]
    result = await analyzers().analyze(request(media["image"], "image"))
    assert result.status == "blocked" and result.error and "SAFETY" in result.error
    assert result.content is None and len(fake.calls()) == 1


async def test_non_json_twice_is_invalid_output(
    fake: FakeGemini, analyzers: Any, media: dict[str, Path]
) -> None:
    fake.script(Behaviour("text", text="Sure! Here is"), Behaviour("text", text="{oops"))
    req = request(media["image"], "image")
    result = await analyzers().analyze(req)
    assert result.status == "invalid_output" and result.error and "validation" in result.error
    assert len(fake.calls()) == 2
    assert result.usage.input_tokens == 2 * (66 + text_tokens(req))


async def test_schema_violation_is_asked_again(
    fake: FakeGemini, analyzers: Any, media: dict[str, Path]
) -> None:
    fake.script(Behaviour.ok(answer={"people_count": -3}))
    result = await analyzers().analyze(request(media["image"], "image"))
    assert result.status == "done" and len(fake.calls()) == 2


async def test_bad_request_is_rejected_once(
    fake: FakeGemini, analyzers: Any, media: dict[str, Path]
) -> None:
    fake.script(Behaviour.error(400))
    with pytest.raises(AnalyzerRejected, match="400"):
        await analyzers().analyze(request(media["image"], "image"))
    assert len(fake.calls()) == 1


async def test_wrong_key_is_unavailable_without_retries(
    fake: FakeGemini, media: dict[str, Path]
) -> None:
    a = GeminiAnalyzer(
        api_key="wrong", model=MODEL, base_url=fake.url, options=GeminiOptions(**FAST)
    )
    with pytest.raises(AnalyzerUnavailable, match="403"):
        await a.analyze(request(media["image"], "image"))
    await a.aclose()
    assert len(fake.calls()) == 1


async def test_unrecognised_bytes_fail_without_a_call(
    fake: FakeGemini, analyzers: Any, tmp_path: Path
) -> None:
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"not a video at all" * 100)
    result = await analyzers().analyze(request(junk))
    assert result.status == "failed" and not fake.calls()


# --- cache, budget, concurrency -----------------------------------------------------------


async def test_same_bytes_are_served_from_cache(
    fake: FakeGemini, analyzers: Any, media: dict[str, Path], tmp_path: Path
) -> None:
    store = LocalStore(tmp_path / "bucket")
    first = await analyzers(cache=StoreCache(store)).analyze(request(media["video"]))
    again = await analyzers(cache=StoreCache(store)).analyze(request(media["video"]))  # restart
    assert len(fake.calls()) == 1 and len(store.list("cache/gemini/")) == 1
    assert again.cached and again.content == first.content and again.usage.cost_usd == 0
    assert again.event_id != first.event_id
    other_fps = await analyzers(cache=StoreCache(store), fps=2).analyze(request(media["video"]))
    other_platforms = await analyzers(cache=StoreCache(store)).analyze(
        request(media["video"], platforms=["linkedin"])
    )
    assert not other_fps.cached and not other_platforms.cached and len(fake.calls()) == 3


async def test_over_budget_is_deferred_without_a_call(
    fake: FakeGemini, analyzers: Any, media: dict[str, Path]
) -> None:
    a = analyzers(daily_budget_usd=0.000001)
    result = await a.analyze(request(media["video"]))
    assert result.status == "deferred" and result.error and "budget" in result.error
    assert result.usage.estimated_cost_usd and not fake.calls()


async def test_brand_budget_binds_per_brand_and_day(
    fake: FakeGemini, analyzers: Any, media: dict[str, Path]
) -> None:
    clock, req = ShiftedClock(), request(media["video"], brand="acme")
    no_output = GeminiOptions(expected_output_tokens=0)
    estimate = estimate_usd(
        media_tokens("video", 2.0, True, no_output),
        len(build_prompt(req.event, "video")) + len(SYSTEM),
        no_output,
        MODEL,
    )
    a = analyzers(
        brand_daily_budget_usd={"acme": 1.5 * estimate},
        expected_output_tokens=0,
        cache=MemoryCache(),
        clock=clock,
    )
    first = await a.analyze(req)
    assert first.status == "done" and first.usage.estimated_cost_usd == pytest.approx(estimate)
    today = clock.now().date()
    assert a.budget.snapshot(today).spent("daily", today, "acme") == pytest.approx(
        first.usage.cost_usd
    )
    second = await a.analyze(request(media["video"], brand="acme", platforms=["youtube"]))
    other = await a.analyze(request(media["video"], brand="zeta", platforms=["youtube"]))
    assert second.status == "deferred" and "acme" in (second.error or "")
    assert other.status == "done"
    clock.shift_s = 86_400
    assert (
        await a.analyze(request(media["video"], brand="acme", platforms=["linkedin"]))
    ).status == "done"


async def test_concurrency_is_bounded(
    fake: FakeGemini, analyzers: Any, media: dict[str, Path]
) -> None:
    fake.latency_s = 0.3
    a = analyzers(concurrency=2)
    results = await asyncio.gather(*[a.analyze(request(media["image"], "image")) for _ in range(5)])
    assert all(r.status == "done" for r in results) and fake.max_in_flight == 2


async def test_rate_limiter_spaces_calls() -> None:
    limiter = RateLimiter(rpm=1200, burst=1, clock=SystemClock())
    started = time.monotonic()
    for _ in range(4):
        await limiter.acquire()
    assert time.monotonic() - started >= 3 / 20 - 0.01


async def test_token_limiter_holds_calls_to_the_estimate_and_wakes_on_refunds(
    fake: FakeGemini, analyzers: Any, media: dict[str, Path]
) -> None:
    fake.latency_s = 0.6  # the 5 that fit must all start before the first ends (0.2 s was
    # too short on a loaded machine: 4 in flight)
    # an image call at Gemini's default resolution is estimated at ~1.2k tokens: 5 fit
    a = analyzers(tpm=6000, media_resolution="default")
    req = request(media["image"], "image")
    started = time.monotonic()
    results = await asyncio.gather(*[a.analyze(req) for _ in range(8)])
    took = time.monotonic() - started
    assert all(r.status == "done" for r in results)
    used = sum((r.usage.input_tokens or 0) + (r.usage.output_tokens or 0) for r in results)
    assert 0 < used < 6000  # actual usage is below the estimates: refunds are what free slots
    assert fake.max_in_flight == 5 and a.tokens.waited_s > 0
    # a second wave after the refunds, far sooner than refilling 1.2k tokens at 100/s (12 s)
    assert 2 * fake.latency_s <= took < 3.0


async def test_token_limiter_charges_actual_usage_beyond_the_estimate() -> None:
    limiter = TokenLimiter(tpm=60_000, clock=SystemClock())  # 1000 tokens/s
    assert await limiter.acquire(10**6) == 60_000  # never more than a minute's worth
    limiter.settle(60_000, 60_100)  # the call used 100 more than it took: a debt
    started = time.monotonic()
    await limiter.acquire(100)
    waited = time.monotonic() - started
    assert 0.19 <= waited < 1.0 and limiter.waited_s >= 0.19
    assert await TokenLimiter(tpm=0, clock=SystemClock()).acquire(10**9) == 0  # 0: unlimited


async def test_from_settings(fake: FakeGemini, media: dict[str, Path], tmp_path: Path) -> None:
    settings = Settings(
        gemini=GeminiSettings(api_key=fake.api_key, base_url=fake.url),
        store=StoreSettings(url=f"file://{tmp_path}"),
    )
    a = GeminiAnalyzer.from_settings(settings)
    assert isinstance(a.cache, StoreCache) and a.model == settings.gemini.model
    result = await a.analyze(request(media["image"], "image"))
    await a.aclose()
    assert result.status == "done" and LocalStore(tmp_path).list("cache/gemini/")
    with pytest.raises(ValueError, match="API key"):
        GeminiAnalyzer.from_settings(Settings())


async def test_workers_built_from_settings_share_the_budget_in_the_bucket(
    fake: FakeGemini, media: dict[str, Path], tmp_path: Path
) -> None:
    """Two workers (and a restart) on one bucket: the second sees what the first spent."""
    options = GeminiSettings(api_key=fake.api_key, base_url=fake.url, **FAST)
    first = await one_analysis(options, tmp_path, request(media["image"], "image"))
    cost, estimate = first.usage.cost_usd, first.usage.estimated_cost_usd
    assert first.status == "done" and cost and estimate
    # room for the same call on an empty ledger, not after the first one's spend
    tight = options.model_copy(update={"daily_budget_usd": estimate + cost / 2})
    alone = await one_analysis(tight, tmp_path / "other", request(media["image"], "image"))
    assert alone.status == "done"
    second = await one_analysis(tight, tmp_path, request(media["image"], "image"))
    assert second.status == "deferred" and "daily Gemini budget reached" in (second.error or "")
    assert len(fake.calls()) == 2
    assert LocalStore(tmp_path).list("budget/"), "the spend is booked in the bucket"


async def one_analysis(options: GeminiSettings, bucket: Path, req: AnalysisRequest) -> Any:
    settings = Settings(gemini=options, store=StoreSettings(url=f"file://{bucket}"))
    analyzer = GeminiAnalyzer.from_settings(settings, cache=MemoryCache())
    try:
        return await analyzer.analyze(req)
    finally:
        await analyzer.aclose()


def test_clock_is_utc() -> None:
    assert SystemClock().now().tzinfo is UTC
