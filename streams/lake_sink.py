"""The lake sink: its own consumer group reads the lake topics, writes Parquet, then commits.

Why not a faust agent: the lake is a sink like Kafka Connect's, and needs its own offsets. With
the processing agents' group, a bucket outage would hold back their commits, and an operator
who resets offsets to rebuild the lake would re-run every brand check and analysis. Here
`<consumer_group>-lake` can be reset to the earliest offset on its own: the writer finds each
replayed record's file by name and writes nothing twice (`processors.lake.writer`).

Guarantee: an offset is committed only after every record before it is in a durable object, or
in the dead-letter topic when the lake cannot hold it (a row the writer refuses: the sink moves
on instead of retrying it for ever). Batches close at `lake_max_rows` records or
`lake_flush_seconds` after their first record, so a quiet topic still reaches the lake within
the flush interval.
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import structlog
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import CommitFailedError, KafkaError
from pydantic import TypeAdapter

from processors.config import Settings
from processors.lake.writer import LakeWriter, Refused
from processors.retry import patiently
from processors.storage import Store
from schemas import lake, topics
from schemas.events import INPUT_EVENT, BrandCheck, DeadLetter, MediaAnalysis, MediaResult
from schemas.reviews import MediaDecision, Review
from streams import metrics
from streams.codec import DecodeError, dead_letter_of, decode
from streams.health import Health

log = structlog.get_logger(__name__)
Record = Any  # aiokafka.structs.ConsumerRecord[bytes, bytes]

_ADAPTERS: dict[str, TypeAdapter[Any]] = {
    topics.MEDIA_UPLOADED: INPUT_EVENT,
    topics.MEDIA_GENERATED: INPUT_EVENT,
    topics.BRAND_CHECKS: TypeAdapter(BrandCheck),
    topics.MEDIA_ANALYSES: TypeAdapter(MediaAnalysis),
    topics.MEDIA_RESULTS: TypeAdapter(MediaResult),
    topics.DEADLETTER: TypeAdapter(DeadLetter),
    topics.REVIEWS: TypeAdapter(Review),
    topics.MEDIA_DECISIONS: TypeAdapter(MediaDecision),
}


def lake_group(settings: Settings) -> str:
    """The sink's consumer group: reset it to rebuild the lake without re-processing media."""
    return f"{settings.kafka.consumer_group}-lake"


