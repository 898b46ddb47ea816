"""The reconciler's wiring: plan (`processors.reconcile`), re-emit on Kafka, count, report.

Two ways to run it: `reelscope reconcile` once, with an aiokafka producer of its own (acks from
all in-sync replicas), and a faust timer in the workers that fires on the group's leader only
(`register`), publishing with the worker's producer (also acks=all). Re-emitting publishes the
stored event bytes again, keyed by media id, to the topic of their schema; the whole pipeline is
idempotent per media id, so a media re-emitted twice still ends as one row per view.

Between timer runs a media is re-emitted at most once per grace period (`Cooldown`); the
one-shot command keeps no memory and re-emits every stale media it finds.

Media queued behind the pipeline's backlog are not judged (`Backlog`), but a backlog whose head
has not moved for a grace period is a stalled commit, not a queue: it stops holding anything
back, so a media lost at the head of a partition still gets its result (`commit_stalled`).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal
from uuid import UUID

import structlog

from processors.config import ReconcileSettings, Settings
from processors.errors import ReelscopeError
from processors.lake.query import Lake
from processors.reconcile import Cooldown, Plan, plan
from processors.storage import Store
from schemas import topics
from schemas.ids import uuid7_time
from schemas.lake import TABLE_OF_TOPIC
from streams import metrics
from streams.admin import committed_offsets

if TYPE_CHECKING:
    import faust

log = structlog.get_logger(__name__)
Send = Callable[[str, bytes, bytes], Awaitable[None]]  # (topic, key, value), acknowledged
Action = Literal["reemitted", "would-reemit", "cooling-down", "unrecoverable"]


@dataclass(frozen=True)
class Outcome:
    media_id: UUID
    action: Action
    detail: str


@dataclass(frozen=True)
class Report:
    """One run: the plan and what was done about each stale media."""

    plan: Plan
    outcomes: list[Outcome] = field(default_factory=list)
    stalled: list[Head] = field(default_factory=list)  # heads found stalled in this run

    def count(self, action: Action) -> int:
        return sum(1 for o in self.outcomes if o.action == action)

    def lines(self) -> list[str]:
        """One line per stale media, then a summary; for people."""
        out = [f"{o.action:<14} {o.media_id}  {o.detail}" for o in self.outcomes]
        p = self.plan
        done = ", ".join(
            f"{self.count(a)} {a}"
            for a in ("reemitted", "would-reemit", "cooling-down", "unrecoverable")
            if self.count(a) or a in ("reemitted", "unrecoverable")
        )
        out.append(
            f"checked {p.checked} ledger media accepted {p.since:%Y-%m-%d %H:%M:%S} .. "
            f"{p.until:%Y-%m-%d %H:%M:%S} UTC: {p.stale} without result or dead letter; {done}"
        )
        return out


@dataclass(frozen=True)
class Head:
    """The first record a consumer group has not committed on a partition: a media in the
    pipeline's backlog, accepted at `accepted_at` (the time in its UUIDv7)."""

    group: str
    topic: str
    partition: int
    offset: int
    media_id: UUID

    @property
    def accepted_at(self) -> datetime:
        return uuid7_time(self.media_id)


Backlog = Callable[[], Awaitable[list[Head]]]


class Heads:
    """When each backlog head was first seen, to tell a queue (its head moves) from a stalled
    commit (its head stays for `stall_s`)."""

    def __init__(self, stall_s: float) -> None:
        self.stall_s = stall_s
        self._since: dict[Head, float] = {}
        self.stalled: set[Head] = set()

    def oldest_moving(self, heads: list[Head]) -> tuple[datetime | None, list[Head]]:
        """The acceptance time of the oldest head still moving, and the heads that stalled
        since the last call (`stalled` keeps them all)."""
        now = time.monotonic()
        self._since = {h: self._since.get(h, now) for h in heads}
        stalled = {h for h, t in self._since.items() if now - t >= self.stall_s}
        new = sorted(stalled - self.stalled, key=lambda h: (h.group, h.topic, h.partition))
        self.stalled = stalled
        moving = [h.accepted_at for h in heads if h not in stalled and h.media_id.version == 7]
        return min(moving, default=None), new


