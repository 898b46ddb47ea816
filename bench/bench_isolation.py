"""Does a slow or stalled Gemini slow brand checks? The real worker, broker and fake Gemini.

Each scenario starts a fresh embedded broker and a real stream worker
(`python -m streams.cli worker`, the Gemini analyzer at concurrency 8, a folder bucket) pointed
at the fake Gemini server, publishes a burst of distinct small videos as `MediaUploaded` and
times the brand checks from the publish to the last check, using the broker's record
timestamps of `reelscope.brand.checks.v1`. Scenarios:

- analysis off: the worker's key is refused (403, not retried, the breaker opens), so the
  analyses agent does next to no work: the baseline;
- fast Gemini: answers at once, so all the analysis work (hash, base64, JSON; and the fake's
  own PyAV decode, on the same cores) lands inside the brand-check window;
- Gemini at 2 s per call: the issue's bar, checks/s within 10 % of analysis off;
- stalled Gemini: every call hangs past the 5 s timeout (then retries, the breaker opens).

Run from the repo root: `.venv/bin/python -m bench.bench_isolation [--events 60 --rounds 2]`.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from processors.analyzers.gemini.fake_server import Behaviour, FakeGemini
from processors.storage import LocalStore
from processors.synthetic.samples import make_video
from schemas import topics
from schemas.events import MediaUploaded
from schemas.ids import uuid7
from streams.admin import ensure_topics
from streams.broker import EmbeddedBroker

ROOT = Path(__file__).resolve().parents[1]
PARTITIONS = 6


@dataclass
class Scenario:
    name: str
    prepare: Callable[[FakeGemini], None]
    wrong_key: bool = False


@dataclass
class Arrivals:
    """Broker timestamps (s) of each media id's brand check and analysis."""

    checks: dict[str, float] = field(default_factory=dict)
    analyses: dict[str, float] = field(default_factory=dict)


@dataclass
class Row:
    name: str
    checks_per_s: float
    check_window_s: float
    analyses_in_window: int
    analyses_total: int
    gemini_calls: int


def slow(latency: float) -> Callable[[FakeGemini], None]:
    def prepare(fake: FakeGemini) -> None:
        fake.latency_s = latency

    return prepare


def stalled(fake: FakeGemini) -> None:
    fake.hang_s = 60.0
    fake.script(*[Behaviour("hang")] * 10_000)


def make_media(folder: Path, count: int) -> list[Path]:
    """Distinct small clips (the cache would answer repeats without a call)."""
    return [
        make_video(folder / f"v{i}.mp4", width=320, height=240, seconds=3, fps=15, text=f"#{i}")
        for i in range(count)
    ]


def put_events(bucket: Path, media: list[Path]) -> list[MediaUploaded]:
    store, events = LocalStore(bucket), []
    for path in media:
        data = path.read_bytes()
        key = f"media/{uuid7()}.mp4"
        store.put_bytes(key, data)
        events.append(
            MediaUploaded(
                media_id=uuid7(),
                producer="bench",
                object_key=key,
                sha256=hashlib.sha256(data).hexdigest(),
                size_bytes=len(data),
                content_type="video/mp4",
                media_kind="video",
                platforms=["tiktok"],
            )
        )
    return events


def start_worker(
    bootstrap: str, bucket: Path, fake: FakeGemini, log: Path, key: str
) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "REELSCOPE_KAFKA__BOOTSTRAP": bootstrap,
        "REELSCOPE_KAFKA__PARTITIONS": str(PARTITIONS),
        "REELSCOPE_STORE__URL": f"file://{bucket}",
        "REELSCOPE_WORKER__WEB_PORT": "0",
        "REELSCOPE_ANALYZER__NAME": "gemini",
        "REELSCOPE_ANALYZER__CONCURRENCY": "8",
        "REELSCOPE_GEMINI__API_KEY": key,
        "REELSCOPE_GEMINI__BASE_URL": fake.url,
        "REELSCOPE_GEMINI__TIMEOUT_S": "5",
        "REELSCOPE_LOG_LEVEL": "WARNING",
    }
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "streams.cli", "worker"],
            env=env,
            cwd=ROOT,
            stdout=out,
            stderr=out,
            start_new_session=True,
        )