class LakeSink(ConsumerRebalanceListener):  # type: ignore[misc]
    """Batches records per topic-partition and writes them with a `LakeWriter`."""

    def __init__(
        self, settings: Settings, bootstrap: str, store: Store, *, health: Health | None = None
    ) -> None:
        self.settings = settings
        self.bootstrap = bootstrap
        self.health = health
        self.writer = LakeWriter(store, rotate_seconds=settings.worker.lake_rotate_seconds)
        self._pending: dict[TopicPartition, list[Record]] = defaultdict(list)

    async def run(self) -> None:
        """Consume until cancelled. Any error restarts the consumer after a pause, from the
        committed offsets, so the worker keeps running and nothing is skipped."""
        while True:
            try:
                await self._consume()
            except asyncio.CancelledError:
                raise
            except KafkaError as e:
                log.warning("lake_sink_restarting", error=str(e))
                await asyncio.sleep(1.0)
            except Exception:
                log.exception("lake_sink_failed")
                await asyncio.sleep(5.0)
            finally:
                self._pending.clear()

    async def _consume(self) -> None:
        k = self.settings.kafka
        security = k.security.client_options()  # one TLS context for both clients
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap,
            group_id=lake_group(self.settings),
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            session_timeout_ms=int(k.session_timeout_s * 1000),
            heartbeat_interval_ms=int(k.heartbeat_s * 1000),
            rebalance_timeout_ms=int(k.rebalance_timeout_s * 1000),
            # a bucket outage can hold a batch for long: stay in the group meanwhile
            max_poll_interval_ms=3_600_000,
            fetch_max_wait_ms=k.fetch_wait_ms,
            **security,
        )
        producer = AIOKafkaProducer(bootstrap_servers=self.bootstrap, acks="all", **security)
        consumer.subscribe(list(lake.TABLE_OF_TOPIC), listener=self)
        await producer.start()
        try:
            await consumer.start()
            try:
                while True:
                    await self._collect(consumer)
                    if self._pending:
                        await self._flush(consumer, producer)
                    await self._report(consumer)
            finally:
                await consumer.stop()
        finally:
            await producer.stop()

    async def _report(self, consumer: AIOKafkaConsumer) -> None:
        """Tell `health` where the group stands after a batch: the next offsets to read against
        the end offsets the last fetch saw. A flush held up (a bucket outage) reports nothing,
        so the waiting records show as no progress."""
        if self.health is None:
            return
        owned = consumer.assignment()
        end = {tp: h for tp in owned if (h := consumer.highwater(tp)) is not None}
        read = {tp: await consumer.position(tp) for tp in end}
        self.health.observe(lake_group(self.settings), read, end)

    async def _collect(self, consumer: AIOKafkaConsumer) -> None:
        """Fill `_pending` until the batch is full or its first record is `flush` s old."""
        w = self.settings.worker
        deadline: float | None = None
        count = 0
        while count < w.lake_max_rows:
            wait = w.lake_flush_seconds if deadline is None else deadline - time.monotonic()
            if wait <= 0:
                return
            got = await consumer.getmany(
                timeout_ms=int(wait * 1000), max_records=w.lake_max_rows - count
            )
            for tp, records in got.items():
                self._pending[tp].extend(records)
                count += len(records)
            if count and deadline is None:
                deadline = time.monotonic() + w.lake_flush_seconds
            if not count and not got:
                return

    async def _flush(self, consumer: AIOKafkaConsumer, producer: AIOKafkaProducer) -> None:
        batch, self._pending = dict(self._pending), defaultdict(list)
        refused = await patiently(lambda: asyncio.to_thread(self._write, batch), "lake")
        for record, reason in refused:
            await self._dead_letter(producer, record, reason)
        offsets = {tp: records[-1].offset + 1 for tp, records in batch.items() if records}
        owned = consumer.assignment()
        try:
            await consumer.commit({tp: o for tp, o in offsets.items() if tp in owned})
        except CommitFailedError as e:
            # the group moved on (rebalance); the new owner replays and its writer skips
            log.warning("lake_commit_failed", error=str(e))

    def _write(self, batch: dict[TopicPartition, list[Record]]) -> list[tuple[Record, str]]:
        """Write every topic-partition's rows; return the records the lake refused, and why."""
        started = time.perf_counter()
        refused: list[tuple[Record, str]] = []
        for tp, records in batch.items():
            rows = rows_of(tp.topic, tp.partition, records)
            table = lake.TABLE_OF_TOPIC[tp.topic]
            at = {r.offset: r for r in records}
            bad: list[Refused] = []
            before = self.writer.bytes_written
            keys = self.writer.write(table, tp.topic, tp.partition, rows, on_refused=bad.append)
            metrics.LAKE_BYTES.labels(table.name).inc(self.writer.bytes_written - before)
            refused += [(at[b.offset], b.reason) for b in bad]
            metrics.LAKE_ROWS.labels(table.name).inc(len(rows) - len(bad))
            metrics.LAKE_FILES.labels(table.name).inc(len(keys))
        metrics.STAGE_SECONDS.labels("lake").observe(time.perf_counter() - started)
        oldest = min((r[0].timestamp for r in batch.values() if r), default=None)
        if oldest is not None:  # record timestamps are the producer's clock, in ms
            metrics.LAKE_DELAY.observe(max(0.0, time.time() - oldest / 1000))
        return refused

    async def _dead_letter(self, producer: AIOKafkaProducer, record: Record, reason: str) -> None:
        """Send a record the lake cannot hold to the dead-letter topic, once per replay.

        A dead-letter entry the lake refuses is only logged: dead-lettering it again would
        feed the same topic for ever.
        """
        log.error("lake_refused_row", topic=record.topic, offset=record.offset, reason=reason)
        metrics.DEADLETTERS.labels("lake", "unwritable").inc()
        if record.topic == topics.DEADLETTER:
            return
        entry = dead_letter_of(
            record,
            stage="lake",
            reason=f"the lake cannot hold this event: {reason}",
            error_type="unwritable",
            producer=self.settings.producer_id,
        )
        key = str(entry.media_id).encode() if entry.media_id else None
        await producer.send_and_wait(topics.DEADLETTER, entry.to_bytes(), key=key)

    # ConsumerRebalanceListener: called inside getmany()
    async def on_partitions_revoked(self, revoked: Sequence[TopicPartition]) -> None:
        for tp in revoked:  # not committed: the next owner replays them
            self._pending.pop(tp, None)

    async def on_partitions_assigned(self, assigned: Sequence[TopicPartition]) -> None:
        for tp in assigned:  # another worker may have written its files (or an epoch) meanwhile
            self.writer.forget(tp.topic, tp.partition)


def rows_of(topic: str, partition: int, records: Sequence[Record]) -> list[dict[str, Any]]:
    """Lake rows of one topic-partition's records, in offset order.

    Values that do not decode are left out: input topics dead-letter them at intake, and the
    dead-letter row is what the lake keeps.
    """
    rows = []
    for r in records:
        try:
            event = decode(_ADAPTERS[topic], r.value)
        except DecodeError:
            continue
        rows.append(lake.to_row(event, topic, partition, r.offset))
    return rows
