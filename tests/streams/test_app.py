"""The agents, run with faust's `test_context()` and a recording publish: no broker.

What the broker-backed e2e tests cannot isolate: which stage dead-letters a malformed input,
that the join publishes one result per media, and that a replayed half of a media whose result
is out is not published again.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import pytest

from processors.config import Settings
from processors.pipeline import Stages, failed_analysis, failed_check
from processors.storage import MemoryStore
from processors.synthetic import lake as syn
from schemas import topics
from schemas.events import BrandCheck, DeadLetter, MediaAnalysis, MediaResult, MediaUploaded
from schemas.reviews import MediaDecision, Review
from streams.app import create_app
from streams.gate import DecisionLog

SETTINGS = Settings(producer_id="agent-test")
Sent = list[tuple[str, Any, bytes]]


class KnownResults:
    """`PublishedResults` without a broker: ready at once, remembers what was added."""

    def __init__(self) -> None:
        self.ready = asyncio.Event()
        self.ready.set()
        self.ids: set[str] = set()

    def __contains__(self, media_id: object) -> bool:
        return str(media_id) in self.ids

    def add(self, media_id: UUID | str) -> None:
        self.ids.add(str(media_id))

    async def run(self) -> None:
        await asyncio.Event().wait()


class Decisions(DecisionLog):
    """`DecisionLog` without a broker: ready at once, knows what the gate put."""

    def __init__(self) -> None:
        super().__init__("localhost:1")
        self.ready.set()

    async def run(self) -> None:
        await asyncio.Event().wait()


class FailingStages:
    """Stages that answer every input with a failed check and a failed analysis."""

    store = MemoryStore()  # no brand profiles: the gate applies the default review policy

    async def brand_check(self, event: MediaUploaded) -> BrandCheck:
        return failed_check(event, "unreadable in this test", SETTINGS.producer_id)

    async def analyze(self, event: MediaUploaded) -> MediaAnalysis:
        return failed_analysis(event, "local", "unreadable in this test", SETTINGS)


def wired(known: KnownResults | None = None, settings: Settings = SETTINGS) -> tuple[Any, Sent]:
    sent: Sent = []

    async def publish(topic: str, key: Any, value: bytes, headers: Any = ()) -> None:
        sent.append((topic, key, value))

    async def stages() -> Stages:
        return FailingStages()  # type: ignore[return-value]

    app = create_app(
        settings,
        "localhost:1",
        stages,
        publish=publish,
        published=known or KnownResults(),
        decision_log=Decisions(),  # type: ignore[arg-type]
    )
    return app, sent


async def until(check: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not check():
        assert asyncio.get_running_loop().time() < deadline, "the agent did not publish in time"
        await asyncio.sleep(0.01)


async def feed(app: Any, agent: str, values: list[bytes], done: Callable[[], bool]) -> None:
    async with app.agents[f"streams.app.{agent}"].test_context() as running:
        for value in values:
            await running.put(value, key=b"k")
        await until(done)


def upload() -> MediaUploaded:
    return syn.uploaded(datetime.now(UTC))


@pytest.mark.parametrize(
    ("agent", "output"),
    [("brand_checks", topics.BRAND_CHECKS), ("analyses", topics.MEDIA_ANALYSES)],
)
async def test_each_input_stage_publishes_its_half_keyed_by_media(agent: str, output: str) -> None:
    app, sent = wired()
    event = upload()
    await feed(app, agent, [event.to_bytes()], lambda: len(sent) == 1)
    topic, key, value = sent[0]
    assert (topic, key) == (output, event.media_id)
    half = (BrandCheck if output == topics.BRAND_CHECKS else MediaAnalysis).model_validate_json(
        value
    )
    assert half.media_id == event.media_id and half.status == "failed"


async def test_only_the_brand_stage_dead_letters_a_malformed_input() -> None:
    app, sent = wired()
    await feed(app, "brand_checks", [b"{not json"], lambda: len(sent) == 1)
    assert sent[0][0] == topics.DEADLETTER
    entry = DeadLetter.model_validate_json(sent[0][2])
    assert (entry.stage, entry.error_type) == ("intake", "invalid_json")

    app, sent = wired()
    event = upload()  # a valid input after the bad one: the analysis stage skips, not stops
    await feed(app, "analyses", [b"{not json", event.to_bytes()], lambda: len(sent) == 1)
    assert [topic for topic, _, _ in sent] == [topics.MEDIA_ANALYSES]


async def test_the_join_publishes_one_result_and_ignores_replayed_halves() -> None:
    known = KnownResults()
    app, sent = wired(known)
    event = upload()
    check = failed_check(event, "unreadable", SETTINGS.producer_id).to_bytes()
    analysis = failed_analysis(event, "local", "unreadable", SETTINGS).to_bytes()
    await feed(app, "results", [check, analysis], lambda: len(sent) == 1)
    topic, key, value = sent[0]
    assert (topic, key) == (topics.MEDIA_RESULTS, event.media_id)
    assert MediaResult.model_validate_json(value).status == "failed"
    assert event.media_id in known

    await feed(app, "results", [check, analysis, b"[]"], lambda: len(sent) == 2)
    assert [topic for topic, _, _ in sent] == [topics.MEDIA_RESULTS, topics.DEADLETTER]


def test_agents_keep_the_names_faust_gave_them() -> None:
    app, _ = wired()
    assert sorted(app.agents) == [
        f"streams.app.{n}" for n in ("analyses", "brand_checks", "decisions", "results")
    ]


async def test_the_worker_consumer_fetches_with_the_configured_wait() -> None:
    """faust's own consumer would wait 1500 ms per empty fetch (hard-coded), which Tansu holds
    in full even when records arrive (`streams.fetch_wait`)."""
    kafka = SETTINGS.kafka.model_copy(update={"fetch_wait_ms": 37})
    app, _ = wired(settings=SETTINGS.model_copy(update={"kafka": kafka}))
    thread = app.consumer._thread
    consumer = thread._create_worker_consumer(app.transport)  # builds it; connects on start()
    assert consumer._fetch_max_wait_ms == 37


async def test_the_gate_decides_once_per_input_and_a_person_has_the_last_word() -> None:
    app, sent = wired()
    event = upload()
    check = failed_check(event, "unreadable", SETTINGS.producer_id)
    analysis = failed_analysis(event, "local", "unreadable", SETTINGS)
    result = MediaResult(
        media_id=event.media_id,
        producer="t",
        source=check.source,
        status="failed",
        brand_check=check,
        analysis=analysis,
    )
    review = Review(media_id=event.media_id, producer="api", decision="approved", reviewer="lead")
    replayed = result.to_bytes()
    await feed(
        app, "decisions", [result.to_bytes(), review.to_bytes(), replayed], lambda: len(sent) == 2
    )
    await asyncio.sleep(0.1)  # the replayed result had its chance to publish
    decisions = [MediaDecision.model_validate_json(v) for _, _, v in sent]
    assert [(t, k) for t, k, _ in sent] == [(topics.MEDIA_DECISIONS, event.media_id)] * 2
    assert [(d.state, d.by) for d in decisions] == [("pending", "auto"), ("approved", "human")]
    assert decisions[1].reviewer == "lead"
