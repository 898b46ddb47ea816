"""What the end-to-end tests do to a running stack: register, upload, wait, read back."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, TopicPartition

from processors.lake.query import Lake
from processors.storage import open_store
from schemas.lake import TABLE_OF_TOPIC
from streams import admin
from streams.admin import committed_offsets
from tests.e2e.conftest import Deployment

BRAND = {
    "name": "ACME",
    "palette": [{"hex": "#E4002B"}, {"hex": "#FFFFFF"}],
    "logo_zones": ["top_left", "top_right", "bottom_left", "bottom_right"],
}
LAKE_GROUP = "reelscope-worker-lake"  # the default consumer group + "-lake"
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


def upload_all(stack: Deployment, paths: list[Path]) -> list[str]:
    """Upload every file, then wait until each is final; their media ids, in order."""
    media_ids = [upload(stack, path) for path in paths]
    for media_id in media_ids:
        wait_final(stack, media_id)
    return media_ids


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
        counts = {}
        for t in TABLES:
            sql = f"select count(*) from {t} where media_id in (select unnest(?::varchar[]))"
            found = con.execute(sql, [media_ids]).fetchone()
            counts[t] = found[0] if found else 0
        if all(n >= len(media_ids) for n in counts.values()):
            return counts
        time.sleep(0.5)
    return counts


async def topic_events(
    bootstrap: str, topic: str, wanted: set[str], timeout: float = 15
) -> list[dict[str, Any]]:
    """Read a topic from the beginning as a downstream app would, keeping events of `wanted`:
    until every wanted key was seen and the topic read to its end, or `timeout` (a key seen
    early must not end the read while a later one is still on its way)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        parts = [TopicPartition(topic, p) for p in (consumer.partitions_for_topic(topic) or set())]
        if not parts:
            await consumer._client.force_metadata_update()  # no public refresh in aiokafka
            parts = [
                TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or set()
            ]
        consumer.assign(parts)
        await consumer.seek_to_beginning(*parts)
        found: list[dict[str, Any]] = []
        seen: set[str] = set()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=500)
            for records in batch.values():
                for r in records:
                    key = r.key.decode(errors="replace") if r.key is not None else None
                    if key in wanted:
                        found.append(json.loads(r.value))
                        seen.add(key)
            end = await consumer.end_offsets(parts)
            positions = [await consumer.position(p) for p in parts]
            if seen >= wanted and all(
                pos >= end[p] for pos, p in zip(positions, parts, strict=True)
            ):
                break
        return found
    finally:
        await consumer.stop()


def end_offsets(bootstrap: str) -> dict[tuple[str, int], int]:
    """Where each non-empty partition of the lake topics ends now."""
    return admin.end_offsets(bootstrap, TABLE_OF_TOPIC)


def wait_committed(bootstrap: str, group: str, ends: dict[tuple[str, int], int]) -> None:
    if not admin.wait_committed(bootstrap, group, ends, 60):
        got = committed_offsets(bootstrap, group)
        raise AssertionError(f"lake group stuck at {got}, wanted {ends}")
