"""The worker's timers: the loop's heartbeat and offsets for `/healthz`, and the Gemini
analyzer's requests and the fleet's budget for `/metrics`."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime

import faust
import structlog

from processors.budget import BudgetLedger
from processors.config import Settings
from processors.errors import StorageError
from processors.pipeline import Stages
from processors.resume import resume
from schemas import topics
from schemas.events import MediaAnalysis, MediaResult
from streams import metrics
from streams.health import Health

log = structlog.get_logger(__name__)
RESUMED = "reelscope-resumed"  # header of an analysis the resumer made: no half to join


def watch_health(app: faust.App, health: Health) -> None:
    """Beat the loop's heartbeat every second and report the stages' consumer group's offsets
    (faust's monitor: the last offset each partition's stream took, the end offset the last
    fetch saw; a partition nothing was taken from yet counts from its committed offset), for
    the partitions this worker owns now."""

    async def beat() -> None:
        health.heartbeat()

    async def offsets() -> None:
        monitor, owned = app.monitor, app.consumer.assignment()
        read = {tp: o + 1 for tp, o in monitor.tp_read_offsets.items() if tp in owned}
        for tp, committed in monitor.tp_committed_offsets.items():
            if tp in owned:
                read.setdefault(tp, committed)
        end = {tp: o for tp, o in monitor.tp_end_offsets.items() if tp in owned}
        health.observe(app.conf.id, read, end)

    app.timer(1.0)(beat)
    app.timer(5.0)(offsets)


def watch_gemini(
    app: faust.App,
    settings: Settings,
    stages: Callable[[], Awaitable[Stages]],
    every_s: float = 10.0,
) -> None:
    """Export the Gemini analyzer's requests and the fleet's spend against its budgets: every
    series at zero from start-up (the local analyzer too), then what the analyzer counted and
    the shared ledger holds."""
    model, reported = settings.gemini.model, dict[str, int]()
    metrics.report_gemini(model, {}, reported)
    metrics.report_budget(settings.gemini, None, datetime.now(UTC).date())

    async def report() -> None:
        analyzer = (await stages()).analyzer
        if isinstance(requests := getattr(analyzer, "requests", None), Mapping):
            metrics.report_gemini(model, requests, reported)
        if isinstance(ledger := getattr(analyzer, "budget", None), BudgetLedger):
            today = datetime.now(UTC).date()
            try:
                spend = await asyncio.to_thread(ledger.snapshot, today)
            except StorageError as e:
                log.warning("budget_unreadable", error=str(e))
                return
            metrics.report_budget(settings.gemini, spend, today)

    app.timer(every_s)(report)


def watch_deferred(
    app: faust.App,
    settings: Settings,
    stages: Callable[[], Awaitable[Stages]],
    publish: Callable[..., Awaitable[None]],
) -> None:
    """On the leader worker, resume the analyses the budget deferred (`processors.resume`):
    the new analysis goes out marked as resumed (the results agent has no half to join it
    with) and the new result beside it."""
    rs = settings.resume
    if not rs.enabled:
        return

    async def both(analysis: MediaAnalysis, result: MediaResult) -> None:
        await publish(
            topics.MEDIA_ANALYSES, analysis.media_id, analysis.to_bytes(), [(RESUMED, b"1")]
        )
        await publish(topics.MEDIA_RESULTS, result.media_id, result.to_bytes())
        metrics.record_analysis(analysis)  # its result is not timed: the first one was

    async def run() -> None:
        s = await stages()
        try:
            report = await resume(
                s.store,
                s.analyze,
                both,
                settings.producer_id,
                older_than_s=rs.older_than_s,
                batch=rs.batch,
            )
        except Exception:  # a failed run is retried at the next tick, never stops the worker
            log.exception("resume_failed")
            return
        if report.resumed or report.still_deferred or report.unreadable:
            log.info(
                "resume_run",
                resumed=len(report.resumed),
                still_deferred=len(report.still_deferred),
                unreadable=[f"{m}: {why}" for m, why in report.unreadable],
            )

    # called, not used as a decorator: faust hides `timer` from type checkers
    app.timer(rs.interval_s, on_leader=True, name="reelscope.resume")(run)
