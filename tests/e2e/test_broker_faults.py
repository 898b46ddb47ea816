"""The broker misbehaves under a running stack: it refuses writes, or it restarts.

Refused writes: a broker of the test's own sits behind `tests.kafka_faults.KafkaFaultProxy`
and advertises the proxy, so every connection of the worker and the API goes through it. While
the window is open every Produce is answered with UNKNOWN_SERVER_ERROR (not retriable, so
each send of the worker fails at once instead of waiting in the client's retries). The
worker must acknowledge no input whose output the broker has not taken, survive a kill -9 in
the middle of the window, and finish every media once after it. `REELSCOPE_REFUSE_WRITES_S`
sets the window (15 s in the suite, 30 s under `make chaos`);
`REELSCOPE_REFUSE_WRITES_MODE=disconnect` cuts connections instead.

Restarts: Tansu on the S3 engine (a bucket on the session's moto server), so its topics and
committed offsets survive; it is stopped and started again on the same port twice in the
suite (a short outage, then one long enough for 503s), ten times under `make chaos`
(`REELSCOPE_BROKER_RESTARTS`) while the worker and the API keep running. Both must
come back by themselves within 60 s, and every upload answered 202 must end with one result.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from processors.config import KafkaSettings
from schemas import topics
from streams.admin import ensure_topics
from streams.broker import EmbeddedBroker, free_port
from tests.e2e.conftest import Deployment
from tests.e2e.helpers import TABLES, committed_offsets, lake_counts, topic_events, upload
from tests.kafka_faults import KafkaFaultProxy, Mode

pytestmark = pytest.mark.slow

GROUP = KafkaSettings().consumer_group  # the worker's consumer group by default
WORKER_OUTPUTS = (
    topics.BRAND_CHECKS,
    topics.MEDIA_ANALYSES,
    topics.MEDIA_RESULTS,
    topics.DEADLETTER,
)
WINDOW_S = float(os.environ.get("REELSCOPE_REFUSE_WRITES_S", "15"))  # make chaos: 30
# "disconnect" cuts the connection instead: faust's producer then retries each batch for up to
# its 20 min request timeout, so sends wait rather than fail (the older code survives that)
REFUSAL: Mode = (
    "disconnect" if os.environ.get("REELSCOPE_REFUSE_WRITES_MODE") == "disconnect" else "error"
)
KILL_AT_S = WINDOW_S / 3  # earliest kill: the worker has taken the inputs and is waiting
RESTARTS = int(os.environ.get("REELSCOPE_BROKER_RESTARTS", "2"))  # make chaos: 10
# seconds the broker stays down, round after round: a short outage the API rides out (its
# publish waits up to 10 s for the ack), and one longer, which it must answer with 503
OUTAGES_S = (3.0, 12.0, 3.0)
API_PUBLISH_TIMEOUT_S = 10.0  # api.publisher.Publisher's default timeout_s
RECOVER_S = 60.0
PARTITIONS = 3  # fewer partitions: less for faust to assign and for Tansu's S3 engine to list


def statuses(stack: Deployment, ids: list[str]) -> dict[str, str]:
    out = {}
    for media_id in ids:
        r = httpx.get(f"{stack.url}/v1/media/{media_id}", timeout=10)
        r.raise_for_status()
        out[media_id] = r.json()["status"]
    return out


def wait_all_final(stack: Deployment, ids: list[str], timeout: float) -> dict[str, str]:
    """Every media's status once none is `processing`, or the statuses at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        found = statuses(stack, ids)
        if "processing" not in found.values() or time.monotonic() > deadline:
            return found
        time.sleep(0.5)


def input_commits(bootstrap: str) -> dict[tuple[str, int], int]:
    """The worker group's committed offsets on the input topics (absent: nothing committed)."""
    got = committed_offsets(bootstrap, GROUP)
    return {tp: offset for tp, offset in got.items() if tp[0] in topics.INPUT_TOPICS}


def worker_refusals(proxy: KafkaFaultProxy) -> int:
    """Produce requests refused to the worker: faust's producer, client id `faust-<version>`."""
    by_client = proxy.stats.refused_by_client
    return sum(n for client, n in by_client.items() if client.startswith("faust-"))


def wait_commits(bootstrap: str, total: int, timeout: float) -> int:
    """Poll until the group's input commits add up to `total` messages; return the sum."""
    deadline = time.monotonic() + timeout
    while True:
        done = sum(max(o, 0) for o in input_commits(bootstrap).values())
        if done >= total or time.monotonic() > deadline:
            return done
        time.sleep(0.5)


def expected_status(sample: str) -> str:
    return "failed" if sample == "corrupt" else "done"


def log_tail(path: Path, n: int = 4000) -> str:
    return path.read_text(errors="replace")[-n:] if path.exists() else "(no log)"


