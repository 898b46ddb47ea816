"""Deferred analyses resume when the budget allows (the next day, a raised limit), without a
re-upload.

An analysis the budget refused (`deferred`) still gives its media a result at once: the brand
check's verdict does not wait for Gemini. Before that result is published, the results agent
leaves a mark in the bucket, `deferred/<media_id>.json` (`processors.keys.deferred_key`): the
result itself, brand check included. The leader worker's resumer goes through the marks older
than a grace period, analyses each media again from its ledger event (`media/…/<id>.event.json`)
and, when the analysis is no longer deferred, publishes it and a new result for the same media
(the same brand check, the new analysis), then removes the mark. A media whose budget is still
spent stays marked for the next run.

So a deferred media has two results, the second later: the lake's views, the API and a
key-compacted results topic all keep the latest (downstream apps read the latest per key). The
mark is written before the first result is published and removed after the second, so a crash
anywhere repeats a step, never skips one; a repeated analysis is free (Gemini's answers are
cached) and a repeated result is the same result again.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from uuid import UUID

import structlog
from pydantic import ValidationError

from processors.errors import ObjectNotFound
from processors.join import combine
from processors.keys import DEFERRED_PREFIX, deferred_key, deferred_media_id, event_key
from processors.storage import Store
from schemas.events import INPUT_EVENT, InputEvent, MediaAnalysis, MediaResult
from schemas.ids import uuid7_time

log = structlog.get_logger(__name__)

Analyze = Callable[[InputEvent], Awaitable[MediaAnalysis]]
Publish = Callable[[MediaAnalysis, MediaResult], Awaitable[None]]


def mark(store: Store, result: MediaResult) -> None:
    """Remember a result whose analysis was deferred, to resume it later (blocking)."""
    store.put_bytes(deferred_key(result.media_id), result.to_bytes())


@dataclass
class Report:
    resumed: list[UUID] = field(default_factory=list)
    still_deferred: list[UUID] = field(default_factory=list)
    unreadable: list[tuple[UUID, str]] = field(default_factory=list)


async def resume(
    store: Store,
    analyze: Analyze,
    publish: Publish,
    producer: str,
    *,
    older_than_s: float,
    batch: int,
    now: Callable[[], float] = time.time,
) -> Report:
    """Analyse again up to `batch` of the marked media older than `older_than_s` (by their
    media id's time), oldest first; publish what is no longer deferred."""
    report = Report()
    for key in sorted(await asyncio.to_thread(store.list, DEFERRED_PREFIX))[:batch]:
        if (media_id := deferred_media_id(key)) is None:
            continue  # not a mark
        if now() - uuid7_time(media_id).timestamp() < older_than_s:
            break  # marks sort by media id, so by time: the rest are younger still
        try:
            deferred = MediaResult.model_validate_json(
                await asyncio.to_thread(store.get_bytes, key)
            )
            value = await asyncio.to_thread(store.get_bytes, event_key(media_id))
            event = INPUT_EVENT.validate_json(value)
        except (ObjectNotFound, ValidationError) as e:
            report.unreadable.append((media_id, f"{type(e).__name__}: {e}"[:300]))
            continue
        about = {"media_id": str(media_id), "event_id": str(event.event_id), "stage": "resume"}
        with structlog.contextvars.bound_contextvars(trace_id=event.event_id.hex, **about):
            analysis = await analyze(event)
            if analysis.status == "deferred":
                report.still_deferred.append(media_id)
                continue
            await publish(analysis, combine(deferred.brand_check, analysis, producer))
            await asyncio.to_thread(store.delete, key)
            report.resumed.append(media_id)
            log.info("analysis_resumed", status=analysis.status)
    return report
