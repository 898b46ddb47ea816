"""Upload to Parquet row, over HTTP, through the real broker, worker, ffmpeg and OpenCV."""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path

from aiokafka import AIOKafkaProducer

from processors.storage import open_store
from processors.synthetic import events as make
from schemas import topics
from schemas.ids import uuid7
from tests.e2e.conftest import Deployment
from tests.e2e.helpers import (
    TABLES,
    lake_counts,
    register_brand,
    topic_events,
    upload,
    wait_final,
)


async def test_upload_reaches_api_lake_and_result_topic(
    local_stack: Deployment, samples: dict[str, Path]
) -> None:
    # a brand of this test's own: the worker may have read another test's brand as unknown a
    # moment ago (its profile cache)
    brand = f"pipeline-{uuid.uuid4().hex[:8]}"
    register_brand(local_stack, brand, samples["logo"])
    media_id = upload(
        local_stack, samples["on_brand_vertical"], brand_id=brand, platforms="instagram_reels"
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
    events = await topic_events(local_stack.bootstrap, topics.MEDIA_RESULTS, {media_id})
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
    local_stack: Deployment, samples: dict[str, Path]
) -> None:
    poison_id = str(uuid7())
    producer = AIOKafkaProducer(bootstrap_servers=local_stack.bootstrap)
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

    letters = await topic_events(local_stack.bootstrap, topics.DEADLETTER, {poison_id})
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
    local_stack: Deployment, samples: dict[str, Path]
) -> None:
    ghost = make.uploaded(object_key="media/2026/01/01/ghost")
    producer = AIOKafkaProducer(bootstrap_servers=local_stack.bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait(
            topics.MEDIA_UPLOADED, ghost.to_bytes(), key=str(ghost.media_id).encode()
        )
    finally:
        await producer.stop()

    results = await topic_events(
        local_stack.bootstrap, topics.MEDIA_RESULTS, {str(ghost.media_id)}, timeout=60
    )
    assert results and results[0]["status"] == "failed"
    assert "not in the bucket" in results[0]["error"]
    after = upload(local_stack, samples["image"])
    assert (await asyncio.to_thread(wait_final, local_stack, after))["status"] == "done"