# --- A: the broker refuses writes (15 s; 30 s under make chaos) ------------------------------


@pytest.fixture
def refusing_stack(tmp_path: Path) -> Iterator[tuple[Deployment, KafkaFaultProxy]]:
    """Worker and API whose every broker connection goes through a fault proxy.

    The reconciler is off: it would re-emit a lost media (after its 300 s grace, so not within
    this test anyway), and what is checked here is that the worker loses none.
    """
    (tmp_path / "bucket").mkdir()
    (tmp_path / "logs").mkdir()
    broker_port = free_port()
    with (
        KafkaFaultProxy(broker_port, mode=REFUSAL) as proxy,
        EmbeddedBroker(
            port=broker_port, advertised_port=proxy.port, log=tmp_path / "logs/tansu.log"
        ),
    ):
        ensure_topics(proxy.bootstrap, partitions=PARTITIONS)
        deployment = Deployment(
            proxy.bootstrap,
            f"file://{tmp_path / 'bucket'}",
            tmp_path / "logs",
            extra_env={
                "REELSCOPE_KAFKA__PARTITIONS": str(PARTITIONS),
                "REELSCOPE_RECONCILE__ENABLED": "false",
            },
        )
        try:
            deployment.start().wait_assigned()  # the window must not open on a worker not yet in
            yield deployment, proxy
        finally:
            deployment.stop()


def test_refused_writes_ack_no_input_without_its_output(
    refusing_stack: tuple[Deployment, KafkaFaultProxy], samples: dict[str, Path]
) -> None:
    """Issue test 7: writes refused for a while, the worker killed meanwhile; nothing lost."""
    stack, proxy = refusing_stack
    worker_log = stack.logs / "worker.log"
    names = ["image", "image", "logo", "on_brand_vertical", "corrupt", "image"]

    # the window opens on the worker's outputs first, so that every upload still gets its
    # 202 but no output of any of them can reach the broker before the window closes
    opened = time.monotonic()
    proxy.refuse_produce(topics=WORKER_OUTPUTS)
    ids = [upload(stack, samples[name]) for name in names]
    proxy.refuse_produce()  # now every write, the API's included
    with samples["image"].open("rb") as fh:
        r = httpx.post(f"{stack.url}/v1/media", files={"file": ("x.jpg", fh)}, timeout=30)
    assert r.status_code == 503 and r.headers.get("retry-after"), (r.status_code, r.text)

    commits: list[dict[tuple[str, int], int]] = []

    def watch_until(t: float) -> None:
        while time.monotonic() < opened + t:
            commits.append(input_commits(proxy.bootstrap))
            time.sleep(1.0)

    watch_until(KILL_AT_S)
    latest = opened + 2 * WINDOW_S / 3  # a slow start (a busy machine) gets longer, not a pass
    while not worker_refusals(proxy) and time.monotonic() < latest:
        commits.append(input_commits(proxy.bootstrap))
        time.sleep(0.5)
    killed_at = time.monotonic() - opened
    refused_at_kill = worker_refusals(proxy)
    assert refused_at_kill, (
        "the worker published nothing before the kill: the kill proves nothing\n"
        + log_tail(worker_log)
    )
    stack.kill_worker()
    stack.start_worker()
    watch_until(WINDOW_S)
    # the window stays open until the restarted worker has been refused too (a slow start)
    latest = time.monotonic() + 30
    while worker_refusals(proxy) == refused_at_kill and time.monotonic() < latest:
        commits.append(input_commits(proxy.bootstrap))
        time.sleep(0.5)
    during = statuses(stack, ids)
    proxy.allow_produce()
    closed = time.monotonic()
    refused_after_kill = worker_refusals(proxy) - refused_at_kill
    print(
        f"\nwindow {closed - opened:.1f} s ({REFUSAL}): produce requests refused by client "
        f"{dict(proxy.stats.refused_by_client)}, the worker's {refused_after_kill} after the "
        f"kill at {killed_at:.0f} s"
    )
    assert set(during.values()) == {"processing"}, f"a result got past the window: {during}"

    finals = wait_all_final(stack, ids, timeout=60)
    recovered = time.monotonic() - closed
    print(f"every media final {recovered:.1f} s after the window closed")
    # no output could be published in the window, so no input may have been committed in it;
    # and every media must finish after it (a worker can also lose an input it acked in
    # memory without committing it yet: the restarted worker then never reads it again)
    advanced = {tp: o for c in commits for tp, o in c.items() if o > 0}
    lost = sorted(m for m, s in finals.items() if s == "processing")
    problems = [f"inputs committed while their outputs were refused: {advanced}"] * bool(advanced)
    problems += [f"{len(lost)} of {len(ids)} media never finished: {lost}"] * bool(lost)
    assert not problems, "\n".join(problems) + "\n" + log_tail(worker_log)
    assert refused_after_kill > 0, "the restarted worker never tried to publish in the window"
    assert [finals[m] for m in ids] == [expected_status(name) for name in names]

    # the same probe sees the commits once the outputs are in (so it could see them before)
    assert wait_commits(proxy.bootstrap, len(ids), 20) == len(ids)

    events = asyncio.run(topic_events(proxy.bootstrap, topics.MEDIA_RESULTS, set(ids), 30))
    per_media = Counter(e["media_id"] for e in events)
    assert per_media == dict.fromkeys(ids, 1), f"results per media: {per_media}"
    assert lake_counts(stack, ids, 30) == dict.fromkeys(TABLES, len(ids))
    assert stack.worker is not None and stack.worker.poll() is None, log_tail(worker_log)


