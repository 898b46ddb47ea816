"""Recent results and gate decisions, followed live from `reelscope.media.results.v1` and
`reelscope.media.decisions.v1`, so status and decisions are fresh in ~1 s.

The follower is a plain consumer without a group: every API replica reads every partition,
starting at the end (older results are in the lake). It keeps the last `capacity` results in
memory; a result that fails validation is logged and skipped, never fatal.

It also remembers the media this replica accepted and has no result for yet (`awaiting`), so a
status poll of a media in flight is answered from memory rather than by a lake scan that cannot
find it (40-100 ms of DuckDB per poll, which took a quarter of this machine's CPU in a burst).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from typing import Any, NamedTuple, TypeVar
from uuid import UUID

import structlog
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError
from pydantic import ValidationError

from schemas.events import MediaResult
from schemas.reviews import MediaDecision
from schemas.topics import MEDIA_DECISIONS, MEDIA_RESULTS

V = TypeVar("V")

log = structlog.get_logger("reelscope.api.results")
MAX_RETRY_S = 10.0
AWAIT_S = 120.0  # past this, a media still without a result is looked up as any other (lake,
# ledger): a result the follower missed (it starts at the end) cannot read as processing longer


class Awaited(NamedTuple):
    brand_id: str | None
    since: float  # time.monotonic() when it was accepted


class RecentResults:
    """A bounded map media_id -> latest MediaResult; the oldest entries go first."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._items: OrderedDict[UUID, MediaResult] = OrderedDict()
        self._awaited: OrderedDict[UUID, Awaited] = OrderedDict()

    def await_result(self, media_id: UUID, brand_id: str | None) -> None:
        """Remember a media this replica is about to publish (before it does: a result may come
        back before the publish call returns)."""
        if self.capacity <= 0:
            return
        self._awaited[media_id] = Awaited(brand_id, time.monotonic())
        while len(self._awaited) > self.capacity:
            self._awaited.popitem(last=False)

    def forget(self, media_id: UUID) -> None:
        """The publish failed: nothing will come."""
        self._awaited.pop(media_id, None)

    def awaiting(self, media_id: UUID) -> Awaited | None:
        """The media if it was accepted here in the last `AWAIT_S` and has no result yet."""
        entry = self._awaited.get(media_id)
        if entry is not None and time.monotonic() - entry.since > AWAIT_S:
            del self._awaited[media_id]
            return None
        return entry

    def add(self, result: MediaResult) -> None:
        self._awaited.pop(result.media_id, None)
        _put_newest(self._items, result.media_id, result, self.capacity)

    def get(self, media_id: UUID) -> MediaResult | None:
        return self._items.get(media_id)

    def __iter__(self) -> Iterator[MediaResult]:
        return iter(list(self._items.values()))

    def __len__(self) -> int:
        return len(self._items)


def _put_newest(items: OrderedDict[UUID, V], key: UUID, value: V, capacity: int) -> None:
    """Keep `value` as the newest entry of a map of at most `capacity` (the oldest go first)."""
    if capacity <= 0:
        return
    items[key] = value
    items.move_to_end(key)
    while len(items) > capacity:
        items.popitem(last=False)


class RecentDecisions:
    """A bounded map media_id -> latest MediaDecision (the gate's state), oldest going first."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._items: OrderedDict[UUID, MediaDecision] = OrderedDict()

    def add(self, decision: MediaDecision) -> None:
        known = self._items.get(decision.media_id)
        if known is None or known.occurred_at <= decision.occurred_at:
            _put_newest(self._items, decision.media_id, decision, self.capacity)

    def get(self, media_id: UUID) -> MediaDecision | None:
        return self._items.get(media_id)


async def partitions_of(consumer: AIOKafkaConsumer, topic: str) -> set[int]:
    """The topic's partition ids, refreshing the consumer's metadata once if it has none."""
    partitions = consumer.partitions_for_topic(topic)
    if not partitions:
        await consumer._client.force_metadata_update()  # no public refresh in aiokafka
        partitions = consumer.partitions_for_topic(topic)
    return set(partitions or ())


class ResultsFollower:
    """Feed a RecentResults and a RecentDecisions from their topics in a background task."""

    def __init__(
        self,
        bootstrap: str,
        recent: RecentResults,
        decisions: RecentDecisions,
        *,
        retry_s: float = 2.0,
        security: Mapping[str, Any] | None = None,
        fetch_wait_ms: int,
    ) -> None:
        self.bootstrap = bootstrap
        self.security = dict(security or {})
        self.fetch_wait_ms = fetch_wait_ms  # `kafka.fetch_wait_ms`: streams.fetch_wait
        self.recent = recent
        self.decisions = decisions
        self.retry_s = retry_s
        self.ready = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="results-follower")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        delay = self.retry_s
        while True:
            consumer = AIOKafkaConsumer(
                bootstrap_servers=self.bootstrap,
                group_id=None,
                enable_auto_commit=False,
                client_id="reelscope-api-results",
                fetch_max_wait_ms=self.fetch_wait_ms,
                **self.security,
            )
            try:
                await consumer.start()
                await self._assign_at_end(consumer)
                await self._follow(consumer)
            except (KafkaError, OSError) as e:
                log.warning("results_follower_failed", error=type(e).__name__)
            finally:
                if self.ready.is_set():
                    delay = self.retry_s  # it worked for a while: retry soon
                self.ready.clear()
                with contextlib.suppress(Exception):
                    await consumer.stop()
            await asyncio.sleep(delay)
            delay = min(delay * 2, MAX_RETRY_S)

    async def _assign_at_end(self, consumer: AIOKafkaConsumer) -> None:
        tps = []
        for topic in (MEDIA_RESULTS, MEDIA_DECISIONS):
            partitions = await partitions_of(consumer, topic)
            if not partitions:
                msg = f"topic {topic} has no partitions (not created yet?)"
                raise KafkaError(msg)
            tps += [TopicPartition(topic, p) for p in sorted(partitions)]
        consumer.assign(tps)
        await consumer.seek_to_end(*tps)
        for tp in tps:  # resolve the end offsets now, so later results are never skipped
            await consumer.position(tp)
        self.ready.set()
        log.info("results_follower_ready", partitions=len(tps))

    async def _follow(self, consumer: AIOKafkaConsumer) -> None:
        while True:
            batches = await consumer.getmany(timeout_ms=500, max_records=1000)
            for records in batches.values():
                for record in records:
                    self._take(record.topic, record.value)

    def _take(self, topic: str, value: bytes | None) -> None:
        if value is None:
            return
        try:
            if topic == MEDIA_DECISIONS:
                self.decisions.add(MediaDecision.model_validate_json(value))
            else:
                self.recent.add(MediaResult.model_validate_json(value))
        except ValidationError as e:
            log.warning("followed_event_invalid", topic=topic, errors=e.error_count())
