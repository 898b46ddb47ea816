"""The publishing gate's one writer: results and reviews in, `reelscope.media.decisions.v1` out.

One agent, keyed by media id like every stage, so a media's results and reviews arrive in order
on one partition and one worker writes its decisions. The state it decides from is the decisions
topic itself (`DecisionLog`: read back from the beginning at start, then followed), so a worker
that takes over a partition knows what its predecessor decided, and a human decision is never
overwritten by a later automatic one (`processors.gate`). A replayed input changes nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Mapping
from functools import partial
from typing import Any, Protocol
from uuid import UUID

import structlog
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError
from pydantic import TypeAdapter, ValidationError

from processors.brand.profiles import load_profile
from processors.gate import decide_result, decide_review
from processors.logs import trace_of
from processors.retry import patiently
from processors.storage import Store
from schemas import topics
from schemas.events import MediaResult
from schemas.profiles import ReviewPolicy
from schemas.reviews import MediaDecision, Review
from streams import metrics
from streams.codec import DecodeError, decode
from streams.follow import assign_topic, follower

log = structlog.get_logger(__name__)
GATE_INPUT: TypeAdapter[MediaResult | Review] = TypeAdapter(MediaResult | Review)
POLICY_TTL_S = 5.0  # as the brand cache: a policy change reaches the gate within seconds


class DecisionLog:
    """The latest decision per media on the decisions topic, read back and then followed."""

    def __init__(self, bootstrap: str, *, security: Mapping[str, Any] | None = None) -> None:
        self.bootstrap = bootstrap
        self.security = dict(security or {})
        self.ready = asyncio.Event()
        self._latest: dict[str, MediaDecision] = {}

    def get(self, media_id: object) -> MediaDecision | None:
        return self._latest.get(str(media_id))

    def put(self, decision: MediaDecision) -> None:
        key = str(decision.media_id)
        known = self._latest.get(key)
        if known is None or known.occurred_at <= decision.occurred_at:
            self._latest[key] = decision

    async def run(self) -> None:
        """Read the topic from its beginning, set `ready`, follow; reconnect on broker errors."""
        while True:
            consumer = follower(self.bootstrap, self.security)
            try:
                await consumer.start()
                tps = await self._assign(consumer)
                ends = await consumer.end_offsets(tps)
                while [tp for tp in tps if await consumer.position(tp) < ends[tp]]:
                    self._take(await consumer.getmany(timeout_ms=500, max_records=5000))
                self.ready.set()
                log.info("decision_log_ready", known=len(self._latest))
                while True:
                    self._take(await consumer.getmany(timeout_ms=500, max_records=5000))
            except (KafkaError, OSError) as e:
                log.warning("decision_log_reconnecting", error=repr(e))
            finally:
                with contextlib.suppress(Exception):
                    await consumer.stop()
            await asyncio.sleep(1.0)

    async def _assign(self, consumer: AIOKafkaConsumer) -> list[TopicPartition]:
        tps = await assign_topic(consumer, topics.MEDIA_DECISIONS)
        await consumer.seek_to_beginning(*tps)
        return tps

    def _take(self, batches: Mapping[Any, list[Any]]) -> None:
        for records in batches.values():
            for record in records:
                with contextlib.suppress(ValidationError, ValueError):
                    self.put(MediaDecision.model_validate_json(record.value or b""))


class Policies:
    """Each brand's review policy, re-read from its profile after `ttl_s` (blocking I/O)."""

    def __init__(self, store: Store, ttl_s: float = POLICY_TTL_S) -> None:
        self.store = store
        self.ttl_s = ttl_s
        self._cached: dict[str | None, tuple[float, ReviewPolicy]] = {}

    def of(self, brand_id: str | None) -> ReviewPolicy:
        hit = self._cached.get(brand_id)
        if hit is not None and time.monotonic() - hit[0] < self.ttl_s:
            return hit[1]
        profile = load_profile(self.store, brand_id) if brand_id else None
        policy = profile.review if profile else ReviewPolicy()
        self._cached[brand_id] = (time.monotonic(), policy)
        return policy


async def next_decision(
    log_: DecisionLog, policies: Policies, event: MediaResult | Review, producer: str
) -> MediaDecision | None:
    """The decision one gate input makes, or None (nothing changes)."""
    previous = log_.get(event.media_id)
    if isinstance(event, Review):
        return decide_review(previous, event, producer)
    lookup = partial(asyncio.to_thread, policies.of, event.source.brand_id)
    policy = await patiently(lookup, "gate")  # a bucket outage holds the partition, loses nothing
    return decide_result(previous, event, policy, producer)


def input_id(event: MediaResult | Review) -> UUID:
    """The event a log line about this input names: the upload for a result, else the review."""
    return event.source.event_id if isinstance(event, MediaResult) else event.event_id


class Publish(Protocol):
    def __call__(self, name: str, key: Any, value: bytes) -> Awaitable[None]: ...


async def run_gate(
    stream: Any,
    decisions: DecisionLog,
    policies: Policies,
    publish: Publish,
    reject: Callable[[Any, str, str, str], Awaitable[None]],
    producer: str,
) -> None:
    """Decide on every result and review in order, acknowledging each only once its decision
    is acknowledged; an invalid review is dead-lettered (results are the results agent's)."""
    manual = stream.noack()
    following = asyncio.create_task(decisions.run())
    try:
        await decisions.ready.wait()
        async for event in manual.events():
            message = event.message
            try:
                gated = decode(GATE_INPUT, message.value)
            except DecodeError as err:
                if message.topic == topics.REVIEWS:
                    await reject(message, "gate", err.reason, err.error_type)
                await manual.ack(event)
                continue
            decision = await next_decision(decisions, policies, gated, producer)
            if decision is not None:
                with structlog.contextvars.bound_contextvars(
                    trace_id=trace_of(message.headers, input_id(gated)),
                    media_id=str(decision.media_id),
                    event_id=str(input_id(gated)),
                    stage="gate",
                ):
                    await publish(topics.MEDIA_DECISIONS, decision.media_id, decision.to_bytes())
                    log.info("decided", state=decision.state, by=decision.by)
                decisions.put(decision)
                metrics.EVENTS.labels("gate", f"{decision.by}_{decision.state}").inc()
            await manual.ack(event)
    finally:
        following.cancel()
