"""Per-key quotas over real HTTP: rate with burst, uploads at once, bytes per UTC day.

Over a limit: 429 JSON with Retry-After, other keys unaffected, and nothing stored or published
for the refused request (so no analysis and no Gemini spend).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from api.settings import hash_key
from processors.keys import EVENT_SUFFIX, LEDGER_PREFIX
from processors.storage import LocalStore
from streams.broker import EmbeddedBroker
from tests.api.conftest import Api, create_brand, make_settings, running_api, upload

RW = ["media:write", "results:read"]
QUOTA_KEYS = {
    "limited-key": {"rate_per_s": 2, "burst": 3},
    "steady-key": {},
    "one-at-a-time-key": {"concurrent_uploads": 1, "rate_per_s": 100, "burst": 100},
    "small-day-key": {"rate_per_s": 100, "burst": 100},  # bytes_per_day set from the image
    "single-shot-key": {"rate_per_s": 0.01, "burst": 1},
}


@pytest.fixture(scope="module")
def quota_api(
    broker: EmbeddedBroker, tmp_path_factory: pytest.TempPathFactory, image: Path
) -> Iterator[Api]:
    root = tmp_path_factory.mktemp("quotas")
    store = LocalStore(root / "bucket")
    keys = [
        {
            "name": k.removesuffix("-key"),
            "sha256": hash_key(k),
            "scopes": RW,
            "brands": [k.removesuffix("-key")],
            **q,
        }
        for k, q in QUOTA_KEYS.items()
    ]
    keys[3]["bytes_per_day"] = image.stat().st_size * 3 // 2  # one upload fits, two do not
    keys.append({"name": "root", "sha256": hash_key("root-key"), "scopes": ["admin"]})
    settings = make_settings(broker.bootstrap, store.url, api={"keys": keys})
    with running_api(settings, store, root / "uploads") as api:
        with api.client("root-key") as c:
            for k in QUOTA_KEYS:
                create_brand(c, k.removesuffix("-key"))
        yield api


def stored_events(api: Api) -> int:
    return sum(1 for k in api.store.list(LEDGER_PREFIX) if k.endswith(EVENT_SUFFIX))


def assert_429(response: httpx.Response) -> int:
    assert response.status_code == 429, response.text
    error = response.json()["error"]
    assert error["code"] == "rate_limited" and error["hint"]
    retry_after = int(response.headers["retry-after"])
    assert retry_after >= 1
    return retry_after


def test_over_the_rate_is_429_with_retry_after_and_other_keys_are_unaffected(
    quota_api: Api,
) -> None:
    with quota_api.client("limited-key") as limited, quota_api.client("steady-key") as steady:
        answers = [limited.get("/v1/media").status_code for _ in range(3)]
        refused = limited.get("/v1/media")
        other = steady.get("/v1/media")
        retry_after = assert_429(refused)
        assert "2 requests/s (burst 3)" in refused.json()["error"]["message"]
        time.sleep(retry_after)
        again = limited.get("/v1/media")
    assert answers == [200, 200, 200]
    assert other.status_code == 200
    assert again.status_code == 200


def test_a_refused_upload_stores_and_publishes_nothing(quota_api: Api, image: Path) -> None:
    before = stored_events(quota_api)
    with quota_api.client("single-shot-key") as c:
        first = upload(c, image)
        second = upload(c, image)
    assert first.status_code == 202
    assert_429(second)
    assert stored_events(quota_api) == before + 1
    assert not list(quota_api.upload_dir.glob("*")), "a refused upload left its temp file"


def slow_body(image: Path, boundary: str, started: threading.Event) -> Iterator[bytes]:
    """A multipart body that takes ~1.5 s to send: an upload in flight."""
    yield (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="s.png"\r\n'
        "Content-Type: image/png\r\n\r\n"
    ).encode()
    data = image.read_bytes()
    started.set()
    for i in range(0, len(data), max(1, len(data) // 15)):
        time.sleep(0.1)
        yield data[i : i + max(1, len(data) // 15)]
    yield f"\r\n--{boundary}--\r\n".encode()


def test_uploads_at_once_are_bounded_per_key(quota_api: Api, image: Path) -> None:
    boundary = "quota-boundary"
    started = threading.Event()
    answers: list[int] = []

    def slow_upload() -> None:
        with quota_api.client("one-at-a-time-key") as c:
            response = c.post(
                "/v1/media",
                content=slow_body(image, boundary, started),
                headers={"content-type": f"multipart/form-data; boundary={boundary}"},
            )
            answers.append(response.status_code)

    thread = threading.Thread(target=slow_upload)
    thread.start()
    assert started.wait(10)
    time.sleep(0.2)
    with quota_api.client("one-at-a-time-key") as c, quota_api.client("steady-key") as other:
        during = upload(c, image)
        other_key = upload(other, image)
        thread.join(30)
        after = upload(c, image)
    assert answers == [202]
    assert "1 uploads in flight" in during.json()["error"]["message"]
    assert_429(during)
    assert other_key.status_code == 202
    assert after.status_code == 202


def test_bytes_per_day_refuse_the_upload_that_would_pass_them(quota_api: Api, image: Path) -> None:
    before = stored_events(quota_api)
    with quota_api.client("small-day-key") as c:
        first = upload(c, image)
        second = upload(c, image)
        status = c.get("/v1/media")
    assert first.status_code == 202
    retry_after = assert_429(second)
    assert 0 < retry_after <= 86_400  # until the next UTC day
    assert "upload bytes for" in second.json()["error"]["message"]
    assert status.status_code == 200, "a spent day still reads"
    assert stored_events(quota_api) == before + 1
