"""Renders and scans wait on threads of their own: with those threads taken, lake reads queue
up to a bound and are then refused (503 busy), while uploads and /readyz answer as before."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from processors.storage import LocalStore
from streams.broker import EmbeddedBroker
from tests.api.conftest import Api, make_settings, running_api, upload


@pytest.fixture(scope="module")
def narrow(broker: EmbeddedBroker, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    root = tmp_path_factory.mktemp("heavy")
    store = LocalStore(root / "bucket")
    settings = make_settings(
        broker.bootstrap, store.url, api={"heavy_threads": 1, "heavy_queue": 1}
    )
    with running_api(settings, store, root / "uploads") as api:
        yield api


def test_scans_beyond_the_bound_are_refused_while_uploads_and_readiness_go_on(
    narrow: Api, image: Path
) -> None:
    heavy = narrow.app.state.runtime.heavy
    release = threading.Event()
    blocker = heavy.executor.submit(release.wait, 60)  # a render that does not end
    try:
        with ThreadPoolExecutor(2) as callers:
            queued = [
                callers.submit(httpx.get, f"{narrow.url}{path}", headers=KEY, timeout=60)
                for path in ("/v1/analytics/compliance", "/v1/media")
            ]
            deadline = time.monotonic() + 10
            while heavy.admitted < 2:
                assert time.monotonic() < deadline, "the scans never reached the heavy threads"
                time.sleep(0.01)
            with narrow.client() as c:
                refused = c.get("/v1/analytics/costs")
                ready = c.get("/readyz")
                accepted = upload(c, image)
            release.set()
            answers = [f.result(timeout=60).status_code for f in queued]
    finally:
        release.set()
        blocker.result(timeout=10)
    assert refused.status_code == 503 and refused.json()["error"]["code"] == "busy"
    assert refused.headers["retry-after"]
    assert ready.status_code == 200
    assert accepted.status_code == 202
    assert answers == [200, 200]


KEY = {"Authorization": "Bearer all-key"}
