"""A real API over real HTTP: uvicorn on a loopback port in a thread, the real broker and store."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import pytest
import uvicorn
from aiokafka import AIOKafkaConsumer, TopicPartition
from fastapi import FastAPI

from api.app import create_app
from api.results import partitions_of
from api.settings import Settings, hash_key
from processors.storage import LocalStore, Store
from processors.synthetic.samples import make_image, make_logo, make_video
from streams.broker import EmbeddedBroker, free_port

KEYS: dict[str, list[str]] = {
    "all-key": ["media:write", "results:read", "admin"],
    "writer-key": ["media:write"],
    "reader-key": ["results:read"],
    "admin-key": ["admin"],
    "other-key": ["results:read"],
}
# keys without admin must name their brands; the writer's one brand is the default of its uploads
BRANDS: dict[str, list[str]] = {
    "writer-key": ["scoped"],
    "reader-key": ["scoped", "acme", "other"],
    "other-key": ["other"],
}
MAX_UPLOAD = 1024 * 1024


def make_settings(bootstrap: str, store_url: str, **overrides: Any) -> Settings:
    """Settings for a test app: the given broker and store, the KEYS, a 1 MiB upload cap."""
    keys = [
        {"name": k.split("-")[0], "sha256": hash_key(k), "scopes": s, "brands": BRANDS.get(k, [])}
        for k, s in KEYS.items()
    ]
    values: dict[str, Any] = {
        "kafka": {"bootstrap": bootstrap},
        "store": {"url": store_url},
        "limits": {"max_upload_bytes": MAX_UPLOAD},
        "api": {"keys": keys, "recent_results": 100, "not_found_floor_s": 0},
        "producer_id": "reelscope-api-test",
        "log_level": "WARNING",
    }
    for name, value in overrides.items():  # merge sections, so overrides keep the keys
        if isinstance(value, dict) and isinstance(values.get(name), dict):
            values[name] = {**values[name], **value}
        else:
            values[name] = value
    return Settings.model_validate(values)


@dataclass
class Api:
    """A running API: where it listens, its store, upload folder and app."""

    url: str
    store: Store
    upload_dir: Path
    app: FastAPI
    settings: Settings

    def client(self, key: str | None = "all-key") -> httpx.Client:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=20)

    def wait_follower(self, timeout: float = 10) -> None:
        """Block until the results follower is positioned at the end of the topic."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            follower = getattr(self.app.state, "follower", None)
            if follower is not None and follower.ready.is_set():
                return
            time.sleep(0.05)
        raise AssertionError("results follower never became ready")


@contextmanager
def serve(app: FastAPI, timeout: float = 15) -> Iterator[str]:
    """Run `app` with uvicorn on a free loopback port in a background thread."""
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name=f"uvicorn-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"the API did not start on port {port}")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout)


@contextmanager
def running_api(settings: Settings, store: Store, upload_dir: Path, **parts: Any) -> Iterator[Api]:
    app = create_app(settings, store=store, upload_dir=upload_dir, configure_logging=False, **parts)
    with serve(app) as url:
        yield Api(url, store, upload_dir, app, settings)


@pytest.fixture(scope="module")
def api(broker: EmbeddedBroker, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    """One API per test module on a local-folder bucket and the session broker, with the
    writer key's brand."""
    root = tmp_path_factory.mktemp("api")
    store = LocalStore(root / "bucket")
    settings = make_settings(broker.bootstrap, store.url)
    with running_api(settings, store, root / "uploads") as running:
        with running.client() as client:
            create_brand(client, "scoped", name="Scoped")
        yield running


@pytest.fixture(scope="module")
def media_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("media")


@pytest.fixture(scope="module")
def video(media_dir: Path) -> Path:
    return make_video(media_dir / "clip.mp4", width=320, height=240, seconds=2, cuts=1, audio=False)


@pytest.fixture(scope="module")
def image(media_dir: Path) -> Path:
    return make_image(media_dir / "still.png", width=160, height=120, fmt="png")


@pytest.fixture(scope="module")
def logo(media_dir: Path) -> Path:
    return make_logo(media_dir / "logo.png", size=64)


async def events_for(bootstrap: str, topic: str, key: str) -> list[dict[str, Any]]:
    """Every record on `topic` (beginning to current end) whose key is `key`, decoded."""
    import json

    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False
    )
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in sorted(await partitions_of(consumer, topic))]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        found: list[dict[str, Any]] = []
        pending = {tp for tp in tps if ends[tp] > 0}
        while pending:
            batches = await consumer.getmany(*pending, timeout_ms=1000)
            for records in batches.values():
                found += [json.loads(r.value) for r in records if r.key == key.encode()]
            pending = {tp for tp in pending if await consumer.position(tp) < ends[tp]}
        return found
    finally:
        await consumer.stop()


def upload(
    client: httpx.Client,
    path: Path,
    *,
    data: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
    filename: str | None = None,
) -> httpx.Response:
    with path.open("rb") as fh:
        files = {"file": (filename or path.name, fh, "application/octet-stream")}
        return client.post("/v1/media", files=files, data=data or {}, headers=headers or {})


def media_id_of(response: httpx.Response) -> UUID:
    assert response.status_code == 202, response.text
    return UUID(response.json()["media_id"])


def create_brand(client: httpx.Client, brand_id: str, name: str = "Acme") -> dict[str, Any]:
    response = client.put(
        f"/v1/brands/{brand_id}",
        json={
            "name": name,
            "palette": [{"hex": "#E4002B", "role": "primary"}],
        },
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def closed_port_bootstrap() -> str:
    return f"127.0.0.1:{free_port()}"


@pytest.fixture
def spare_broker() -> Iterator[EmbeddedBroker]:
    """A broker of this test's own, so it can be stopped mid-test."""
    from streams.admin import ensure_topics

    with EmbeddedBroker() as b:
        ensure_topics(b.bootstrap, partitions=1)
        yield b
