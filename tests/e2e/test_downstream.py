"""The README's downstream consumers, run against the embedded default: aiokafka and a
librdkafka client (confluent-kafka) both read the gate's decision from
`reelscope.media.decisions.v1` in a consumer group, commit, and do not see it again; both get
the upload's trace header."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import confluent_kafka
import pytest
from aiokafka import AIOKafkaConsumer

from processors.logs import parse_traceparent
from processors.synthetic.samples import make_image
from schemas import topics
from streams.admin import ensure_topics
from streams.broker import EmbeddedBroker
from tests.e2e.conftest import Deployment
from tests.e2e.helpers import upload, wait_final

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    """The embedded default on a broker of its own: a stack left running on the session broker
    would take the uploads of the API tests that share it."""
    with EmbeddedBroker() as broker:
        ensure_topics(broker.bootstrap)
        bucket = tmp_path_factory.mktemp("bucket")
        deployment = Deployment(
            broker.bootstrap, f"file://{bucket}", tmp_path_factory.mktemp("logs")
        )
        try:
            yield deployment.start()
        finally:
            deployment.stop()


@pytest.fixture(scope="module")
def done(stack: Deployment, tmp_path_factory: pytest.TempPathFactory) -> str:
    image = make_image(tmp_path_factory.mktemp("downstream") / "image.jpg", width=320, height=320)
    media_id = upload(stack, image)
    assert wait_final(stack, media_id)["status"] == "done"
    return media_id  # its decision follows the result within milliseconds


def librdkafka_read(bootstrap: str, group: str, media_id: str, wait_s: float) -> list[Any]:
    """What the README's confluent-kafka consumer sees of `media_id` within `wait_s`."""
    consumer = confluent_kafka.Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": group,
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe([topics.MEDIA_DECISIONS])
    found: list[Any] = []
    deadline = time.monotonic() + wait_s
    try:
        while time.monotonic() < deadline and not found:
            msg = consumer.poll(0.5)
            if msg is None:
                continue
            assert msg.error() is None, msg.error()
            if msg.key() == media_id.encode():
                found.append(msg)
            consumer.commit(message=msg, asynchronous=False)
    finally:
        consumer.close()
    return found


async def aiokafka_read(bootstrap: str, group: str, media_id: str, wait_s: float) -> list[Any]:
    """What the README's aiokafka consumer sees of `media_id` within `wait_s`."""
    consumer = AIOKafkaConsumer(
        topics.MEDIA_DECISIONS,
        bootstrap_servers=bootstrap,
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    found: list[Any] = []
    try:
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline and not found:
            for records in (await consumer.getmany(timeout_ms=500)).values():
                found += [r for r in records if r.key == media_id.encode()]
            await consumer.commit()
    finally:
        await consumer.stop()
    return found


def check(value: bytes, headers: Any, media_id: str) -> None:
    decision = json.loads(value)
    assert decision["media_id"] == media_id and decision["by"] == "auto"
    assert decision["state"] in ("approved", "pending")  # the default policy approves a pass
    assert parse_traceparent(dict(headers or []).get("traceparent")) is not None


def test_a_librdkafka_client_reads_the_results(stack: Deployment, done: str) -> None:
    group = f"downstream-{uuid.uuid4().hex[:8]}"
    version, lib = confluent_kafka.version()[0], confluent_kafka.libversion()[0]
    found = librdkafka_read(stack.bootstrap, group, done, 30)
    assert len(found) == 1, f"confluent-kafka {version} (librdkafka {lib}) read nothing"
    check(found[0].value(), found[0].headers(), done)
    assert librdkafka_read(stack.bootstrap, group, done, 3) == [], "the commit held"


def test_aiokafka_reads_the_results(stack: Deployment, done: str) -> None:
    group = f"downstream-{uuid.uuid4().hex[:8]}"
    found = asyncio.run(aiokafka_read(stack.bootstrap, group, done, 30))
    assert len(found) == 1
    check(found[0].value, found[0].headers, done)
    assert asyncio.run(aiokafka_read(stack.bootstrap, group, done, 3)) == []


def test_the_readme_names_the_clients_that_work() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    assert f"confluent-kafka {confluent_kafka.version()[0]}" in readme
    assert "librdkafka 2.0.2" in readme, (
        "the README says which librdkafka fails against Tansu, and why"
    )