# --- B: the broker restarts three times, its data kept in S3 ---------------------------------


@pytest.fixture
def restarting_stack(
    s3_endpoint: str, tmp_path: Path
) -> Iterator[tuple[Deployment, EmbeddedBroker]]:
    """Worker and API on a Tansu whose storage is a bucket of its own on the moto server."""
    (tmp_path / "bucket").mkdir()
    (tmp_path / "logs").mkdir()
    bucket = f"tansu-{uuid.uuid4().hex[:8]}"
    boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1").create_bucket(
        Bucket=bucket
    )
    env = {
        "AWS_ENDPOINT": s3_endpoint,
        "AWS_ALLOW_HTTP": "true",
        "AWS_ACCESS_KEY_ID": os.environ["AWS_ACCESS_KEY_ID"],  # moto's dummies (tests/conftest)
        "AWS_SECRET_ACCESS_KEY": os.environ["AWS_SECRET_ACCESS_KEY"],
        "AWS_DEFAULT_REGION": os.environ["AWS_DEFAULT_REGION"],
    }
    broker = EmbeddedBroker(storage=f"s3://{bucket}/", env=env, log=tmp_path / "logs/tansu.log")
    with broker:
        ensure_topics(broker.bootstrap, partitions=PARTITIONS)
        deployment = Deployment(
            broker.bootstrap,
            f"file://{tmp_path / 'bucket'}",
            tmp_path / "logs",
            extra_env={"REELSCOPE_KAFKA__PARTITIONS": str(PARTITIONS)},
        )
        try:
            yield deployment.start(), broker
        finally:
            deployment.stop()


class Client:
    """Uploads as a careful client does: one Idempotency-Key per media, retried until 202."""

    def __init__(self, stack: Deployment) -> None:
        self.stack = stack
        self.accepted: dict[str, str] = {}  # media id: the status it must end with
        self.answered: list[tuple[float, float]] = []  # (sent, answered) of every 202
        self.refused = Counter[str]()  # "503", or the transport error's name
        self.lock = threading.Lock()
        self.stopping = threading.Event()  # set: give up retrying (the test is over)

    def upload(self, path: Path, deadline: float) -> str:
        key = str(uuid.uuid4())
        while True:
            sent = time.monotonic()
            try:
                with path.open("rb") as fh:
                    r = httpx.post(
                        f"{self.stack.url}/v1/media",
                        files={"file": (path.name, fh)},
                        headers={"Idempotency-Key": key},
                        timeout=30,
                    )
            except httpx.TransportError as e:
                outcome = type(e).__name__
            else:
                if r.status_code == 202:
                    media_id: str = r.json()["media_id"]
                    with self.lock:
                        self.accepted[media_id] = expected_status(path.stem)
                        self.answered.append((sent, time.monotonic()))
                    return media_id
                assert r.status_code == 503, (r.status_code, r.text)
                assert r.headers.get("retry-after"), r.headers
                outcome = "503"
            with self.lock:
                self.refused[outcome] += 1
            if time.monotonic() > deadline or self.stopping.is_set():
                raise AssertionError(f"no 202 for {path.name}: {dict(self.refused)}")
            time.sleep(0.5)  # sooner than Retry-After: the test wants the first moment it works