class Reconciler:
    """Plans and re-emits; keeps the metrics and the cooldown between runs of one process.

    `backlog` lists the media at the head of each lagging partition: media accepted after the
    oldest of them may only be queued behind a busy stage, so they are not judged yet (a
    re-emission would add work exactly when the pipeline is behind). A head that stays put for
    `older_than_s` holds nothing back (`Heads`).
    """

    def __init__(
        self,
        store: Store,
        lake: Lake,
        settings: ReconcileSettings,
        send: Send | None,
        backlog: Backlog | None = None,
    ) -> None:
        self.store = store
        self.lake = lake
        self.settings = settings
        self.send = send
        self.backlog = backlog
        self.cooldown = Cooldown(settings.older_than_s)
        self.heads = Heads(settings.older_than_s)
        self._reported: set[UUID] = set()  # unrecoverable media already counted

    async def run(self, *, older_than_s: float | None = None, dry_run: bool = False) -> Report:
        """Run once. A failed publish raises: what was sent stays sent, the next run retries
        the rest."""
        s = self.settings
        heads = await self.backlog() if self.backlog is not None else []
        pending, stalled = self.heads.oldest_moving(heads)
        metrics.STALLED_COMMITS.set(len(self.heads.stalled))
        found = await asyncio.to_thread(
            plan,
            self.store,
            self.lake,
            older_than_s=s.older_than_s if older_than_s is None else older_than_s,
            lookback_days=s.lookback_days,
            not_after=pending,
        )
        metrics.STALE_PROCESSING.set(found.stale)
        report = Report(found, stalled=stalled)
        self.cooldown.prune()
        for item in found.reemit:
            detail = f"{item.topic}  accepted {item.accepted_at:%Y-%m-%d %H:%M:%S}"
            if dry_run or self.send is None:
                report.outcomes.append(Outcome(item.media_id, "would-reemit", detail))
            elif not self.cooldown.due(item.media_id):
                report.outcomes.append(Outcome(item.media_id, "cooling-down", detail))
            else:
                await self.send(item.topic, str(item.media_id).encode(), item.value)
                self.cooldown.mark(item.media_id)
                metrics.RECONCILED.labels("reemitted").inc()
                report.outcomes.append(Outcome(item.media_id, "reemitted", detail))
        for lost in found.unrecoverable:
            if lost.media_id not in self._reported:
                self._reported.add(lost.media_id)
                metrics.RECONCILED.labels("unrecoverable").inc()
            report.outcomes.append(Outcome(lost.media_id, "unrecoverable", lost.reason))
        self._reported &= {lost.media_id for lost in found.unrecoverable}  # stays bounded
        return report


class BrokerUnavailable(ReelscopeError):
    """The broker did not take a re-emitted event (down, unreachable or too slow)."""


@asynccontextmanager
async def kafka_sender(
    bootstrap: str, timeout_s: float = 10.0, security: Mapping[str, Any] | None = None
) -> AsyncIterator[Send]:
    """An aiokafka producer whose sends return once all in-sync replicas acknowledged."""
    from aiokafka import AIOKafkaProducer
    from aiokafka.errors import KafkaError

    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        client_id="reelscope-reconciler",
        acks="all",
        enable_idempotence=False,  # Tansu has no idempotent producers; consumers de-duplicate
        request_timeout_ms=int(timeout_s * 1000),
        linger_ms=0,
        **(security or {}),
    )
    try:
        await asyncio.wait_for(producer.start(), timeout_s)
    except (KafkaError, OSError, TimeoutError) as e:
        await producer.stop()
        msg = f"the broker at {bootstrap} did not answer: {type(e).__name__}"
        raise BrokerUnavailable(msg) from e
    try:

        async def send(topic: str, key: bytes, value: bytes) -> None:
            try:
                await asyncio.wait_for(producer.send_and_wait(topic, value, key=key), timeout_s)
            except (KafkaError, TimeoutError) as e:
                msg = f"publish to {topic} was not acknowledged: {type(e).__name__}"
                raise BrokerUnavailable(msg) from e

        yield send
    finally:
        await producer.stop()


def kafka_backlog(settings: Settings, timeout_s: float = 10.0) -> Backlog:
    """The media at the head of every partition a consumer group has not committed to its end.

    For each partition the processing group (inputs, brand checks, analyses) or the lake
    group (every lake topic) lags on, the record at the committed offset is the oldest not yet
    done; its key is a media id, whose UUIDv7 carries its acceptance time. Records behind it
    are mostly newer (re-emitted media are the exception: they are judged again after their
    cooldown).
    """
    from streams.lake_sink import lake_group

    groups = {
        settings.kafka.consumer_group: [
            *topics.INPUT_TOPICS,
            topics.BRAND_CHECKS,
            topics.MEDIA_ANALYSES,
        ],
        lake_group(settings): list(TABLE_OF_TOPIC),
    }
    bootstrap, security = settings.kafka.bootstrap, settings.kafka.security.client_options()

    async def heads() -> list[Head]:
        try:
            return await asyncio.wait_for(_pending_heads(bootstrap, groups, security), timeout_s)
        except Exception as e:  # no answer: judge as without a backlog
            log.warning("reconcile_backlog_unknown", error=repr(e))
            return []

    return heads


