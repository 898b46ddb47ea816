"""Upload to Parquet row, over HTTP, through the real broker, worker, ffmpeg and OpenCV."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from processors.lake.query import Lake
from processors.storage import open_store
from schemas import topics
from schemas.events import MediaUploaded
from schemas.ids import uuid7
from tests.e2e.conftest import Deployment

BRAND = {
    "name": "ACME",
    "palette": [{"hex": "#E4002B"}, {"hex": "#FFFFFF"}],
    "logo_zones": ["top_left", "top_right", "bottom_left", "bottom_right"],
}
TABLES = ("uploads", "brand_checks", "analyses", "media_results")


def register_brand(stack: Deployment, brand_id: str, logo: Path) -> None:
    httpx.put(f"{stack.url}/v1/brands/{brand_id}", json=BRAND).raise_for_status()
    httpx.put(
        f"{stack.url}/v1/brands/{brand_id}/logo",
        content=logo.read_bytes(),
        headers={"content-type": "image/png"},
    ).raise_for_status()


def upload(stack: Deployment, path: Path, **form: str) -> str:
    with path.open("rb") as fh:
        r = httpx.post(
            f"{stack.url}/v1/media", files={"file": (path.name, fh)}, data=form, timeout=30
        )
    assert r.status_code == 202, r.text
    media_id: str = r.json()["media_id"]
    return media_id


def wait_final(stack: Deployment, media_id: str, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r = httpx.get(f"{stack.url}/v1/media/{media_id}")
        assert r.status_code == 200, r.text
        if r.json()["status"] != "processing":
            body: dict[str, Any] = r.json()
            return body
        time.sleep(0.3)
    raise AssertionError(f"{media_id} still processing after {timeout} s; see {stack.logs}")


def lake_counts(stack: Deployment, media_ids: list[str], timeout: float = 20) -> dict[str, int]:
    """Rows per view for these media, once every table has them (the sink flushes each second)."""
    lake = Lake(
        open_store(stack.store_url, endpoint_url=stack.env.get("REELSCOPE_STORE__ENDPOINT_URL"))
    )
    deadline = time.monotonic() + timeout
    counts: dict[str, int] = {}
    while time.monotonic() < deadline:
        lake.refresh()
        con = lake.connection()
        counts = {
            t: con.execute(
                f"select count(*) from {t} where media_id in (select unnest(?::varchar[]))",  # noqa: S608
                [media_ids],
            ).fetchone()[0]
            for t in TABLES
        }
        if all(n >= len(media_ids) for n in counts.values()):
            return counts
        time.sleep(0.5)
    return counts


async def topic_events(
    bootstrap: str, topic: str, wanted: set[str], timeout: float = 15
) -> list[dict[str, Any]]:
    """Read a topic from the beginning as a downstream app would, keeping events of `wanted`."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        parts = [TopicPartition(topic, p) for p in (consumer.partitions_for_topic(topic) or set())]
        if not parts:
            await consumer.client.force_metadata_update()
            parts = [
                TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or set()
            ]
        consumer.assign(parts)
        await consumer.seek_to_beginning(*parts)
        found: list[dict[str, Any]] = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=500)
            for records in batch.values():
                for r in records:
                    if r.key is not None and r.key.decode(errors="replace") in wanted:
                        found.append(json.loads(r.value))
            end = await consumer.end_offsets(parts)
            positions = [await consumer.position(p) for p in parts]
            if found and all(pos >= end[p] for pos, p in zip(positions, parts, strict=True)):
                break
        return found
    finally:
        await consumer.stop()


async def test_upload_reaches_api_lake_and_result_topic(
    local_stack: Deployment, broker: Any, samples: dict[str, Path]
) -> None:
    register_brand(local_stack, "acme", samples["logo"])
    media_id = upload(
        local_stack, samples["on_brand_vertical"], brand_id="acme", platforms="instagram_reels"
    )

    result = await asyncio.to_thread(wait_final, local_stack, media_id)

    assert result["status"] == "done", result
    check = result["brand_check"]
    assert check["verdict"] in ("pass", "warn", "fail")
    assert check["brand_version"] == 2  # rules, then the logo
    assert check["logo"]["found"] is True
    assert check["palette"]["on_palette_ratio"] > 0.5
    assert result["analysis"]["analyzer"] == "local"
    technical = result["analysis"]["technical"]
    assert technical["shot_count"] >= 1
    assert technical["thumbnail_key"] == f"thumbs/{media_id}.jpg"
    thumb = open_store(local_stack.store_url).get_bytes(technical["thumbnail_key"])
    assert thumb[:3] == b"\xff\xd8\xff"  # a JPEG
    counts = await asyncio.to_thread(lake_counts, local_stack, [media_id])
    assert counts == dict.fromkeys(TABLES, 1)
    events = await topic_events(broker.bootstrap, topics.MEDIA_RESULTS, {media_id})
    assert len(events) == 1 and events[0]["status"] == "done"


