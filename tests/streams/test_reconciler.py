"""The reconciler's wiring on the real broker: stored events published again, counted, held back
for their grace period between runs, and nothing sent on a dry run."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import UUID

import pytest
from prometheus_client import REGISTRY

from processors import ledger
from processors.config import ReconcileSettings, Settings
from processors.keys import media_key
from processors.lake.query import Lake
from processors.storage import LocalStore
from processors.synthetic import lake as syn
from schemas.topics import MEDIA_UPLOADED
from streams.broker import EmbeddedBroker, free_port
from streams.cli import parser
from streams.reconciler import BrokerUnavailable, Head, Reconciler, kafka_sender, reconcile_once
from tests.api.conftest import events_for


def accept_lost(store: LocalStore, counter: int, *, record: bool = True) -> str:
    """A media the API accepted ten minutes ago whose event never reached any result."""
    event = syn.uploaded(datetime.now(tz=UTC) - timedelta(minutes=10), counter=counter)
    store.put_bytes(media_key(event.media_id), b"bytes")
    if record:
        store.put_bytes(ledger.event_key(event.media_id), event.to_bytes())
    return str(event.media_id)


def counted(outcome: str) -> float:
    value = REGISTRY.get_sample_value("reelscope_reconciled_total", {"outcome": outcome})
    return value or 0.0


async def test_a_run_publishes_the_stored_event_once_per_grace_period(
    broker: EmbeddedBroker, tmp_path: Path
) -> None:
    store = LocalStore(tmp_path / "bucket")
    lost, bare = accept_lost(store, 1), accept_lost(store, 2, record=False)
    before = counted("reemitted"), counted("unrecoverable")
    async with kafka_sender(broker.bootstrap) as send:
        reconciler = Reconciler(store, Lake(store), ReconcileSettings(older_than_s=300), send)
        first = await reconciler.run()
        second = await reconciler.run()  # the same process: the media is still cooling down

    assert [(str(o.media_id), o.action) for o in first.outcomes] == [
        (lost, "reemitted"),
        (bare, "unrecoverable"),
    ]
    assert [o.action for o in second.outcomes] == ["cooling-down", "unrecoverable"]
    events = await events_for(broker.bootstrap, MEDIA_UPLOADED, lost)
    assert events == [json.loads(store.get_bytes(ledger.event_key(UUID(lost))))]
    assert counted("reemitted") - before[0] == 1
    assert counted("unrecoverable") - before[1] == 1  # once per media, not once per run
    assert REGISTRY.get_sample_value("reelscope_media_stale_processing") == 2
    assert first.lines()[-1].endswith(
        "2 without result or dead letter; 1 reemitted, 1 unrecoverable"
    )


async def test_a_dry_run_sends_nothing(broker: EmbeddedBroker, tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "bucket")
    lost = accept_lost(store, 3)
    settings = Settings.model_validate(
        {"kafka": {"bootstrap": broker.bootstrap}, "store": {"url": store.url}}
    )
    report = await reconcile_once(settings, dry_run=True)
    assert [(str(o.media_id), o.action) for o in report.outcomes] == [(lost, "would-reemit")]
    assert await events_for(broker.bootstrap, MEDIA_UPLOADED, lost) == []


def test_the_command_line() -> None:
    args = parser().parse_args(["reconcile", "--older-than", "0", "--dry-run"])
    assert (args.command, args.older_than, args.dry_run) == ("reconcile", 0.0, True)
    assert parser().parse_args(["reconcile"]).older_than is None


async def test_an_unreachable_broker_is_a_readable_error(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "bucket")
    accept_lost(store, 4)
    settings = Settings.model_validate(
        {"kafka": {"bootstrap": f"127.0.0.1:{free_port()}"}, "store": {"url": store.url}}
    )
    with pytest.raises(BrokerUnavailable, match="did not answer"):
        await reconcile_once(settings)


async def test_media_behind_the_pipelines_backlog_are_not_judged(tmp_path: Path) -> None:
    """Three media accepted 30, 20 and 10 minutes ago, all queued; the processing group has
    done the first. The backlog starts at the second: only the first is judged (and re-emitted)."""
    from aiokafka import AIOKafkaProducer

    from streams.admin import ensure_topics
    from streams.lake_sink import lake_group
    from streams.reconciler import kafka_backlog

    store = LocalStore(tmp_path / "bucket")
    now = datetime.now(tz=UTC)
    events = [syn.uploaded(now - timedelta(minutes=m), counter=m) for m in (30, 20, 10)]
    for e in events:
        store.put_bytes(media_key(e.media_id), b"bytes")
        store.put_bytes(ledger.event_key(e.media_id), e.to_bytes())
    with EmbeddedBroker() as broker:
        ensure_topics(broker.bootstrap, partitions=1)
        settings = Settings.model_validate(
            {"kafka": {"bootstrap": broker.bootstrap}, "reconcile": {"older_than_s": 60}}
        )
        producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap, acks="all")
        await producer.start()
        for e in events:
            await producer.send_and_wait(MEDIA_UPLOADED, e.to_bytes(), key=str(e.media_id).encode())
        await producer.stop()
        # the processing group has done the first media; the lake sink has every upload row
        assert await consume_and_commit(broker.bootstrap, settings.kafka.consumer_group, 1) == 0
        assert await consume_and_commit(broker.bootstrap, lake_group(settings), 3) == 2

        backlog = kafka_backlog(settings)
        heads = await backlog()
        assert [(h.group, h.offset, h.media_id) for h in heads] == [
            (settings.kafka.consumer_group, 1, events[1].media_id)  # the lake is up to date
        ]
        oldest = heads[0].accepted_at
        assert abs((oldest - (now - timedelta(minutes=20))).total_seconds()) < 1

        sent: list[bytes] = []

        async def send(topic: str, key: bytes, value: bytes) -> None:
            sent.append(key)

        report = await Reconciler(store, Lake(store), settings.reconcile, send, backlog).run()
    assert sent == [str(events[0].media_id).encode()]
    assert report.plan.until <= oldest


async def test_a_head_that_does_not_move_stops_holding_media_back(tmp_path: Path) -> None:
    """A media lost at the head of a partition (its commit stalled there): the backlog holds
    it and everything after it back for one grace period, then it is re-emitted."""
    store = LocalStore(tmp_path / "bucket")
    lost = accept_lost(store, 4)
    head = Head("reelscope-worker", MEDIA_UPLOADED, 0, 7, UUID(lost))
    sent: list[bytes] = []

    async def send(topic: str, key: bytes, value: bytes) -> None:
        sent.append(key)

    async def backlog() -> list[Head]:
        return [head]

    settings = ReconcileSettings(older_than_s=1)
    reconciler = Reconciler(store, Lake(store), settings, send, backlog)
    first = await reconciler.run()
    assert (first.outcomes, first.stalled, sent) == ([], [], [])  # queued, as far as we know
    await asyncio.sleep(settings.older_than_s)
    second = await reconciler.run()
    assert second.stalled == [head]
    assert [(str(o.media_id), o.action) for o in second.outcomes] == [(lost, "reemitted")]
    assert sent == [lost.encode()]
    assert REGISTRY.get_sample_value("reelscope_commit_stalled_partitions") == 1
    third = await reconciler.run()
    assert third.stalled == []  # reported once


async def consume_and_commit(bootstrap: str, group: str, n: int) -> int:
    """Take `n` uploads as a member of `group` and commit them; return the last offset."""
    from aiokafka import AIOKafkaConsumer

    consumer = AIOKafkaConsumer(
        MEDIA_UPLOADED,
        bootstrap_servers=bootstrap,
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    try:
        last = -1
        for _ in range(n):
            last = (await consumer.getone()).offset
        await consumer.commit()
        return last
    finally:
        await consumer.stop()


class _App:
    def __init__(self, leader: bool) -> None:
        self.leader = leader

    def is_leader(self) -> bool:
        return self.leader


def test_a_worker_that_lost_the_lead_stops_reporting_its_last_run() -> None:
    """Alerts take the largest of all workers': a former leader's frozen count would hold
    the stuck-media alert up after the new leader found nothing."""
    from streams import metrics
    from streams.reconciler import forget_unless_leader

    metrics.STALE_PROCESSING.set(3)
    metrics.STALLED_COMMITS.set(1)
    forget_unless_leader(_App(leader=True))
    assert metrics.STALE_PROCESSING._value.get() == 3  # noqa: SLF001
    forget_unless_leader(_App(leader=False))
    assert metrics.STALE_PROCESSING._value.get() == metrics.STALLED_COMMITS._value.get() == 0  # noqa: SLF001
