"""Deferred analyses resume from their mark and ledger event, once the budget allows."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from processors.keys import deferred_key, event_key
from processors.resume import mark, resume
from processors.storage.local import LocalStore
from processors.synthetic import events as make
from schemas.events import InputEvent, MediaAnalysis, MediaResult, Verdict
from schemas.ids import uuid7_time

Published = list[tuple[MediaAnalysis, MediaResult]]


@pytest.fixture
def store(tmp_path: Path) -> LocalStore:
    return LocalStore(tmp_path / "bucket")


def deferred_media(store: LocalStore, verdict: Verdict = "pass") -> MediaResult:
    """An accepted upload (its ledger event) whose result went out with a deferred analysis."""
    event = make.uploaded(brand_id="acme")
    store.put_bytes(event_key(event.media_id), event.to_bytes())
    source = make.source(event)
    check = make.brand_check(media_id=event.media_id, source=source, verdict=verdict)
    analysis = make.analysis(
        media_id=event.media_id, source=source, analyzer="gemini", status="deferred"
    )
    result = make.result(check, analysis)
    mark(store, result)
    return result


def analyzer(status: str, calls: list[InputEvent]) -> Any:
    async def analyze(event: InputEvent) -> MediaAnalysis:
        calls.append(event)
        return make.analysis(
            media_id=event.media_id, source=make.source(event), analyzer="gemini", status=status
        )

    return analyze


def recorder(published: Published) -> Any:
    async def publish(analysis: MediaAnalysis, result: MediaResult) -> None:
        published.append((analysis, result))

    return publish


async def run(store: LocalStore, analyze: Any, published: Published, **kw: Any) -> Any:
    later = time.time() + 3600  # every mark is past its grace period
    options: dict[str, Any] = {"older_than_s": 60, "batch": 10, "now": lambda: later} | kw
    return await resume(store, analyze, recorder(published), "tests", **options)


async def test_a_resumed_analysis_publishes_a_new_result_with_the_same_brand_check(
    store: LocalStore,
) -> None:
    first = deferred_media(store, verdict="warn")
    calls: list[InputEvent] = []
    published: Published = []
    report = await run(store, analyzer("done", calls), published)
    assert report.resumed == [first.media_id] and [e.media_id for e in calls] == [first.media_id]
    ((analysis, result),) = published
    assert analysis.status == "done" and result.analysis == analysis
    assert result.brand_check == first.brand_check and result.verdict == "warn"
    assert result.media_id == first.media_id and result.status == "done"
    assert not store.exists(deferred_key(first.media_id)), "the mark goes once resumed"


async def test_a_media_whose_budget_is_still_spent_stays_marked(store: LocalStore) -> None:
    first = deferred_media(store)
    published: Published = []
    report = await run(store, analyzer("deferred", []), published)
    assert report.still_deferred == [first.media_id] and not published
    assert store.exists(deferred_key(first.media_id))


async def test_young_marks_wait_and_the_batch_bounds_a_run(store: LocalStore) -> None:
    marks = [deferred_media(store) for _ in range(3)]
    calls: list[InputEvent] = []
    young = uuid7_time(marks[0].media_id).timestamp()  # the grace period not yet over
    await run(store, analyzer("done", calls), [], now=lambda: young)
    assert calls == []
    report = await run(store, analyzer("done", calls), [], batch=2)
    assert report.resumed == [m.media_id for m in marks[:2]], "oldest first, two at most"
    assert store.exists(deferred_key(marks[2].media_id))


async def test_a_mark_without_its_ledger_event_is_reported_and_kept(store: LocalStore) -> None:
    first = deferred_media(store)
    store.delete(event_key(first.media_id))
    report = await run(store, analyzer("done", []), [])
    assert [m for m, _ in report.unreadable] == [first.media_id]
    assert "ObjectNotFound" in report.unreadable[0][1]
    assert store.exists(deferred_key(first.media_id))


async def test_what_is_not_a_mark_is_left_alone(store: LocalStore) -> None:
    """A stray object under the prefix (a copy, a note) is neither analysed nor deleted."""
    first = deferred_media(store)
    store.put_bytes("deferred/README.txt", b"not a mark")
    store.put_bytes("deferred/not-a-uuid.json", b"{}")
    calls: list[InputEvent] = []
    report = await run(store, analyzer("done", calls), [])
    assert report.resumed == [first.media_id] and len(calls) == 1 and not report.unreadable
    assert store.exists("deferred/README.txt") and store.exists("deferred/not-a-uuid.json")