async def _pending_heads(
    bootstrap: str, groups: dict[str, list[str]], security: Mapping[str, Any]
) -> list[Head]:
    """The first uncommitted record of every lagging partition."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, **security)
    try:
        await consumer.start()  # inside: a timeout while starting must still close it
        lagging: dict[tuple[str, TopicPartition], int] = {}
        for group, names in groups.items():
            committed = await asyncio.to_thread(committed_offsets, bootstrap, group)
            parts = [
                TopicPartition(t, p) for t in names for p in consumer.partitions_for_topic(t) or ()
            ]
            if not parts:
                continue
            ends = await consumer.end_offsets(parts)
            starts = await consumer.beginning_offsets(parts)
            for tp in parts:
                at = committed.get((tp.topic, tp.partition), -1)
                at = at if at >= 0 else starts[tp]
                if starts[tp] <= at < ends[tp]:
                    lagging[group, tp] = at
        if not lagging:
            return []
        first = {tp: min(at for (_, t), at in lagging.items() if t == tp) for _, tp in lagging}
        consumer.assign(list(first))
        for tp, at in first.items():
            consumer.seek(tp, at)
        got = await consumer.getmany(*first, timeout_ms=2000, max_records=len(first) * 50)
        keys = {(tp, r.offset): r.key for tp, records in got.items() for r in records}
        heads: list[Head] = []
        for (group, tp), at in lagging.items():
            key = keys.get((tp, at))
            if key:
                with contextlib.suppress(ValueError):
                    media_id = UUID(key.decode(errors="replace"))
                    heads.append(Head(group, tp.topic, tp.partition, at, media_id))
        return heads
    finally:
        await consumer.stop()


async def reconcile_once(
    settings: Settings, *, older_than_s: float | None = None, dry_run: bool = False
) -> Report:
    """One run as `reelscope reconcile` does it: its own store, lake and producer."""
    store = settings.store.open()
    lake = Lake(store)
    if dry_run:
        return await Reconciler(store, lake, settings.reconcile, None).run(
            older_than_s=older_than_s, dry_run=True
        )
    security = settings.kafka.security.client_options()
    async with kafka_sender(settings.kafka.bootstrap, security=security) as send:
        reconciler = Reconciler(store, lake, settings.reconcile, send, kafka_backlog(settings))
        return await reconciler.run(older_than_s=older_than_s)


def register(app: faust.App, settings: Settings) -> None:
    """Run the reconciler every `interval_s` on the leader worker only (if enabled).

    Every worker has the timer; faust runs its body only where this worker holds the leader
    topic's partition, so N workers reconcile once, and a new leader takes over after a
    rebalance. A failed run is logged and retried at the next tick: it never stops the worker.
    """
    rs = settings.reconcile
    if not rs.enabled:
        return
    inputs = {n: app.topic(n, key_type=bytes, value_type=bytes) for n in topics.INPUT_TOPICS}
    made: list[Reconciler] = []

    async def send(topic: str, key: bytes, value: bytes) -> None:
        fut = await inputs[topic].send(key=key, value=value)
        await fut

    async def reconcile() -> None:
        try:
            if not made:
                store = settings.store.open()
                made.append(Reconciler(store, Lake(store), rs, send, kafka_backlog(settings)))
            report = await made[0].run()
        except Exception:
            log.exception("reconcile_failed")
            return
        for o in report.outcomes:
            log.info("reconciled", media_id=str(o.media_id), action=o.action, detail=o.detail)
        for h in report.stalled:
            log.warning(
                "commit_stalled",
                group=h.group,
                topic=h.topic,
                partition=h.partition,
                offset=h.offset,
                media_id=str(h.media_id),
            )
        (log.info if report.plan.stale else log.debug)(
            "reconcile_run",
            judged_until=report.plan.until.isoformat(),
            checked=report.plan.checked,
            stale=report.plan.stale,
            reemitted=report.count("reemitted"),
            unrecoverable=report.count("unrecoverable"),
        )

    async def follow() -> None:
        forget_unless_leader(app)

    # called, not used as a decorator: faust hides `timer` from type checkers
    app.timer(rs.interval_s, on_leader=True, name="reelscope.reconcile")(reconcile)
    app.timer(rs.interval_s, name="reelscope.reconcile.follow")(follow)


def forget_unless_leader(app: Any) -> None:
    """Zero the last run's gauges on a worker that is not the leader (any longer): only the
    leader's are true now, and alerts take the largest of all workers'."""
    if not app.is_leader():
        metrics.STALE_PROCESSING.set(0)
        metrics.STALLED_COMMITS.set(0)
