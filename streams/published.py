"""Which media already have a result on the results topic: read back, then followed live.

Why: the broker has no transactions, so a worker killed after publishing a result but before
acknowledging its two halves replays them, and would publish the result a second time. The
results agent asks here before it publishes, and acknowledges a replayed half at once. After a
start it first reads the topic back over `window_s` (longer than the oldest unacknowledged half
can be: the join's TTL), so the answer is complete before the first result goes out.

Guarantee: a media whose result was published more than a moment ago (the time this follower
takes to see it, milliseconds on one broker) and within the window is known. A result from
another worker in that moment is the one duplicate left; the lake views keep one row per media.

A send that failed may still have been written (the broker took it, its answer was lost), and
aiokafka would resend that batch by itself; without an idempotent producer (Tansu has none) the
topic then holds the result twice. Results go out through `send_once_producer`, which never
resends, and a failed send is repeated only when `landed` says the result is not on the topic.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any
from uuid import UUID

import structlog
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import KafkaError
from aiokafka.producer.sender import Sender, SendProduceReqHandler

from schemas.topics import MEDIA_RESULTS
from streams.follow import assign_topic, follower

log = structlog.get_logger(__name__)


class PublishedResults:
    """A bounded set of media ids with a result, fed by a consumer outside any group."""

    def __init__(
        self,
        bootstrap: str,
        *,
        window_s: float,
        topic: str = MEDIA_RESULTS,
        capacity: int = 1_000_000,
        security: Mapping[str, Any] | None = None,
    ) -> None:
        self.bootstrap = bootstrap
        self.security = dict(security or {})
        self.window_s = window_s
        self.topic = topic
        self.capacity = capacity
        self.ready = asyncio.Event()
        self._ids: OrderedDict[str, None] = OrderedDict()
        self._following: AIOKafkaConsumer | None = None  # caught up once, reading on

    def __contains__(self, media_id: UUID | str) -> bool:
        return str(media_id) in self._ids

    def add(self, media_id: UUID | str) -> None:
        key = str(media_id)
        self._ids[key] = None
        self._ids.move_to_end(key)
        while len(self._ids) > self.capacity:
            self._ids.popitem(last=False)

    async def run(self) -> None:
        """Read back, set `ready`, then follow until cancelled; reconnect on broker errors."""
        delay = 0.5
        while True:
            consumer = follower(self.bootstrap, self.security)
            try:
                await consumer.start()
                await self._read_back(consumer)
                self._following, delay = consumer, 0.5
                while True:
                    self._take(await consumer.getmany(timeout_ms=500, max_records=5000))
            except (KafkaError, OSError) as e:
                log.warning("published_results_reconnecting", error=repr(e), retry_in_s=delay)
            finally:
                self._following = None
                with contextlib.suppress(Exception):
                    await consumer.stop()
            await asyncio.sleep(delay)
            delay = min(delay * 2, 10.0)

    async def landed(self, media_id: UUID | str) -> bool:
        """Whether `media_id` has a result on the topic, asked after this follower has read up
        to the end offsets the broker gives now; waits while the broker is away."""
        while True:
            consumer = self._following
            if consumer is not None:
                with contextlib.suppress(KafkaError, OSError):
                    tps = sorted(consumer.assignment())
                    ends = await consumer.end_offsets(tps)
                    while self._following is not None and self._following is consumer:
                        behind = [tp for tp in tps if await consumer.position(tp) < ends[tp]]
                        if not behind:
                            return media_id in self
                        await asyncio.sleep(0.05)
            await asyncio.sleep(0.25)

    async def _read_back(self, consumer: AIOKafkaConsumer) -> None:
        tps = await assign_topic(consumer, self.topic)
        since_ms = int((time.time() - self.window_s) * 1000)
        starts = await consumer.offsets_for_times(dict.fromkeys(tps, since_ms))
        ends = await consumer.end_offsets(tps)
        for tp in tps:
            found = starts.get(tp)
            consumer.seek(tp, found.offset if found is not None else ends[tp])
        while [tp for tp in tps if await consumer.position(tp) < ends[tp]]:
            self._take(await consumer.getmany(timeout_ms=500, max_records=5000))
        self.ready.set()
        log.info("published_results_ready", known=len(self._ids), window_s=self.window_s)

    def _take(self, batches: dict[TopicPartition, list[object]]) -> None:
        for records in batches.values():
            for record in records:
                key = getattr(record, "key", None)
                if key:
                    self.add(key.decode(errors="replace"))


class _SendOnceHandler(SendProduceReqHandler):  # type: ignore[misc]
    def _can_retry(self, error: Exception, batch: Any) -> bool:
        return False  # the caller asks `PublishedResults.landed` before it sends again


async def _send_produce_req_once(self: Sender, node_id: int, batches: dict[Any, Any]) -> None:
    """`Sender._send_produce_req` of aiokafka 0.14 with a handler that fails, never resends."""
    await _SendOnceHandler(self, batches).do(node_id)
    self._in_flight.remove(node_id)
    for tp in batches:
        self._muted_partitions.remove(tp)


def send_once_producer(
    bootstrap: str, security: Mapping[str, Any] | None = None
) -> AIOKafkaProducer:
    """A producer whose failed sends fail instead of being resent by aiokafka."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", **(security or {}))
    sender = producer._sender
    sender._send_produce_req = _send_produce_req_once.__get__(sender)
    return producer
