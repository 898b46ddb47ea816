"""Broker data loss: the ledger is the ground truth, and the reconciler re-emits what was lost.

Real processes throughout: embedded brokers on memory storage (a restart loses every topic and
offset), a folder bucket, worker and API processes, and `reelscope reconcile` run as a user
would run it.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from processors import ledger
from processors.config import Settings
from processors.keys import media_key
from processors.lake.query import Lake
from processors.storage import LocalStore
from processors.synthetic.lake import uuid7_at
from schemas import topics
from schemas.events import MediaUploaded
from schemas.lake import TABLE_OF_TOPIC
from streams.admin import ensure_topics, wait_caught_up
from streams.broker import EmbeddedBroker, free_port
from streams.lake_sink import lake_group
from tests.e2e.conftest import ROOT, Deployment
from tests.e2e.helpers import TABLES, lake_counts, topic_events, upload, wait_final

NO_TIMER = {"REELSCOPE_RECONCILE__ENABLED": "false"}  # only the command re-emits here


@pytest.fixture
def port() -> Iterator[int]:
    """One broker address for the whole test: each new broker on it starts empty."""
    yield free_port()


def fresh_broker(port: int) -> EmbeddedBroker:
    broker = EmbeddedBroker(port=port).start()
    ensure_topics(broker.bootstrap, partitions=3)
    return broker


def reconcile(stack: Deployment, *args: str) -> list[str]:
    """`reelscope reconcile ARGS` in a subprocess; its stdout lines (it must exit 0)."""
    done = subprocess.run(
        [sys.executable, "-m", "streams.cli", "reconcile", *args],
        env=stack.env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout.splitlines()


def acted(lines: list[str], action: str) -> set[str]:
    return {line.split()[1] for line in lines[:-1] if line.startswith(action + " ")}


async def test_media_lost_with_the_broker_are_reemitted_once(
    port: int, samples: dict[str, Path], tmp_path: Path
) -> None:
    store = LocalStore(tmp_path / "bucket")
    stack = Deployment(f"127.0.0.1:{port}", store.url, tmp_path, extra_env=NO_TIMER)
    broker = fresh_broker(port)
    try:
        # 1. the first broker: media processed end to end
        stack.start()
        first = [upload(stack, samples[n]) for n in ("image", "image", "corrupt")]
        for media_id in first:
            await asyncio.to_thread(wait_final, stack, media_id)
        assert (await asyncio.to_thread(lake_counts, stack, first))["media_results"] == 3

        # 2. the broker loses everything; a new one: media processed, then some only accepted
        stack.stop()
        broker.stop()
        broker = fresh_broker(port)
        stack.start()
        second = [upload(stack, samples["image"])]
        await asyncio.to_thread(wait_final, stack, second[0])
        counts = await asyncio.to_thread(lake_counts, stack, second)  # before the kill
        assert counts == dict.fromkeys(TABLES, 1), await _missing_rows(stack, store, second, counts)
        stack.kill_worker()
        lost = [upload(stack, samples["image"]), upload(stack, samples["image"])]
        stack.stop()
        broker.stop()  # the accepted events go with it: only the ledger knows these media

        # 3. yet another empty broker, a fresh worker, and the command
        broker = fresh_broker(port)
        stack.start()
        lines = await asyncio.to_thread(reconcile, stack, "--older-than", "0")
        assert acted(lines, "reemitted") == set(lost), lines
        assert acted(lines, "unrecoverable") == set(), lines
        finals = [await asyncio.to_thread(wait_final, stack, m, 90) for m in lost]
        assert [f["status"] for f in finals] == ["done", "done"]

        ids = first + second + lost
        counts = await asyncio.to_thread(lake_counts, stack, ids, 60)
        missing = await _missing_rows(stack, store, ids, counts)
        assert counts == dict.fromkeys(TABLES, len(ids)), missing
        # the reconciler leaves media still pending in a consumer group alone: let the groups
        # commit what they have done, so that the second run judges every media
        await asyncio.to_thread(caught_up, stack.bootstrap)
        again = await asyncio.to_thread(reconcile, stack, "--older-than", "0")
        assert acted(again, "reemitted") == set(), again
        assert again[-1].startswith(f"checked {len(ids)} ledger media"), again
        assert "0 without result or dead letter; 0 reemitted, 0 unrecoverable" in again[-1]
    finally:
        stack.stop()
        broker.stop()


def caught_up(bootstrap: str) -> None:
    settings = Settings()
    processing = [*topics.INPUT_TOPICS, topics.BRAND_CHECKS, topics.MEDIA_ANALYSES]
    for group, names in (
        (settings.kafka.consumer_group, processing),
        (lake_group(settings), list(TABLE_OF_TOPIC)),
    ):
        assert wait_caught_up(bootstrap, group, names, 30), f"{group} did not catch up"


async def _missing_rows(
    stack: Deployment, store: LocalStore, ids: list[str], counts: dict[str, int]
) -> str:
    """Explain a short count: which media lack a result row although the topic has one (the
    lake writer skipping records of a new broker as already covered), or lack both."""
    if counts.get("media_results") == len(ids):
        return f"counts {counts}"
    lake = Lake(store)
    rows = lake.query("SELECT media_id FROM media_results")
    in_lake = {str(r["media_id"]) for r in rows}
    absent = set(ids) - in_lake
    on_topic = await topic_events(stack.bootstrap, topics.MEDIA_RESULTS, absent, timeout=10)
    on_topic_ids = {e["media_id"] for e in on_topic}
    return (
        f"counts {counts}; no media_results row for {sorted(absent)}; "
        f"of those, with a result on the current results topic: {sorted(on_topic_ids)}"
    )


async def test_the_leader_worker_reemits_on_its_timer(
    samples: dict[str, Path], tmp_path: Path
) -> None:
    store = LocalStore(tmp_path / "bucket")
    media_id = uuid7_at(datetime.now(tz=UTC) - timedelta(minutes=1))  # stale at the first tick
    image = samples["image"]
    event = MediaUploaded(  # what the API leaves behind when its broker lost the event
        media_id=media_id,
        producer="reelscope-test",
        object_key=media_key(media_id),
        sha256=hashlib.sha256(image.read_bytes()).hexdigest(),
        size_bytes=image.stat().st_size,
        content_type="image/jpeg",
        media_kind="image",
        filename=image.name,
    )
    store.put_file(media_key(media_id), image)
    store.put_bytes(ledger.event_key(media_id), event.to_bytes())
    metrics_port = free_port()
    env = {
        "REELSCOPE_RECONCILE__INTERVAL_S": "1",
        "REELSCOPE_RECONCILE__OLDER_THAN_S": "30",  # and not re-emitted again while processed
        "REELSCOPE_WORKER__WEB_PORT": str(metrics_port),
    }
    with EmbeddedBroker() as broker:
        ensure_topics(broker.bootstrap, partitions=3)
        stack = Deployment(broker.bootstrap, store.url, tmp_path, extra_env=env).start()
        try:
            final = await asyncio.to_thread(wait_final, stack, str(media_id), 90)
            counts = await asyncio.to_thread(lake_counts, stack, [str(media_id)])
            metrics = _metrics(metrics_port)
            health = httpx.get(f"http://127.0.0.1:{metrics_port}/healthz", timeout=5)
        finally:
            stack.stop()
    assert final["status"] == "done", final
    assert counts == dict.fromkeys(TABLES, 1)  # re-emitted maybe more than once, one row each
    assert 'reelscope_reconciled_total{outcome="reemitted"}' in metrics
    assert 'reelscope_reconciled_total{outcome="unrecoverable"} 0.0' in metrics
    assert "reelscope_media_stale_processing" in metrics
    assert health.status_code == 200 and health.json() == {"ok": True, "problems": []}
    assert 'reelscope_consumer_lag{group="' in metrics  # the worker reports where it stands
    assert str(media_id) in reemitted_by_worker(tmp_path / "worker.log")


def _metrics(port: int) -> str:
    deadline = time.monotonic() + 10
    while True:
        try:
            return httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2).text
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def reemitted_by_worker(log: Path) -> set[str]:
    """Media ids the worker logged as re-emitted (JSON log lines)."""
    found = set()
    for line in log.read_text().splitlines():
        try:  # faust may prefix a line with a terminal control sequence
            doc = json.loads(line[line.find("{") :])
        except ValueError:
            continue
        if doc.get("event") == "reconciled" and doc.get("action") == "reemitted":
            found.add(doc["media_id"])
    return found
