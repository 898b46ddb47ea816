"""The Kafka fault proxy (tests.kafka_faults) itself: its refusals are valid Kafka, in order.

The end-to-end publish-failure test trusts this proxy to make a real client's produce fail
and nothing else, so its wire format is checked here against an independent implementation
(kafka-python's schema-driven protocol classes, every Produce version 0..13), and its effect
against a real broker and a real client (aiokafka, as the worker and the API use).
"""

from __future__ import annotations

import socket
import struct
import time
import uuid
from collections.abc import Iterator

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import KafkaConnectionError, UnknownError
from kafka.protocol.metadata import MetadataRequest, MetadataResponse
from kafka.protocol.producer.produce import ProduceRequest, ProduceResponse

from streams.broker import EmbeddedBroker, free_port
from tests.kafka_faults import (
    MAX_VERSION,
    NOT_ENOUGH_REPLICAS,
    UNKNOWN_SERVER_ERROR,
    KafkaFaultProxy,
    expects_response,
    parse_produce,
    refusal,
)

Topic = ProduceRequest.TopicProduceData
Partition = Topic.PartitionProduceData


def produce_request(version: int, correlation_id: int, acks: int = -1) -> bytes:
    """A framed Produce request as kafka-python writes it: two topics, three partitions."""
    tid = uuid.UUID(int=7)
    topics = [
        Topic(
            name="a",
            topic_id=tid,
            partition_data=[Partition(index=0, records=b"xyz"), Partition(index=3, records=None)],
            version=version,
        ),
        Topic(
            name="bb",
            topic_id=uuid.UUID(int=8),
            partition_data=[Partition(index=1, records=b"")],
            version=version,
        ),
    ]
    req = ProduceRequest(
        transactional_id=None, acks=acks, timeout_ms=1000, topic_data=topics, version=version
    )
    req.with_header(correlation_id=correlation_id, client_id="reelscope-test")
    data: bytes = req.encode(header=True, framed=True)
    return data


@pytest.mark.parametrize("version", range(MAX_VERSION + 1))
def test_refusal_is_the_response_kafka_python_would_write(version: int) -> None:
    """Byte for byte: decode our answer with kafka-python, encode it again, compare."""
    request = parse_produce(produce_request(version, correlation_id=4242)[4:])
    answer = refusal(request, NOT_ENOUGH_REPLICAS, "refused")

    decoded = ProduceResponse.decode(answer, version=version, header=True, framed=True)

    assert decoded.header.correlation_id == 4242
    got = {
        (t.topic_id if version >= 13 else t.name): [
            (p.index, p.error_code) for p in t.partition_responses
        ]
        for t in decoded.responses
    }
    a, bb = (uuid.UUID(int=7), uuid.UUID(int=8)) if version >= 13 else ("a", "bb")
    assert got == {a: [(0, 19), (3, 19)], bb: [(1, 19)]}
    assert decoded.encode(header=True, framed=True) == answer  # no byte more, none missing


def test_acks_zero_gets_no_answer() -> None:
    frame = produce_request(7, correlation_id=1, acks=0)[4:]
    assert parse_produce(frame).acks == 0
    assert not expects_response(frame)
    assert expects_response(produce_request(7, correlation_id=1)[4:])


@pytest.fixture(scope="module")
def proxied() -> Iterator[tuple[KafkaFaultProxy, EmbeddedBroker]]:
    """A broker of its own that advertises the proxy in front of it."""
    broker_port = free_port()
    with (
        KafkaFaultProxy(broker_port) as proxy,
        EmbeddedBroker(port=broker_port, advertised_port=proxy.port) as broker,
    ):
        yield proxy, broker


@pytest.fixture
def proxy(proxied: tuple[KafkaFaultProxy, EmbeddedBroker]) -> Iterator[KafkaFaultProxy]:
    p = proxied[0]
    p.mode, p.error_code = "error", UNKNOWN_SERVER_ERROR
    yield p
    p.allow_produce()


async def end_offset(bootstrap: str, topic: str) -> int:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await consumer.start()
    try:
        tp = TopicPartition(topic, 0)
        ends = await consumer.end_offsets([tp])
        return int(ends[tp])
    finally:
        await consumer.stop()


async def test_every_connection_goes_through_the_proxy(
    proxied: tuple[KafkaFaultProxy, EmbeddedBroker], proxy: KafkaFaultProxy
) -> None:
    """The broker advertises the proxy, so a client's produce reaches the broker through it."""
    broker = proxied[1]
    producer = AIOKafkaProducer(bootstrap_servers=proxy.bootstrap, acks="all")
    await producer.start()
    try:
        before = proxy.stats.produce_forwarded
        meta = await producer.send_and_wait(f"pass-{uuid.uuid4().hex[:6]}", b"v", key=b"k")
        brokers = [(b.host, b.port) for b in producer.client.cluster.brokers()]
    finally:
        await producer.stop()
    assert brokers == [("127.0.0.1", proxy.port)] != [("127.0.0.1", broker.port)]
    assert proxy.stats.produce_forwarded == before + 1
    assert meta.offset == 0