async def read_results(bootstrap: str, wanted: set[str], timeout: float) -> list[dict[str, Any]]:
    """Results of `wanted` from the start of the topic, until all are in and 3 s pass quietly.

    Not `helpers.topic_events`: that stops at the end offsets, and Tansu 0.6.0's S3 engine
    answers ListOffsets(latest) with a stale offset (1 after twelve records, here).
    """
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        await consumer.topics()  # fetches the metadata
        parts = [
            TopicPartition(topics.MEDIA_RESULTS, p)
            for p in consumer.partitions_for_topic(topics.MEDIA_RESULTS) or ()
        ]
        consumer.assign(parts)
        await consumer.seek_to_beginning(*parts)
        found: list[dict[str, Any]] = []
        deadline = time.monotonic() + timeout
        quiet_since = time.monotonic()
        while time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=500)
            records = [r for rs in batch.values() for r in rs]
            if records:
                quiet_since = time.monotonic()
            found += [
                json.loads(r.value)
                for r in records
                if r.key is not None and r.value is not None and r.key.decode() in wanted
            ]
            seen = {e["media_id"] for e in found}
            if seen >= wanted and time.monotonic() - quiet_since > 3:
                break
        return found
    finally:
        await consumer.stop()


def wait_ready(stack: Deployment, timeout: float) -> float:
    """Seconds until /readyz answers 200."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        try:
            if httpx.get(f"{stack.url}/readyz", timeout=5).status_code == 200:
                return time.monotonic() - started
        except httpx.TransportError:
            pass
        time.sleep(0.25)
    raise AssertionError(f"/readyz not 200 within {timeout:.0f} s")


def test_broker_restarts_workers_and_api_resume_by_themselves(
    restarting_stack: tuple[Deployment, EmbeddedBroker], samples: dict[str, Path]
) -> None:
    """Issue test 5: three restarts of a persistent broker; every 202 upload has one result."""
    stack, broker = restarting_stack
    client = Client(stack)
    outages: list[tuple[float, float]] = []  # (broker gone, broker starting)
    stop = client.stopping
    background_errors: list[BaseException] = []

    def keep_uploading() -> None:
        """A producer that never stops: images and corrupt files, across every outage."""
        names = ["image", "corrupt"]
        try:
            for i in itertools.count():
                if stop.is_set():
                    return
                client.upload(samples[names[i % 2]], time.monotonic() + 2 * RECOVER_S)
                stop.wait(1.0)
        except BaseException as e:  # reported by the test thread
            background_errors.append(e)

    first = client.upload(samples["image"], time.monotonic() + 30)
    assert wait_all_final(stack, [first], 60) == {first: "done"}
    uploader = threading.Thread(target=keep_uploading, name="uploader", daemon=True)
    uploader.start()
    recoveries = []
    try:
        for round_ in range(1, RESTARTS + 1):
            time.sleep(2.0)  # uploads flowing
            outage_s = OUTAGES_S[(round_ - 1) % len(OUTAGES_S)]
            refused_before = client.refused.total()
            broker.stop()
            gone = time.monotonic()
            time.sleep(outage_s)
            outages.append((gone, time.monotonic()))
            broker.start()
            up = time.monotonic()
            ready_s = wait_ready(stack, RECOVER_S)
            probe = client.upload(samples["image"], up + RECOVER_S)
            final = wait_all_final(stack, [probe], max(up + RECOVER_S - time.monotonic(), 1))
            result_s = time.monotonic() - up
            recoveries.append(result_s)
            refused = client.refused.total() - refused_before
            print(
                f"\nrestart {round_} after {outage_s:.0f} s down: /readyz after {ready_s:.1f} s, "
                f"a new upload's result after {result_s:.1f} s; {refused} upload attempts "
                "refused meanwhile"
            )
            if outage_s > API_PUBLISH_TIMEOUT_S + 1:
                assert refused, "the API answered no 503 while the broker was down for long"
            assert final == {probe: "done"}, (
                f"restart {round_}: no result within {RECOVER_S:.0f} s\n"
                + log_tail(stack.logs / "worker.log")
            )
    finally:
        stop.set()
        uploader.join(timeout=2 * RECOVER_S)
    assert not background_errors, background_errors
    # 202 means the broker acknowledged the event: never for a request made and answered
    # while the broker was not running
    impossible = [(a, o) for a in client.answered for o in outages if o[0] < a[0] < a[1] < o[1]]
    assert not impossible, f"202 answered while the broker was down: {impossible}"
    print(
        f"worst time to recover {max(recoveries):.1f} s; uploads answered 202: "
        f"{len(client.accepted)}, refused: {dict(client.refused)}"
    )

    ids = list(client.accepted)
    finals = wait_all_final(stack, ids, 60)
    assert finals == client.accepted, log_tail(stack.logs / "worker.log")
    events = asyncio.run(read_results(broker.bootstrap, set(ids), 60))
    per_media = Counter(e["media_id"] for e in events)
    doubled = {m: n for m, n in per_media.items() if n > 1}
    missing = set(ids) - set(per_media)
    assert not missing and not doubled, f"missing {missing}, doubled {doubled}"
    assert lake_counts(stack, ids, 30) == dict.fromkeys(TABLES, len(ids))
    for proc in (stack.worker, stack.api):
        assert proc is not None and proc.poll() is None, "a process died on the way"
