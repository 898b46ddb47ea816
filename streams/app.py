"""The faust-streaming app: topics and agents. Agents are shells over `processors.pipeline`.

The agents are module-level functions of a `Wiring` (what one app's agents share: settings,
stages, how to publish, which results are out); `create_app` makes the app, its wiring and
registers them. Tests run an agent with faust's `test_context()` and a recording `publish`,
without a broker.

Every topic is raw bytes (we decode and validate ourselves; see `streams.codec`), the key is
the media id everywhere, and each agent acknowledges a message only after its output has been
acknowledged by the broker (a refused publish is retried, never skipped), so delivery is
at-least-once; faust never commits past unacknowledged work (`streams.offsets`). What makes a
replay harmless: the results agent publishes a media's result once (`streams.published`), the
lake keeps one row per media, and the analysis cache makes a second analysis free. The lake
sink runs beside the agents with its own consumer group (`streams.lake_sink`), and the leader
reconciles the ledger with the lake (`streams.reconciler`).
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, Protocol
from uuid import UUID

import faust
import structlog
from aiokafka import AIOKafkaProducer

from processors.config import KafkaSecurity, Settings
from processors.join import Joiner
from processors.logs import trace_headers, trace_of
from processors.pipeline import Stages
from processors.resume import mark
from processors.retry import patiently
from schemas import topics
from schemas.events import INPUT_EVENT, BrandCheck, MediaAnalysis, MediaGenerated, MediaUploaded

# importing offsets stops faust committing past work
from streams import fetch_wait, metrics, offsets
from streams.codec import DERIVED_EVENT, DecodeError, dead_letter_of, decode
from streams.gate import DecisionLog, Policies, run_gate
from streams.health import Health
from streams.lake_sink import LakeSink
from streams.published import PublishedResults, send_once_producer
from streams.reconciler import register as register_reconciler
from streams.timers import RESUMED, watch_deferred, watch_gemini, watch_health

log = structlog.get_logger(__name__)
StagesFactory = Callable[[], Awaitable[Stages]]
Headers = Sequence[tuple[str, bytes]]


class Publish(Protocol):
    """Send (topic, key, value), with extra headers, and wait for the broker's acknowledgement."""

    def __call__(
        self, name: str, key: Any, value: bytes, headers: Headers = ()
    ) -> Awaitable[None]: ...


InputEvent = MediaUploaded | MediaGenerated
Answer = BrandCheck | MediaAnalysis
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
        # a rebalance or shutdown must not wait for in-flight events: a half waiting in the
        # join for its other half would hold it for ever. Unacked work is never committed
        # (streams.offsets), so the partition's next owner replays it; outputs are idempotent.
        "stream_wait_empty": False,
        "web_enabled": False,
        # memory tables only; keep faust's folder out of the working directory
        "datadir": str(Path(tempfile.gettempdir()) / f"reelscope-faust-{k.consumer_group}"),
        "broker_credentials": faust_credentials(k.security),
    }


def faust_credentials(security: KafkaSecurity) -> faust.types.auth.CredentialsT | None:
    """The same TLS and SASL settings, in faust's terms."""
    context = security.ssl_context()
    if security.protocol.startswith("SASL") and security.sasl_password is not None:
        return faust.SASLCredentials(
            username=security.sasl_username,
            password=security.sasl_password.get_secret_value(),
            ssl_context=context,
            mechanism=security.sasl_mechanism,
        )
    return faust.SSLCredentials(context) if context is not None else None


@dataclass
class Wiring:
    """What the agents of one app share."""

    settings: Settings
    stages: StagesFactory
    publish: Publish
    published: PublishedResults
    decision_log: DecisionLog
    health: Health | None = None

    @property
    def producer(self) -> str:
        return self.settings.producer_id