async def test_corrupt_media_fails_with_a_readable_reason(
    local_stack: Deployment, samples: dict[str, Path]
) -> None:
    media_id = upload(local_stack, samples["corrupt"])
    result = await asyncio.to_thread(wait_final, local_stack, media_id)
    assert result["status"] == "failed"
    assert result["error"] and "Traceback" not in result["error"]
    counts = await asyncio.to_thread(lake_counts, local_stack, [media_id])
    assert counts["media_results"] == 1


async def test_poison_events_are_dead_lettered_and_the_worker_goes_on(
    local_stack: Deployment, broker: Any, samples: dict[str, Path]
) -> None:
    poison_id = str(uuid7())
    producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap)
    await producer.start()
    try:
        not_json = await producer.send_and_wait(
            topics.MEDIA_UPLOADED, b"\x00garbage", key=poison_id.encode()
        )
        bad_schema = await producer.send_and_wait(
            topics.MEDIA_GENERATED,
            json.dumps({"schema": "reelscope.media.generated/1", "media_id": poison_id}).encode(),
            key=poison_id.encode(),
        )
    finally:
        await producer.stop()

    media_id = upload(local_stack, samples["image"])
    result = await asyncio.to_thread(wait_final, local_stack, media_id)
    assert result["status"] == "done"

    letters = await topic_events(broker.bootstrap, topics.DEADLETTER, {poison_id})
    by_topic = {d["source_topic"]: d for d in letters}
    assert set(by_topic) == {topics.MEDIA_UPLOADED, topics.MEDIA_GENERATED}
    assert by_topic[topics.MEDIA_UPLOADED]["error_type"] == "invalid_json"
    assert by_topic[topics.MEDIA_UPLOADED]["source_offset"] == not_json.offset
    assert by_topic[topics.MEDIA_GENERATED]["source_offset"] == bad_schema.offset
    assert "object_key" in by_topic[topics.MEDIA_GENERATED]["reason"]


async def test_worker_killed_mid_stream_leaves_nothing_processing_or_doubled(
    local_stack: Deployment, samples: dict[str, Path]
) -> None:
    ids = [
        upload(local_stack, samples[name])
        for name in ("image", "off_brand_landscape", "on_brand_vertical", "image")
    ]
    await asyncio.to_thread(wait_final, local_stack, ids[0])
    local_stack.kill_worker()
    ids += [upload(local_stack, samples["image"]) for _ in range(2)]
    local_stack.start_worker()

    finals = [await asyncio.to_thread(wait_final, local_stack, i, 90) for i in ids]

    assert all(f["status"] == "done" for f in finals)
    counts = await asyncio.to_thread(lake_counts, local_stack, ids)
    assert counts == dict.fromkeys(TABLES, len(ids)), "views must show each media once"


async def test_s3_bucket_path_end_to_end(s3_stack: Deployment, samples: dict[str, Path]) -> None:
    media_id = upload(s3_stack, samples["image"])
    result = await asyncio.to_thread(wait_final, s3_stack, media_id)
    assert result["status"] == "done"
    counts = await asyncio.to_thread(lake_counts, s3_stack, [media_id])
    assert counts == dict.fromkeys(TABLES, 1)


async def test_event_for_a_missing_object_fails_that_media_only(
    local_stack: Deployment, broker: Any, samples: dict[str, Path]
) -> None:
    ghost = MediaUploaded(
        media_id=uuid7(),
        producer="test",
        object_key="media/2026/01/01/ghost",
        sha256="0" * 64,
        size_bytes=1,
        content_type="video/mp4",
        media_kind="video",
    )
    producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait(
            topics.MEDIA_UPLOADED, ghost.to_bytes(), key=str(ghost.media_id).encode()
        )
    finally:
        await producer.stop()

    results = await topic_events(
        broker.bootstrap, topics.MEDIA_RESULTS, {str(ghost.media_id)}, timeout=60
    )
    assert results and results[0]["status"] == "failed"
    assert "not in the bucket" in results[0]["error"]
    after = upload(local_stack, samples["image"])
    assert (await asyncio.to_thread(wait_final, local_stack, after))["status"] == "done"
