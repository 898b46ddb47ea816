"""GET /v1/media/{id} and GET /v1/media: recent results, the lake, and the bucket ledger."""

from __future__ import annotations

import time
from pathlib import Path
from uuid import UUID, uuid4

import pytest
from aiokafka import AIOKafkaProducer

from processors.synthetic import events as make
from schemas.events import MediaResult
from schemas.ids import uuid7
from schemas.topics import MEDIA_RESULTS
from tests.api.conftest import Api, media_id_of, upload


def result_for(media_id: UUID, brand_id: str | None = None) -> MediaResult:
    check = make.brand_check(
        media_id=media_id,
        source=make.source(brand_id=brand_id),
        checks_version="test-1",
        verdict="warn",
        score=0.7,
    )
    return make.result(check, make.analysis(media_id=media_id, source=check.source))


async def publish_result(bootstrap: str, result: MediaResult, garbage: bool = False) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    key = str(result.media_id).encode()
    try:
        if garbage:  # a record that is not a MediaResult must be skipped, not fatal
            await producer.send_and_wait(MEDIA_RESULTS, b"{not json", key=key)
        await producer.send_and_wait(MEDIA_RESULTS, result.to_bytes(), key=key)
    finally:
        await producer.stop()


def test_unknown_id_is_404_and_malformed_ids_are_422(api: Api) -> None:
    with api.client() as client:
        unknown = client.get(f"/v1/media/{uuid7()}")
        malformed = client.get("/v1/media/not-a-uuid")
        version4 = client.get(f"/v1/media/{uuid4()}")
    assert unknown.status_code == 404
    assert unknown.json()["error"]["code"] == "not_found"
    for response in (malformed, version4):
        assert response.status_code == 422
        error = response.json()["error"]
        assert "UUIDv7" in error["message"]
        assert error["fields"][0]["field"] == "media_id"


def test_accepted_media_is_processing_from_the_ledger(api: Api, image: Path) -> None:
    with api.client() as client:
        media_id = media_id_of(upload(client, image))
        response = client.get(f"/v1/media/{media_id}")
    assert response.status_code == 200
    assert response.json() == {
        "media_id": str(media_id),
        "status": "processing",
        "verdict": None,
        "brand_id": None,
        "brand_check": None,
        "analysis": None,
        "error": None,
        "decision": None,  # the gate has not seen a result yet
    }


async def test_a_media_in_flight_is_answered_without_the_lake(api: Api, image: Path) -> None:
    """Polls of a media this replica accepted and has no result for are answered from memory
    (no lake scan per poll); its result, once published, answers as before."""
    api.wait_follower()
    rt = api.app.state.runtime
    lake, scans = rt.lake, []

    class CountingLake:
        def __getattr__(self, name: str) -> object:
            return getattr(lake, name)

        def media(self, media_id: UUID) -> object:
            scans.append(media_id)
            return lake.media(media_id)

    rt.lake = CountingLake()
    try:
        with api.client() as client:
            media_id = media_id_of(upload(client, image))
            polls = [client.get(f"/v1/media/{media_id}").json() for _ in range(5)]
            await publish_result(api.settings.kafka.bootstrap, result_for(media_id))
            deadline = time.monotonic() + 2.0
            body = polls[-1]
            while body["status"] == "processing" and time.monotonic() < deadline:
                time.sleep(0.05)
                body = client.get(f"/v1/media/{media_id}").json()
            other = client.get(f"/v1/media/{uuid7()}")
    finally:
        rt.lake = lake
    assert [p["status"] for p in polls] == ["processing"] * 5
    assert body["status"] == "done"
    assert other.status_code == 404
    assert scans == [UUID(other.request.url.path.rsplit("/", 1)[1])]  # only the unknown id


def test_awaited_media_expire_to_the_lookup(monkeypatch: pytest.MonkeyPatch) -> None:
    """A result the follower missed cannot keep a media 'processing' past AWAIT_S."""
    from api import results

    recent = results.RecentResults(4)
    media_id = uuid7()
    recent.await_result(media_id, "acme")
    awaited = recent.awaiting(media_id)
    assert awaited is not None and awaited.brand_id == "acme"
    later = time.monotonic() + results.AWAIT_S + 1
    monkeypatch.setattr(time, "monotonic", lambda: later)
    assert recent.awaiting(media_id) is None
    recent.await_result(media_id, None)
    recent.add(result_for(media_id))
    assert recent.awaiting(media_id) is None


async def test_a_published_result_shows_as_done_within_2_s(api: Api, image: Path) -> None:
    api.wait_follower()
    with api.client() as client:
        media_id = media_id_of(upload(client, image))
        result = result_for(media_id, "acme")
        await publish_result(api.settings.kafka.bootstrap, result, garbage=True)
        deadline = time.monotonic() + 2.0
        body = client.get(f"/v1/media/{media_id}").json()
        while body["status"] == "processing" and time.monotonic() < deadline:
            time.sleep(0.05)
            body = client.get(f"/v1/media/{media_id}").json()
    assert body["status"] == "done"
    assert body["verdict"] == "warn"
    assert body["brand_id"] == "acme"
    assert body["brand_check"]["checks_version"] == "test-1"
    assert body["analysis"]["analyzer"] == "local"


async def test_list_merges_recent_results(api: Api) -> None:
    api.wait_follower()
    media_id = uuid7()
    await publish_result(api.settings.kafka.bootstrap, result_for(media_id, "listed"))
    with api.client() as client:
        deadline = time.monotonic() + 2.0
        items: list[dict[str, str]] = []
        while not items and time.monotonic() < deadline:
            response = client.get("/v1/media", params={"brand_id": "listed", "limit": 10})
            assert response.status_code == 200, response.text
            items = response.json()["items"]
            time.sleep(0.05)
        other = client.get("/v1/media", params={"brand_id": "listed", "status": "failed"})
        too_many = client.get("/v1/media", params={"limit": 501})
        bad_cursor = client.get("/v1/media", params={"after": "nope"})
    assert [(i["media_id"], i["status"]) for i in items] == [(str(media_id), "done")]
    assert other.json()["items"] == []
    assert too_many.status_code == 422
    assert too_many.json()["error"]["fields"][0]["field"] == "query.limit"
    assert bad_cursor.status_code == 422


def test_recent_results_keep_only_the_newest() -> None:
    from api.results import RecentResults

    recent = RecentResults(2)
    ids = [uuid7() for _ in range(3)]
    for media_id in ids:
        recent.add(result_for(media_id))
    assert [r.media_id for r in recent] == ids[1:]
    assert recent.get(ids[0]) is None
