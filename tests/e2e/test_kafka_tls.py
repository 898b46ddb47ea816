"""The stack over TLS to the broker: worker and API configured with only the CA bundle.

The broker is reachable through a TLS listener only (tests.kafka_tls); a plaintext client gets
nowhere, and the whole pipeline (API publish, worker agents, lake sink, results follower,
reconciler) runs over TLS from the settings `REELSCOPE_KAFKA__SECURITY__*`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from processors.config import KafkaSecurity
from streams.admin import ensure_topics
from streams.broker import EmbeddedBroker, free_port
from tests.e2e.conftest import Deployment
from tests.e2e.helpers import TABLES, lake_counts, upload, wait_final
from tests.kafka_tls import TlsFront, make_ca_and_server_cert


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TlsFront, KafkaSecurity]]:
    folder = tmp_path_factory.mktemp("tls")
    ca, cert, key = make_ca_and_server_cert(folder)
    broker_port = free_port()
    front = TlsFront(broker_port, cert, key)
    with front, EmbeddedBroker(port=broker_port, advertised_port=front.start().port):
        security = KafkaSecurity(protocol="SSL", ca_file=str(ca))
        ensure_topics(front.bootstrap, partitions=3, security=security.client_options())
        yield front, security


async def test_a_plaintext_client_gets_nowhere(tls: tuple[TlsFront, KafkaSecurity]) -> None:
    front, security = tls
    plain = AIOKafkaProducer(bootstrap_servers=front.bootstrap, request_timeout_ms=3000)
    with pytest.raises((KafkaError, OSError, asyncio.TimeoutError)):
        await asyncio.wait_for(plain.start(), 10)
    await plain.stop()
    secure = AIOKafkaProducer(bootstrap_servers=front.bootstrap, **security.client_options())
    await secure.start()
    try:
        await secure.send_and_wait("tls-check", b"over tls")
    finally:
        await secure.stop()


def test_the_stack_runs_over_tls(
    tls: tuple[TlsFront, KafkaSecurity],
    samples: dict[str, Path],
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    front, security = tls
    handshakes = front.handshakes
    stack = Deployment(
        front.bootstrap,
        f"file://{tmp_path_factory.mktemp('tls-bucket')}",
        tmp_path_factory.mktemp("tls-logs"),
        extra_env={
            "REELSCOPE_KAFKA__SECURITY__PROTOCOL": "SSL",
            "REELSCOPE_KAFKA__SECURITY__CA_FILE": str(security.ca_file),
            "REELSCOPE_KAFKA__PARTITIONS": "3",
        },
    ).start()
    try:
        ids = [upload(stack, samples[name]) for name in ("image", "corrupt")]
        finals = [wait_final(stack, media_id, 90)["status"] for media_id in ids]
        assert finals == ["done", "failed"], (stack.logs / "worker.log").read_text()[-3000:]
        assert lake_counts(stack, ids, 30) == dict.fromkeys(TABLES, 2)
    finally:
        stack.stop()
    assert front.handshakes > handshakes + 3, "the stack's clients did not come over TLS"
