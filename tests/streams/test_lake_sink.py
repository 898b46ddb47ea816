"""The lake sink on a real broker: a row the lake refuses goes to the dead-letter topic once, and
the sink moves on and commits past it instead of retrying it for ever."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from prometheus_client import REGISTRY

from processors.config import Settings
from processors.lake.query import Lake
from processors.storage import LocalStore
from processors.synthetic import events as make
from schemas import topics
from schemas.events import MediaUploaded
from schemas.ids import uuid7
from streams import lake_sink
from streams.admin import ensure_topics
from streams.broker import EmbeddedBroker
from streams.lake_sink import LakeSink


@pytest.fixture
def own_broker() -> Iterator[EmbeddedBroker]:
    with EmbeddedBroker() as b:
        ensure_topics(b.bootstrap, partitions=1)
        yield b


def uploaded(filename: str) -> MediaUploaded:
    media_id = uuid7()
    return make.uploaded(
        media_id=media_id,
        producer="sink-test",
        object_key=f"media/2026/01/01/{media_id}",
        size_bytes=10,
        content_type="image/png",
        media_kind="image",
        filename=filename,
    )


async def dead_letters(bootstrap: str, until: float) -> list[dict[str, Any]]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        tp = TopicPartition(topics.DEADLETTER, 0)
        consumer.assign([tp])
        await consumer.seek_to_beginning(tp)
        found: list[dict[str, Any]] = []
        while asyncio.get_running_loop().time() < until and not found:
            for records in (await consumer.getmany(timeout_ms=500)).values():
                found += [json.loads(r.value) for r in records]
        return found
    finally:
        await consumer.stop()


async def test_a_row_the_lake_refuses_is_dead_lettered_and_the_sink_moves_on(
    own_broker: EmbeddedBroker, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The schemas bound every field, so no valid event breaks the writer today; a future
    drift between a model and its Arrow schema would. Simulate one: the sink's row for the
    event named `drift` gets a value its int64 column cannot hold."""
    real_rows_of = lake_sink.rows_of

    def drifting_rows_of(topic: str, partition: int, records: Any) -> list[dict[str, Any]]:
        rows = real_rows_of(topic, partition, records)
        return [r | {"size_bytes": 2**63} if r.get("filename") == "drift" else r for r in rows]

    monkeypatch.setattr(lake_sink, "rows_of", drifting_rows_of)
    store = LocalStore(tmp_path / "bucket")
    settings = Settings.model_validate({"worker": {"lake_flush_seconds": 0.5}})
    events = [uploaded("before"), uploaded("drift"), uploaded("after")]
    producer = AIOKafkaProducer(bootstrap_servers=own_broker.bootstrap, acks="all")
    await producer.start()
    try:
        for e in events:
            await producer.send_and_wait(
                topics.MEDIA_UPLOADED, e.to_bytes(), key=str(e.media_id).encode()
            )
    finally:
        await producer.stop()

    written = REGISTRY.get_sample_value("reelscope_lake_bytes_total", {"table": "uploads"})
    flushes = REGISTRY.get_sample_value("reelscope_lake_delay_seconds_count") or 0.0
    sink = asyncio.create_task(LakeSink(settings, own_broker.bootstrap, store).run())
    try:
        until = asyncio.get_running_loop().time() + 30
        letters = await dead_letters(own_broker.bootstrap, until)
        lake = Lake(store, max_staleness_s=0)
        rows: list[dict[str, Any]] = []
        while asyncio.get_running_loop().time() < until and len(rows) < 2:
            rows = lake.query('SELECT filename FROM uploads ORDER BY "offset"')
            await asyncio.sleep(0.5)
    finally:
        sink.cancel()
        await asyncio.gather(sink, return_exceptions=True)

    assert [(d["stage"], d["error_type"], d["source_offset"]) for d in letters] == [
        ("lake", "unwritable", 1)
    ]
    assert "uploads schema" in letters[0]["reason"]
    assert letters[0]["media_id"] == str(events[1].media_id)
    assert [r["filename"] for r in rows] == ["before", "after"]
    files = [p for p in (tmp_path / "bucket" / "lake" / "uploads").rglob("*.parquet")]
    grew = REGISTRY.get_sample_value("reelscope_lake_bytes_total", {"table": "uploads"})
    assert written is not None and grew is not None, "the series exists from start-up"
    assert grew - written == sum(p.stat().st_size for p in files) > 0
    assert (REGISTRY.get_sample_value("reelscope_lake_delay_seconds_count") or 0.0) > flushes
