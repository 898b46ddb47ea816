"""Session-wide real services: the Tansu broker and a moto S3 endpoint, started once."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from processors.analyzers.gemini.fake_server import FakeGemini
from processors.storage import S3Store
from processors.synthetic import samples
from streams.admin import ensure_topics
from streams.broker import EmbeddedBroker, free_port
from tests.helpers import make_branded_clip


@pytest.fixture(scope="session")
def broker() -> Iterator[EmbeddedBroker]:
    """A real Kafka-compatible broker (Tansu, memory storage) with the product's topics."""
    with EmbeddedBroker() as b:
        ensure_topics(b.bootstrap, partitions=6)
        yield b


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """A real S3 HTTP endpoint (moto server) on loopback; credentials are dummies."""
    from moto.server import ThreadedMotoServer

    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def s3_store(s3_endpoint: str) -> S3Store:
    """A fresh, empty bucket for one test."""
    store = S3Store(f"test-{uuid.uuid4().hex[:12]}", endpoint_url=s3_endpoint)
    store.client.create_bucket(Bucket=store.bucket)
    return store


@pytest.fixture
def topic_suffix() -> str:
    """A unique suffix so tests that need their own topics or groups never collide."""
    return uuid.uuid4().hex[:8]


@pytest.fixture(scope="session")
def branded_clip(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A 2 s 360x640 clip with the sample logo at a known place, and the logo; made once."""
    folder = tmp_path_factory.mktemp("branded_clip")
    logo = samples.make_logo(folder / "logo.png")
    return make_branded_clip(folder / "clip.mp4", logo, audio=False), logo


@pytest.fixture(scope="module")
def gemini() -> Iterator[FakeGemini]:
    """A local server speaking Gemini's REST protocol, one per test module (a module that needs
    another key, latency or script defines its own)."""
    fake = FakeGemini().start()
    yield fake
    fake.stop()
