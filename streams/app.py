"""The faust-streaming app: topics and agents. Agents are shells over `streams.stages`.

Every topic is raw bytes (we decode and validate ourselves; see `streams.codec`), the key is
the media id everywhere, and each agent acknowledges a message only after its output has been
acknowledged by the broker, so delivery is at-least-once. The lake sink runs beside the agents
as a task with its own consumer group (`streams.lake_sink`).
"""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import faust
import structlog

from processors.config import Settings
from processors.join import Joiner
from schemas import topics
from schemas.events import INPUT_EVENT, MediaGenerated, MediaUploaded
from streams import metrics
from streams.codec import DERIVED_EVENT, DecodeError, dead_letter, decode
from streams.lake_sink import LakeSink
from streams.stages import Stages

log = structlog.get_logger(__name__)
StagesFactory = Callable[[], Awaitable[Stages]]
# faust.Stream at run time; its StreamT protocol lacks noack()/noack_take(), hence Any
RawStream = Any


def faust_settings(settings: Settings, bootstrap: str) -> dict[str, Any]:
    k = settings.kafka
    return {
        "broker": f"kafka://{bootstrap}",
        "store": "memory://",
        "value_serializer": "raw",
        "key_serializer": "raw",
        "topic_partitions": k.partitions,
        "topic_replication_factor": k.replication_factor,
        "broker_rebalance_timeout": k.rebalance_timeout_s,
        "broker_session_timeout": k.session_timeout_s,
        "broker_heartbeat_interval": k.heartbeat_s,
        "consumer_auto_offset_reset": "earliest",
        "producer_acks": -1,
        "web_enabled": False,
        # memory tables only; keep faust's folder out of the working directory
        "datadir": str(Path(tempfile.gettempdir()) / f"reelscope-faust-{k.consumer_group}"),
    }


def create_app(settings: Settings, bootstrap: str, stages: StagesFactory) -> faust.App:
    """Build the app with every agent registered; nothing connects until a worker starts it."""
    app = faust.App(settings.kafka.consumer_group, **faust_settings(settings, bootstrap))
    topic = {name: app.topic(name, value_type=bytes, key_type=bytes) for name in topics.ALL_TOPICS}
    inputs = app.topic(*topics.INPUT_TOPICS, value_type=bytes, key_type=bytes)
    derived = app.topic(topics.BRAND_CHECKS, topics.MEDIA_ANALYSES, value_type=bytes)
    producer = settings.producer_id

    async def publish(name: str, key: Any, value: bytes) -> None:
        """Send and wait for the broker's acknowledgement."""
        key_bytes = str(key).encode() if key is not None else None
        fut = await topic[name].send(key=key_bytes, value=value)
        await fut

    async def reject(event: faust.EventT[bytes], stage: str, err: DecodeError) -> None:
        m = event.message
        entry = dead_letter(
            value=m.value,
            key=m.key,
            topic=m.topic,
            partition=m.partition,
            offset=m.offset,
            stage=stage,
            reason=err.reason,
            error_type=err.error_type,
            producer=producer,
        )
        await publish(topics.DEADLETTER, entry.media_id, entry.to_bytes())
        metrics.DEADLETTERS.labels(stage, err.error_type).inc()
        log.warning("dead_lettered", stage=stage, topic=m.topic, offset=m.offset, reason=err.reason)

    async def inputs_of(
        stream: RawStream, stage: str, owner: bool
    ) -> AsyncIterator[MediaUploaded | MediaGenerated]:
        """Valid input events; the owning stage dead-letters the rest (once, not per stage)."""
        async for event in stream.events():
            try:
                yield decode(INPUT_EVENT, event.message.value)
            except DecodeError as err:
                if owner:
                    await reject(event, "intake", err)
                metrics.EVENTS.labels(stage, "rejected").inc()

    @app.agent(inputs, concurrency=settings.worker.check_processes)
    async def brand_checks(stream: RawStream) -> None:
        s = await stages()
        async for ev in inputs_of(stream, "brand_check", owner=True):
            with metrics.STAGE_SECONDS.labels("brand_check").time():
                check = await s.brand_check(ev)
            await publish(topics.BRAND_CHECKS, ev.media_id, check.to_bytes())
            metrics.EVENTS.labels("brand_check", check.status).inc()

    @app.agent(inputs, concurrency=settings.analyzer.concurrency)
    async def analyses(stream: RawStream) -> None:
        s = await stages()
        async for ev in inputs_of(stream, "analysis", owner=False):
            with metrics.STAGE_SECONDS.labels("analysis").time():
                analysis = await s.analyze(ev)
            await publish(topics.MEDIA_ANALYSES, ev.media_id, analysis.to_bytes())
            metrics.EVENTS.labels("analysis", analysis.status).inc()
            metrics.record_analysis(analysis)

    @app.agent(derived)
    async def results(stream: RawStream) -> None:
        """Join per media id; both halves stay unacknowledged until the result is published,
        so a restart replays whatever was pending instead of losing it."""
        joiner: Joiner[faust.EventT[bytes]] = Joiner(producer)
        manual = stream.noack()
        async for event in manual.events():
            try:
                half = decode(DERIVED_EVENT, event.message.value)
            except DecodeError as err:
                await reject(event, "join", err)
                await manual.ack(event)
                continue
            joined = joiner.add(half, event)
            metrics.JOIN_PENDING.set(len(joiner))
            if joined is None:
                continue
            result, pending = joined
            await publish(topics.MEDIA_RESULTS, result.media_id, result.to_bytes())
            metrics.EVENTS.labels("result", result.status).inc()
            for e in pending:
                await manual.ack(e)

    async def lake_sink() -> None:
        """The lake's own consumer group (see `streams.lake_sink`)."""
        s = await stages()
        await LakeSink(settings, bootstrap, s.store).run()

    app.task(lake_sink)
    del brand_checks, analyses, results  # registered on the app by the decorator
    return app
