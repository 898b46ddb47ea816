"""The logs through the real stack (S3 bucket, Gemini analyzer against the fake server, API
keys, DEBUG level): one trace id follows an upload from its HTTP request through both stages to
its result message; every worker line about the media names it, its input event and the stage;
and no secret (API key, Gemini key, S3 secret) appears in any log line or dead letter, through
good uploads, refused ones, a Gemini fault and a malformed event."""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer

from processors.analyzers.gemini.fake_server import Behaviour, FakeGemini
from processors.apikeys import hash_key
from processors.logs import parse_traceparent
from processors.storage.s3 import S3Store
from processors.synthetic.samples import make_image
from schemas import topics
from streams.admin import ensure_topics
from streams.broker import EmbeddedBroker
from tests.e2e.conftest import Deployment
from tests.helpers import partition_records

pytestmark = pytest.mark.slow

API_KEY = "rsk-" + secrets.token_hex(16)
GEMINI_KEY = "AIza" + secrets.token_hex(16)
S3_SECRET = "s3-" + secrets.token_hex(16)
TRACE = secrets.token_hex(16)
AUTH = {"x-api-key": API_KEY}


@pytest.fixture(scope="module")
def gemini() -> Iterator[FakeGemini]:
    fake = FakeGemini(api_key=GEMINI_KEY).start()
    yield fake
    fake.stop()


@pytest.fixture(scope="module")
def stack(
    s3_endpoint: str, gemini: FakeGemini, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Deployment]:
    bucket = S3Store(f"logs-{secrets.token_hex(6)}", endpoint_url=s3_endpoint)
    bucket.client.create_bucket(Bucket=bucket.bucket)
    key = {
        "name": "producer",
        "sha256": hash_key(API_KEY),
        "scopes": ["admin", "media:write", "results:read"],
    }
    with EmbeddedBroker() as broker:
        ensure_topics(broker.bootstrap, partitions=1)
        deployment = Deployment(
            broker.bootstrap,
            f"s3://{bucket.bucket}",
            tmp_path_factory.mktemp("logs"),
            extra_env={
                "REELSCOPE_STORE__ENDPOINT_URL": s3_endpoint,
                "AWS_SECRET_ACCESS_KEY": S3_SECRET,
                "REELSCOPE_ANALYZER__NAME": "gemini",
                "REELSCOPE_GEMINI__API_KEY": GEMINI_KEY,
                "REELSCOPE_GEMINI__BASE_URL": gemini.url,
                "REELSCOPE_GEMINI__BACKOFF_BASE_S": "0.05",
                "REELSCOPE_API__KEYS": json.dumps([key]),
                "REELSCOPE_LOG_LEVEL": "DEBUG",
            },
        )
        try:
            yield deployment.start()
        finally:
            deployment.stop()


def post(stack: Deployment, path: Path, headers: dict[str, str]) -> httpx.Response:
    with path.open("rb") as fh:
        files = {"file": (path.name, fh)}
        return httpx.post(f"{stack.url}/v1/media", files=files, headers=headers, timeout=30)


def final(stack: Deployment, media_id: str) -> dict[str, Any]:
    for _ in range(240):
        r = httpx.get(f"{stack.url}/v1/media/{media_id}", headers=AUTH, timeout=5)
        assert r.status_code == 200, r.text
        if r.json()["status"] != "processing":
            return dict(r.json())
        asyncio.run(asyncio.sleep(0.25))
    raise AssertionError(f"{media_id} still processing")


def lines(path: Path) -> list[dict[str, Any]]:
    """The JSON lines of a process's log (anything else it printed is kept as text)."""
    found = []
    for raw in path.read_text(errors="replace").splitlines():
        start = raw.find("{")
        try:
            found.append(json.loads(raw[start:]) if start >= 0 else {"text": raw})
        except json.JSONDecodeError:
            found.append({"text": raw})
    return found