async def test_error_mode_fails_the_send_at_once_and_writes_nothing(
    proxy: KafkaFaultProxy,
) -> None:
    topic = f"err-{uuid.uuid4().hex[:6]}"
    producer = AIOKafkaProducer(
        bootstrap_servers=proxy.bootstrap, acks="all", client_id="refusal-test"
    )
    await producer.start()
    try:
        await producer.send_and_wait(topic, b"before", key=b"k")
        with proxy.refusing():
            started = time.monotonic()
            with pytest.raises(UnknownError):
                await producer.send_and_wait(topic, b"refused", key=b"k")
            assert time.monotonic() - started < 2
        assert await end_offset(proxy.bootstrap, topic) == 1
        after = await producer.send_and_wait(topic, b"after", key=b"k")
    finally:
        await producer.stop()
    assert after.offset == 1
    assert proxy.stats.refused_by_client["refusal-test"] == 1


async def test_a_window_on_some_topics_lets_the_others_through(proxy: KafkaFaultProxy) -> None:
    refused, open_ = (f"{name}-{uuid.uuid4().hex[:6]}" for name in ("shut", "open"))
    producer = AIOKafkaProducer(bootstrap_servers=proxy.bootstrap, acks="all")
    await producer.start()
    try:
        with proxy.refusing(topics=[refused]):
            with pytest.raises(UnknownError):
                await producer.send_and_wait(refused, b"refused", key=b"k")
            written = await producer.send_and_wait(open_, b"passes", key=b"k")
    finally:
        await producer.stop()
    assert written.offset == 0
    assert await end_offset(proxy.bootstrap, refused) == 0


async def test_disconnect_mode_fails_the_send_after_its_timeout_and_writes_nothing(
    proxy: KafkaFaultProxy,
) -> None:
    proxy.mode = "disconnect"
    topic = f"cut-{uuid.uuid4().hex[:6]}"
    producer = AIOKafkaProducer(
        bootstrap_servers=proxy.bootstrap, acks="all", request_timeout_ms=2000
    )
    await producer.start()
    try:
        await producer.send_and_wait(topic, b"before", key=b"k")
        refused_before = proxy.stats.produce_refused
        with proxy.refusing():
            with pytest.raises(KafkaConnectionError):
                await producer.send_and_wait(topic, b"refused", key=b"k")
        assert proxy.stats.produce_refused > refused_before + 1  # the client retried
        assert await end_offset(proxy.bootstrap, topic) == 1
        after = await producer.send_and_wait(topic, b"after", key=b"k")
    finally:
        await producer.stop()
    assert after.offset == 1


def test_a_refusal_waits_for_the_answers_to_earlier_requests(proxy: KafkaFaultProxy) -> None:
    """Metadata, Produce, Metadata pipelined on one connection come back in that order.

    The refusal is ready long before the broker answers the first Metadata; written at once it
    would overtake it, and a client pairing answers with requests by order would choke.
    """
    meta = MetadataRequest[5](topics=None, allow_auto_topic_creation=False)
    frames = []
    for correlation_id in (1, 3):
        meta.with_header(correlation_id=correlation_id, client_id="reelscope-test")
        frames.append(meta.encode(header=True, framed=True))
    with proxy.refusing(), socket.create_connection(("127.0.0.1", proxy.port), timeout=10) as s:
        s.sendall(frames[0] + produce_request(7, correlation_id=2) + frames[1])
        answers = [read_frame(s) for _ in range(3)]
    ids = [struct.unpack_from(">i", a)[0] for a in answers]
    assert ids == [1, 2, 3]
    MetadataResponse.decode(answers[0], version=5, header=True)  # the broker's, intact
    refused = ProduceResponse.decode(answers[1], version=7, header=True)
    assert {p.error_code for t in refused.responses for p in t.partition_responses} == {-1}


def read_frame(s: socket.socket) -> bytes:
    size = struct.unpack(">i", read_exactly(s, 4))[0]
    return read_exactly(s, size)


def read_exactly(s: socket.socket, n: int) -> bytes:
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        assert chunk, "the proxy closed the connection"
        buf += chunk
    return buf


def test_stop_cuts_open_connections(proxied: tuple[KafkaFaultProxy, EmbeddedBroker]) -> None:
    """A stopped proxy leaves no client hanging on a connection nobody serves."""
    proxy = KafkaFaultProxy(proxied[1].port).start()
    with socket.create_connection(("127.0.0.1", proxy.port), timeout=5) as s:
        time.sleep(0.2)  # let the proxy accept and connect upstream
        proxy.stop()
        try:
            assert s.recv(1) == b""
        except ConnectionResetError:
            pass  # aborted: an RST instead of a FIN, just as good