def stop_worker(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


async def follow(bootstrap: str, seen: Arrivals, stop: asyncio.Event) -> None:
    """Record the broker timestamp of every check and analysis, as a downstream app sees them."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None)
    await consumer.start()
    try:
        parts = [
            TopicPartition(t, p)
            for t in (topics.BRAND_CHECKS, topics.MEDIA_ANALYSES)
            for p in range(PARTITIONS)
        ]
        consumer.assign(parts)
        await consumer.seek_to_beginning(*parts)
        while not stop.is_set():
            batch = await consumer.getmany(timeout_ms=200)
            for tp, records in batch.items():
                into = seen.checks if tp.topic == topics.BRAND_CHECKS else seen.analyses
                for r in records:
                    into[(r.key or b"").decode()] = r.timestamp / 1000
    finally:
        await consumer.stop()


async def wait_until(
    done: Callable[[], bool], timeout: float, proc: subprocess.Popen[bytes]
) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if done():
            return True
        if proc.poll() is not None:
            msg = f"the worker exited with code {proc.returncode}"
            raise RuntimeError(msg)
        await asyncio.sleep(0.1)
    return done()


async def publish(producer: AIOKafkaProducer, events: list[MediaUploaded]) -> None:
    sends = [
        await producer.send(topics.MEDIA_UPLOADED, e.to_bytes(), key=str(e.media_id).encode())
        for e in events
    ]
    await asyncio.gather(*sends)


async def run(scenario: Scenario, fake: FakeGemini, media: list[Path], work: Path) -> Row:
    """One scenario on a fresh broker and bucket (a reused bucket would hit the Gemini cache)."""
    fake.reset()
    scenario.prepare(fake)
    bucket = Path(tempfile.mkdtemp(prefix="bucket-", dir=work))
    events = put_events(bucket, media)
    warmup, measured = events[0], events[1:]
    with EmbeddedBroker() as broker:
        ensure_topics(broker.bootstrap, partitions=PARTITIONS)
        key = "not-the-key" if scenario.wrong_key else fake.api_key
        proc = start_worker(broker.bootstrap, bucket, fake, work / "worker.log", key)
        seen, stop = Arrivals(), asyncio.Event()
        follower = asyncio.create_task(follow(broker.bootstrap, seen, stop))
        producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap, acks="all")
        await producer.start()
        try:
            await publish(producer, [warmup])
            if not await wait_until(lambda: str(warmup.media_id) in seen.checks, 120, proc):
                msg = f"{scenario.name}: the worker produced no brand check in 120 s"
                raise RuntimeError(msg)
            ids = {str(e.media_id) for e in measured}
            started = time.time()
            await publish(producer, measured)
            await wait_until(lambda: ids <= seen.checks.keys(), 180, proc)
            last = max(seen.checks[i] for i in ids)
            window = last - started
            in_window = sum(1 for i in ids if seen.analyses.get(i, 1e18) <= last)
            if scenario.prepare is not stalled and not scenario.wrong_key:
                await wait_until(lambda: ids <= seen.analyses.keys(), 60, proc)
            total = len(ids & seen.analyses.keys())
        finally:
            stop.set()
            await follower
            await producer.stop()
            stop_worker(proc)
    return Row(scenario.name, len(ids) / window, window, in_window, total, len(fake.calls()))


def summary(rounds: list[list[Row]]) -> list[str]:
    """Mean checks/s per scenario over the rounds, each round's figure, and the ratio to off."""
    means = [sum(r[i].checks_per_s for r in rounds) / len(rounds) for i in range(len(rounds[0]))]
    lines = ["| scenario | checks/s by round | mean | vs off |", "| --- | --- | ---: | ---: |"]
    for i, mean in enumerate(means):
        each = ", ".join(f"{r[i].checks_per_s:.1f}" for r in rounds)
        lines.append(f"| {rounds[0][i].name} | {each} | {mean:.2f} | {mean / means[0]:.0%} |")
    return lines


def table(rows: list[Row], n: int) -> list[str]:
    base = rows[0].checks_per_s
    lines = [
        f"| scenario ({n} videos) | checks/s | vs off | check window s | analyses done "
        "by last check | analyses out | Gemini calls |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        lines.append(
            f"| {r.name} | {r.checks_per_s:.2f} | {r.checks_per_s / base:.0%} | "
            f"{r.check_window_s:.1f} | {r.analyses_in_window} | {r.analyses_total} | "
            f"{r.gemini_calls} |"
        )
    return lines


async def main(count: int, latency: float, rounds: int) -> None:
    scenarios = [
        Scenario("analysis off (403 at once)", slow(0.0), wrong_key=True),
        Scenario("fast Gemini (0 s)", slow(0.0)),
        Scenario(f"Gemini {latency:g} s per call", slow(latency)),
        Scenario("Gemini stalled (hangs)", stalled),
    ]
    fake = FakeGemini(api_key="bench-key").start()
    with tempfile.TemporaryDirectory(prefix="bench-isolation-") as tmp:
        work = Path(tmp)
        media = await asyncio.to_thread(make_media, work / "media", count + 1)
        try:
            results = [[await run(s, fake, media, work) for s in scenarios] for _ in range(rounds)]
        except Exception:
            print((work / "worker.log").read_text()[-3000:], file=sys.stderr)
            raise
        finally:
            fake.stop()
    print(f"## brand-check throughput with the Gemini analyzer (concurrency 8), {count} videos")
    print("\n".join(table(results[-1], count)))
    print(f"\n## mean over {rounds} rounds")
    print("\n".join(summary(results)))
    ratio = sum(r[2].checks_per_s for r in results) / sum(r[0].checks_per_s for r in results)
    verdict = "within" if ratio >= 0.9 else "NOT within"
    print(f"\n{latency:g} s Gemini vs analysis off: {ratio:.0%} ({verdict} the 10 % bar)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=60, help="videos per scenario")
    parser.add_argument("--latency", type=float, default=2.0, help="seconds per slow call")
    parser.add_argument("--rounds", type=int, default=2, help="repeats of every scenario")
    args = parser.parse_args()
    asyncio.run(main(args.events, args.latency, args.rounds))