def kafka_publish(app: faust.App, bootstrap: str, published: PublishedResults) -> Publish:
    """Publish on the app's topics, waiting for the broker's acknowledgement.

    Results go through their own producer, which never resends by itself (`streams.published`):
    a result is sent again only when the topic does not hold it."""
    topic = {name: app.topic(name, value_type=bytes, key_type=bytes) for name in topics.ALL_TOPICS}
    results_producer: AIOKafkaProducer | None = None  # made in the loop, on first use

    async def send(name: str, key: bytes | None, value: bytes, extra: Headers) -> None:
        nonlocal results_producer
        headers = [*trace_headers(), *extra]  # the trace of the event this output answers
        if name != topics.MEDIA_RESULTS:
            await (await topic[name].send(key=key, value=value, headers=headers))
            return
        if results_producer is None:
            producer = send_once_producer(bootstrap, published.security)
            try:
                await producer.start()
            except BaseException:
                await producer.stop()
                raise
            results_producer = producer
        await results_producer.send_and_wait(name, value, key=key, headers=headers)

    async def stop(*_: Any, **__: Any) -> None:
        if results_producer is not None:
            await results_producer.stop()

    app.on_before_shutdown.connect(stop)

    async def publish(name: str, key: Any, value: bytes, headers: Headers = ()) -> None:
        """Send and wait for the broker's acknowledgement, retrying until it comes.

        Inputs are acknowledged only after their output, so a broker that refuses writes
        stops the stage (each actor waits here, and takes nothing more) instead of losing
        events; `reelscope_publish_waiting` says how many outputs are waiting.
        """
        key_bytes = str(key).encode() if key is not None else None
        delay, waiting = 0.25, False
        try:
            while True:
                try:
                    await send(name, key_bytes, value, headers)
                    return
                except Exception as e:  # any send failure: the broker is the only way out
                    if not waiting:
                        metrics.PUBLISH_WAITING.labels(name).inc()
                        waiting = True
                    log.warning("publish_retry", topic=name, error=repr(e), retry_in_s=delay)
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 10.0)
                if name == topics.MEDIA_RESULTS and await published.landed(key):
                    log.info("result_landed_before_its_error", media_id=str(key))
                    return
        finally:
            if waiting:
                metrics.PUBLISH_WAITING.labels(name).dec()

    return publish


async def reject(w: Wiring, message: Any, stage: str, reason: str, error_type: str) -> None:
    entry = dead_letter_of(
        message, stage=stage, reason=reason, error_type=error_type, producer=w.producer
    )
    await w.publish(topics.DEADLETTER, entry.media_id, entry.to_bytes())
    metrics.DEADLETTERS.labels(stage, error_type).inc()
    log.warning(
        "dead_lettered", stage=stage, topic=message.topic, offset=message.offset, reason=reason
    )


async def each_input(
    w: Wiring,
    stream: RawStream,
    stage: str,
    output: str,
    answer: Callable[[InputEvent], Awaitable[Answer]],
    *,
    owner: bool,
) -> None:
    """Answer every valid input event and publish the answer to `output`, acknowledging each
    input only once its answer is acknowledged. The owning stage dead-letters invalid events
    (once, not per stage)."""
    manual = stream.noack()
    async for event in manual.events():
        message = event.message
        try:
            ev = decode(INPUT_EVENT, message.value)
        except DecodeError as err:
            if owner:
                await reject(w, message, "intake", err.reason, err.error_type)
            metrics.EVENTS.labels(stage, "rejected").inc()
        else:
            with about(message, ev.media_id, ev.event_id, stage):
                with metrics.STAGE_SECONDS.labels(stage).time():
                    out = await answer(ev)
                await w.publish(output, ev.media_id, out.to_bytes())
                metrics.EVENTS.labels(stage, out.status).inc()
                log.info(
                    "answered",
                    status=out.status,
                    partition=message.partition,
                    offset=message.offset,
                )
            if isinstance(out, MediaAnalysis):
                metrics.record_analysis(out)
        await manual.ack(event)


def resumed(message: Any) -> bool:
    """Whether a message is an analysis the resumer made (its result is published with it)."""
    return any(k == RESUMED for k, _ in message.headers or ())


def about(message: Any, media_id: UUID, event_id: UUID, stage: str) -> AbstractContextManager[None]:
    """Bind what every log line (and published message) about this media carries: its ids,
    the stage and the trace its input message brought (`processors.logs`)."""
    return structlog.contextvars.bound_contextvars(
        trace_id=trace_of(message.headers, event_id),
        media_id=str(media_id),
        event_id=str(event_id),
        stage=stage,
    )


async def brand_checks(w: Wiring, stream: RawStream) -> None:
    s = await w.stages()
    await each_input(w, stream, "brand_check", topics.BRAND_CHECKS, s.brand_check, owner=True)


async def analyses(w: Wiring, stream: RawStream) -> None:
    s = await w.stages()
    await each_input(w, stream, "analysis", topics.MEDIA_ANALYSES, s.analyze, owner=False)


async def results(w: Wiring, stream: RawStream) -> None:
    """Join per media id; both halves stay unacknowledged until the result is published,
    so a restart replays whatever was pending instead of losing it. A replayed half of a
    media whose result is out is acknowledged at once (`streams.published`), and a half
    left waiting past `join_ttl_s` is dead-lettered, so no slot holds its partition."""
    joiner: Joiner[faust.EventT[bytes]] = Joiner(w.producer, ttl_s=w.settings.worker.join_ttl_s)
    manual = stream.noack()
    following = asyncio.create_task(w.published.run())
    sweeper = asyncio.create_task(sweep(w, joiner, manual))
    try:
        await w.published.ready.wait()
        async for event in manual.events():
            try:
                half = decode(DERIVED_EVENT, event.message.value)
            except DecodeError as err:
                await reject(w, event.message, "join", err.reason, err.error_type)
                await manual.ack(event)
                continue
            if half.media_id in w.published or resumed(event.message):
                outcome = "resumed_half" if resumed(event.message) else "duplicate_half"
                metrics.EVENTS.labels("result", outcome).inc()
                await manual.ack(event)
                continue
            joined = joiner.add(half, event)
            metrics.JOIN_PENDING.set(len(joiner))
            if joined is None:
                continue
            result, pending = joined
            with about(event.message, result.media_id, result.source.event_id, "result"):
                if result.analysis.status == "deferred":  # marked first: resumed later
                    marking = partial(asyncio.to_thread, mark, (await w.stages()).store, result)
                    await patiently(marking, "deferred")
                await w.publish(topics.MEDIA_RESULTS, result.media_id, result.to_bytes())
                log.info("result_published", status=result.status)
            w.published.add(result.media_id)
            metrics.EVENTS.labels("result", result.status).inc()
            metrics.count_verdict(result)
            metrics.time_result(result)
            for e in pending:
                await manual.ack(e)
    finally:
        sweeper.cancel()
        following.cancel()