def worker_lines(stack: Deployment, media_id: str, until_stage: str) -> list[dict[str, Any]]:
    """The worker's lines about a media, once one of `until_stage` is among them (10 s at most:
    the stage logs after the media's status is final)."""
    deadline = time.monotonic() + 10
    while True:
        about = [x for x in lines(stack.logs / "worker.log") if x.get("media_id") == media_id]
        if any(x.get("stage") == until_stage for x in about) or time.monotonic() > deadline:
            return about
        time.sleep(0.2)


async def send_malformed(bootstrap: str) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait(topics.MEDIA_UPLOADED, b'{"schema": "nope"}', key=b"bad")
    finally:
        await producer.stop()


@pytest.fixture(scope="module")
def traced(stack: Deployment, gemini: FakeGemini, tmp_path_factory: pytest.TempPathFactory) -> str:
    """One traced upload done (its first Gemini call failing once), after refused requests
    and a malformed event: the media id."""
    folder = tmp_path_factory.mktemp("media")
    image = make_image(folder / "image.jpg", width=320, height=320)
    text = folder / "notes.jpg"
    text.write_text("not a picture at all")
    assert post(stack, image, {"x-api-key": API_KEY[:-1] + "x"}).status_code == 401
    assert post(stack, text, AUTH).status_code == 415
    asyncio.run(send_malformed(stack.bootstrap))
    gemini.script(Behaviour.error(500))
    r = post(stack, image, AUTH | {"traceparent": f"00-{TRACE}-{secrets.token_hex(8)}-01"})
    assert r.status_code == 202, r.text
    assert r.headers["x-trace-id"] == TRACE
    media_id: str = r.json()["media_id"]
    assert final(stack, media_id)["status"] == "done"
    return media_id


def test_one_trace_follows_the_upload_to_its_result(stack: Deployment, traced: str) -> None:
    api = [line for line in lines(stack.logs / "api.log") if line.get("trace_id") == TRACE]
    assert {"media_accepted", "request"} <= {line["event"] for line in api}
    accepted = next(line for line in api if line["event"] == "media_accepted")
    assert accepted["media_id"] == traced and accepted["stage"] == "intake"
    about = worker_lines(stack, traced, until_stage="gate")  # the gate decides after `done`
    assert {line["stage"] for line in about} == {"brand_check", "analysis", "result", "gate"}
    for line in about:
        assert line["trace_id"] == TRACE and line["event_id"] == accepted["event_id"], line
    results = asyncio.run(partition_records(stack.bootstrap, topics.MEDIA_RESULTS))
    mine = [r for r in results if r.key == traced.encode()]
    assert len(mine) == 1
    assert parse_traceparent(dict(mine[0].headers).get("traceparent")) == TRACE


def test_worker_lines_without_a_traceparent_get_the_event_id_as_trace(
    stack: Deployment, traced: str, tmp_path: Path
) -> None:
    image = make_image(tmp_path / "plain.jpg", width=256, height=256)
    r = post(stack, image, AUTH)
    assert r.status_code == 202
    media_id = r.json()["media_id"]
    assert final(stack, media_id)["status"] == "done"
    trace = r.headers["x-trace-id"]
    assert len(trace) == 32 and trace != TRACE, "the API made a trace of its own"
    about = [line for line in lines(stack.logs / "worker.log") if line.get("media_id") == media_id]
    assert about and {line["trace_id"] for line in about} == {trace}


def test_no_secret_reaches_a_log_or_a_dead_letter(stack: Deployment, traced: str) -> None:
    letters = asyncio.run(partition_records(stack.bootstrap, topics.DEADLETTER))
    assert letters, "the malformed event was dead-lettered"
    texts = {
        "api.log": (stack.logs / "api.log").read_text(errors="replace"),
        "worker.log": (stack.logs / "worker.log").read_text(errors="replace"),
        "dead letters": "\n".join(r.value.decode(errors="replace") for r in letters),
    }
    assert "gemini_retry generate_content attempt 1" in texts["worker.log"], "the fault was logged"
    for where, text in texts.items():
        for name, secret in (("API", API_KEY), ("Gemini", GEMINI_KEY), ("S3", S3_SECRET)):
            assert secret not in text, f"the {name} secret is in the {where}"
            assert secret[4:20] not in text, f"part of the {name} secret is in the {where}"
