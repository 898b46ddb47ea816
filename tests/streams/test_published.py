"""A result whose send failed after the broker wrote it is on the results topic once.

The proxy forwards the produce request to a real broker, which writes it, and then cuts the
connection instead of passing the answer on: the client sees a failure for a write that
happened. That is what a broker restart or a network cut in the wrong moment does.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator

import faust
import pytest
from aiokafka import AIOKafkaProducer

from schemas.topics import MEDIA_RESULTS
from streams.admin import ensure_topics
from streams.app import kafka_publish
from streams.broker import EmbeddedBroker, free_port
from streams.published import PublishedResults
from tests.helpers import partition_records
from tests.kafka_faults import KafkaFaultProxy

WINDOW_S = 1.5  # answers are lost this long; the clients' own timeouts are longer


@pytest.fixture(scope="module")
def proxy() -> Iterator[KafkaFaultProxy]:
    """A broker of its own, reached only through a proxy that loses produce answers."""
    broker_port = free_port()
    with (
        KafkaFaultProxy(broker_port, mode="lose_answer") as p,
        EmbeddedBroker(port=broker_port, advertised_port=p.port) as broker,
    ):
        ensure_topics(broker.bootstrap, partitions=1)
        yield p


async def records(bootstrap: str, topic: str) -> list[bytes]:
    return [r.value for r in await partition_records(bootstrap, topic) if r.value is not None]


async def lose_answers_for(proxy: KafkaFaultProxy, topic: str, seconds: float) -> None:
    proxy.refuse_produce(topics=[topic])
    try:
        await asyncio.sleep(seconds)
    finally:
        proxy.allow_produce()


async def test_aiokafka_alone_writes_a_record_twice_when_its_answer_is_lost(
    proxy: KafkaFaultProxy,
) -> None:
    """The fault is real: without idempotence aiokafka resends a batch the broker has."""
    topic = f"plain-{uuid.uuid4().hex[:6]}"
    producer = AIOKafkaProducer(bootstrap_servers=proxy.bootstrap, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(topic, b"first", key=b"k")
        window = asyncio.create_task(lose_answers_for(proxy, topic, WINDOW_S))
        await asyncio.sleep(0.1)
        await producer.send_and_wait(topic, b"once", key=b"k")
        await window
    finally:
        await producer.stop()
    assert (await records(proxy.bootstrap, topic)).count(b"once") > 1


async def test_a_result_whose_answer_was_lost_is_published_once(proxy: KafkaFaultProxy) -> None:
    published = PublishedResults(proxy.bootstrap, window_s=60)
    following = asyncio.create_task(published.run())
    app = faust.App(f"published-{uuid.uuid4().hex[:6]}", broker=f"kafka://{proxy.bootstrap}")
    publish = kafka_publish(app, proxy.bootstrap, published)
    media_ids = [uuid.uuid4() for _ in range(3)]
    try:
        await asyncio.wait_for(published.ready.wait(), 30)
        window = asyncio.create_task(lose_answers_for(proxy, MEDIA_RESULTS, WINDOW_S))
        await asyncio.sleep(0.1)
        lost_before = proxy.stats.produce_refused
        for media_id in media_ids:
            await asyncio.wait_for(publish(MEDIA_RESULTS, media_id, str(media_id).encode()), 60)
        await window
        assert proxy.stats.produce_refused > lost_before, "no answer was lost: the test is moot"
    finally:
        following.cancel()
        await app.on_before_shutdown.send()
    found = await records(proxy.bootstrap, MEDIA_RESULTS)
    assert {m: found.count(str(m).encode()) for m in media_ids} == dict.fromkeys(media_ids, 1)