async def sweep(w: Wiring, joiner: Joiner[faust.EventT[bytes]], manual: RawStream) -> None:
    """Dead-letter the join's expired halves (a replayed half of a joined media is only
    acknowledged), so no slot holds its partition's commits for ever."""
    while True:
        await asyncio.sleep(min(max(joiner.ttl_s / 4, 0.5), 30.0))
        for slot in joiner.expire():
            if slot.media_id in w.published:
                metrics.EVENTS.labels("result", "duplicate_half").inc()
            else:
                reason = (
                    f"no {slot.missing} arrived within {joiner.ttl_s:g} s of the other half; "
                    "the media has no result"
                )
                await reject(w, slot.tokens[-1].message, "join", reason, "join_timeout")
            for e in slot.tokens:
                await manual.ack(e)
        metrics.JOIN_PENDING.set(len(joiner))


async def decisions(w: Wiring, stream: RawStream) -> None:
    """The publishing gate (`streams.gate`): the one writer of the decisions topic."""
    s = await w.stages()
    gate = (w.decision_log, Policies(s.store))
    await run_gate(stream, *gate, w.publish, partial(reject, w), w.producer)


async def lake_sink(w: Wiring, bootstrap: str) -> None:
    """The lake's own consumer group (see `streams.lake_sink`)."""
    s = await w.stages()
    await LakeSink(w.settings, bootstrap, s.store, health=w.health).run()


def log_assignment(app: Any, /, *args: Any, signal: Any, **kwargs: Any) -> None:
    """One line per rebalance: what this worker now reads, for the logs of a fault run.
    (A receiver of faust's `on_partitions_assigned` signal: `args` is the assigned set.)"""
    (assigned,) = args
    log.info(
        "partitions_assigned",
        generation=app.consumer_generation_id,
        partitions=sorted(f"{tp.topic}/{tp.partition}" for tp in assigned),
    )


def create_app(
    settings: Settings,
    bootstrap: str,
    stages: StagesFactory,
    *,
    publish: Publish | None = None,
    published: PublishedResults | None = None,
    decision_log: DecisionLog | None = None,
    health: Health | None = None,
) -> faust.App:
    """Build the app with every agent registered; nothing connects until a worker starts it.

    `publish`, `published` and `decision_log` replace the broker's side of the agents (tests)."""
    fetch_wait.install(settings.kafka.fetch_wait_ms)
    app = faust.App(settings.kafka.consumer_group, **faust_settings(settings, bootstrap))
    offsets.track(app)
    security = settings.kafka.security.client_options()
    published = published or PublishedResults(
        bootstrap, window_s=2 * settings.worker.join_ttl_s, security=security
    )
    w = Wiring(
        settings,
        stages,
        publish or kafka_publish(app, bootstrap, published),
        published,
        decision_log or DecisionLog(bootstrap, security=security),
        health,
    )
    inputs = app.topic(*topics.INPUT_TOPICS, value_type=bytes, key_type=bytes)
    derived = app.topic(topics.BRAND_CHECKS, topics.MEDIA_ANALYSES, value_type=bytes)
    gated = app.topic(topics.MEDIA_RESULTS, topics.REVIEWS, value_type=bytes)
    for agent, channel, concurrency in (
        (brand_checks, inputs, settings.worker.check_processes),
        (analyses, inputs, settings.analyzer.concurrency),
        (results, derived, 1),
        (decisions, gated, 1),
    ):
        name = f"{__name__}.{agent.__name__}"  # the names faust gave the agents before
        app.agent(channel, name=name, concurrency=concurrency)(partial(agent, w))

    async def run_lake_sink() -> None:
        await lake_sink(w, bootstrap)

    app.task(run_lake_sink)
    if health is not None:
        watch_health(app, health)
    watch_gemini(app, settings, stages)
    watch_deferred(app, settings, stages, w.publish)
    app.on_partitions_assigned.connect(log_assignment)
    register_reconciler(app, settings)
    return app
