"""The worker's /healthz: a hung event loop, or a consumer group with work waiting and no
progress, answers 503 with the reason; the same server answers /metrics."""

from __future__ import annotations

import time

import httpx
import pytest
from aiokafka import TopicPartition
from prometheus_client import REGISTRY

from streams.broker import free_port
from streams.health import Health, serve

TP = TopicPartition("reelscope.media.uploaded.v1", 3)


def test_a_consumer_with_work_waiting_and_no_progress_is_unhealthy(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    health = Health(stall_s=30)
    health.observe("reelscope-worker", {TP: 10}, {TP: 15})
    assert health.problems() == []  # five records waiting, but the offsets just moved
    later = time.monotonic() + 31
    monkeypatch.setattr(time, "monotonic", lambda: later)
    health.heartbeat()
    health.observe("reelscope-worker", {TP: 10}, {TP: 15})  # still at 10
    assert health.problems() == [
        "consumer group reelscope-worker: 5 records waiting and no progress for 31 s"
    ]
    health.observe("reelscope-worker", {TP: 11}, {TP: 15})
    assert health.problems() == []


def test_an_idle_consumer_is_healthy(monkeypatch: pytest.MonkeyPatch) -> None:
    health = Health(stall_s=30)
    health.observe("reelscope-worker-lake", {TP: 15}, {TP: 15})
    later = time.monotonic() + 300
    monkeypatch.setattr(time, "monotonic", lambda: later)
    health.heartbeat()
    health.observe("reelscope-worker-lake", {TP: 15}, {TP: 15})
    assert health.problems() == []


def test_healthz_answers_from_its_own_thread() -> None:
    health = Health(stall_s=0.5)
    port = free_port()
    server = serve(health, "127.0.0.1", port)
    try:
        health.observe("reelscope-worker", {TP: 7}, {TP: 9})
        ok = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5)
        metrics = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5)
        time.sleep(0.7)  # nobody beats the heartbeat: the loop "hangs"
        hung = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5)
        other = httpx.get(f"http://127.0.0.1:{port}/", timeout=5)
    finally:
        server.shutdown()
    assert ok.status_code == 200 and ok.json() == {"ok": True, "problems": []}
    labels = f'group="reelscope-worker",partition="3",topic="{TP.topic}"'
    assert f"reelscope_consumer_lag{{{labels}}} 2.0" in metrics.text
    assert hung.status_code == 503
    problems = hung.json()["problems"]
    assert problems[0].startswith("the event loop has not run for")
    assert problems[1].startswith("consumer group reelscope-worker: 2 records waiting")
    assert other.status_code == 404


def test_a_partition_the_worker_lost_drops_its_lag_series() -> None:
    """After a rebalance another worker reports that partition: this one must not keep the
    lag it last saw there (a stale series would hold the lag-growing alert up)."""
    health, other = Health(stall_s=60), TopicPartition("reelscope.brand.checks.v1", 5)
    health.observe("lag-test", {TP: 10, other: 3}, {TP: 15, other: 9})
    lag = {"group": "lag-test", "topic": other.topic, "partition": "5"}
    assert REGISTRY.get_sample_value("reelscope_consumer_lag", lag) == 6
    health.observe("lag-test", {TP: 10}, {TP: 15})
    assert REGISTRY.get_sample_value("reelscope_consumer_lag", lag) is None
    assert (
        REGISTRY.get_sample_value(
            "reelscope_consumer_lag", lag | {"topic": TP.topic, "partition": str(TP.partition)}
        )
        == 5
    )
