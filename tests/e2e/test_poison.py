"""A thousand poison events interleaved with real uploads: every valid one is processed, every
poison one reaches the dead-letter topic exactly once, and the lake keeps advancing."""

from __future__ import annotations

import asyncio
import json
import os
from collections import Counter
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaProducer

from processors.lake.query import Lake
from processors.storage import open_store
from processors.synthetic import events as make
from schemas import topics
from schemas.ids import uuid7
from tests.e2e.conftest import Deployment
from tests.e2e.helpers import TABLES, lake_counts, topic_events, upload, wait_final

POISON = int(os.environ.get("REELSCOPE_POISON_EVENTS", "1000"))
ROUNDS = 10


def valid_event(media_id: str) -> dict[str, Any]:
    return make.uploaded(
        media_id=media_id,
        producer="poison-test",
        object_key=f"media/2026/01/01/{media_id}",
        content_type="image/png",
        media_kind="image",
    ).model_dump(mode="json", by_alias=True)


def poison(i: int, media_id: str) -> bytes:
    """One of several kinds of value the intake must refuse (all below the broker's 1 MB)."""
    event = valid_event(media_id)
    kinds: list[bytes] = [
        b"{not json",
        b"",
        json.dumps(event | {"size_bytes": 2**63}).encode(),  # valid JSON, overflows int64
        json.dumps(event | {"filename": "x" * 900_000}).encode(),  # a 0.9 MB string
        json.dumps(event | {"labels": {f"k{n}": "v" for n in range(5000)}}).encode(),
        json.dumps(event | {"schema": "reelscope.media.uploaded/99"}).encode(),
        json.dumps(event | {"media_id": "not-a-uuid"}).encode(),
        json.dumps(event | {"platforms": ["tiktok"] * 10_000}).encode(),
        json.dumps([event]).encode(),
        b"\xff\xfe binary",
    ]
    return kinds[i % len(kinds)]


async def test_poison_events_are_dead_lettered_once_and_nothing_else_stalls(
    local_stack: Deployment, samples: dict[str, Path]
) -> None:
    producer = AIOKafkaProducer(
        bootstrap_servers=local_stack.bootstrap, acks="all", max_request_size=2_000_000
    )
    await producer.start()
    valid: list[str] = []
    poisoned: dict[str, tuple[int, int]] = {}  # key -> (partition, offset)
    try:
        for r in range(ROUNDS):
            valid.append(await asyncio.to_thread(upload, local_stack, samples["image"]))
            for i in range(r * POISON // ROUNDS, (r + 1) * POISON // ROUNDS):
                key = str(uuid7())
                meta = await producer.send_and_wait(
                    topics.MEDIA_UPLOADED, poison(i, key), key=key.encode()
                )
                poisoned[key] = (meta.partition, meta.offset)
    finally:
        await producer.stop()

    finals = [await asyncio.to_thread(wait_final, local_stack, m, 120) for m in valid]
    assert [f["status"] for f in finals] == ["done"] * len(valid)

    letters = await topic_events(
        local_stack.bootstrap, topics.DEADLETTER, set(poisoned), timeout=60
    )
    by_source = Counter(
        (e["source_key"], e["source_partition"], e["source_offset"], e["stage"]) for e in letters
    )
    expected = {(k, p, o, "intake") for k, (p, o) in poisoned.items()}
    assert set(by_source) == expected, f"{len(expected - set(by_source))} poison events missing"
    assert max(by_source.values()) == 1, by_source.most_common(3)
    assert all(e["reason"] for e in letters)

    # the lake advanced past every poison event: the valid uploads and every dead letter landed
    assert await asyncio.to_thread(lake_counts, local_stack, valid, 60) == dict.fromkeys(
        TABLES, len(valid)
    )
    lake = Lake(open_store(local_stack.store_url), max_staleness_s=0)
    deadline = asyncio.get_running_loop().time() + 60
    landed = 0
    while asyncio.get_running_loop().time() < deadline:
        rows = lake.query(
            "SELECT count(*) AS n FROM deadletters WHERE media_id IN (SELECT unnest(?::varchar[]))",
            [list(poisoned)],
        )
        landed = int(rows[0]["n"])
        if landed >= len(poisoned):
            break
        await asyncio.sleep(1)
    assert landed == len(poisoned)
