"""Status and listings read from a real Parquet lake (written by the real LakeWriter)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from processors.lake.writer import LakeWriter
from processors.storage import LocalStore
from processors.synthetic import lake as syn
from schemas import topics
from schemas.lake import TABLES, LakeEvent, to_row
from streams.broker import EmbeddedBroker
from tests.api.conftest import Api, make_settings, running_api
from tests.api.test_status import publish_result, result_for

DAY1, DAY2 = syn.day(2026, 1, 2), syn.day(2026, 1, 3)


def write(store: LocalStore, table: str, topic: str, events: list[LakeEvent]) -> None:
    rows = [to_row(e, topic, 0, offset) for offset, e in enumerate(events)]
    LakeWriter(store).write(TABLES[table], topic, 0, rows)


@pytest.fixture(scope="module")
def lives() -> dict[str, Any]:
    done = [syn.life(DAY1, counter=i, verdict="pass") for i in range(3)]
    done += [syn.life(DAY2, counter=i, brand_id="other", verdict="fail") for i in range(2)]
    failed = syn.life(DAY2, counter=5, status="failed")
    pending = syn.uploaded(DAY2, counter=6)
    return {"done": done, "failed": failed, "pending": pending}


@pytest.fixture(scope="module")
def lake_api(
    broker: EmbeddedBroker, tmp_path_factory: pytest.TempPathFactory, lives: dict[str, Any]
) -> Iterator[Api]:
    root = tmp_path_factory.mktemp("lake-api")
    store = LocalStore(root / "bucket")
    finished = [*lives["done"], lives["failed"]]
    write(
        store,
        "uploads",
        topics.MEDIA_UPLOADED,
        [life.uploaded for life in finished] + [lives["pending"]],
    )
    write(store, "brand_checks", topics.BRAND_CHECKS, [life.brand_check for life in finished])
    write(store, "analyses", topics.MEDIA_ANALYSES, [life.analysis for life in finished])
    write(store, "media_results", topics.MEDIA_RESULTS, [life.result for life in finished])
    settings = make_settings(broker.bootstrap, store.url)
    with running_api(settings, store, root / "uploads") as api:
        yield api


def test_status_of_older_media_comes_from_the_lake(lake_api: Api, lives: dict[str, Any]) -> None:
    done, failed, pending = lives["done"][0], lives["failed"], lives["pending"]
    with lake_api.client() as client:
        body = client.get(f"/v1/media/{done.uploaded.media_id}").json()
        failed_body = client.get(f"/v1/media/{failed.uploaded.media_id}").json()
        pending_body = client.get(f"/v1/media/{pending.media_id}").json()
    assert (body["status"], body["verdict"], body["brand_id"]) == ("done", "pass", "acme")
    assert body["brand_check"]["checks_version"] == "checks/1"
    assert body["analysis"]["analyzer"] == "local"
    assert (failed_body["status"], failed_body["error"]) == ("failed", "unreadable media")
    assert pending_body["status"] == "processing"
    assert pending_body["brand_check"] is None


def pages(client: Any, **params: Any) -> list[list[dict[str, Any]]]:
    out, after = [], None
    while True:
        query = {**params, **({"after": after} if after else {})}
        response = client.get("/v1/media", params=query)
        assert response.status_code == 200, response.text
        body = response.json()
        out.append(body["items"])
        after = body["next"]
        if after is None:
            return out


def test_listing_pages_through_the_lake_in_id_order(lake_api: Api, lives: dict[str, Any]) -> None:
    everything = sorted(
        str(m)
        for m in [life.uploaded.media_id for life in lives["done"]]
        + [lives["failed"].uploaded.media_id, lives["pending"].media_id]
    )
    with lake_api.client() as client:
        paged = pages(client, limit=3)
        other = pages(client, brand_id="other")
        failed = pages(client, status="failed")
        recent_days = pages(client, since=DAY2.isoformat(), limit=50)
    assert [len(p) for p in paged] == [3, 3, 1]
    assert [i["media_id"] for p in paged for i in p] == everything
    assert [(i["brand_id"], i["verdict"]) for i in other[0]] == [("other", "fail")] * 2
    assert [i["media_id"] for i in failed[0]] == [str(lives["failed"].uploaded.media_id)]
    assert len(recent_days[0]) == 4


async def test_a_live_result_overrides_the_lake(lake_api: Api, lives: dict[str, Any]) -> None:
    lake_api.wait_follower()
    pending = lives["pending"].media_id
    await publish_result(lake_api.settings.kafka.bootstrap, result_for(pending, "acme"))
    with lake_api.client() as client:
        for _ in range(40):
            listed = {i["media_id"]: i for i in client.get("/v1/media").json()["items"]}
            if listed[str(pending)]["status"] == "done":
                break
            time.sleep(0.05)
        single = client.get(f"/v1/media/{pending}").json()
    assert listed[str(pending)]["status"] == "done"
    assert single["status"] == "done"
    assert len(listed) == 7


def test_malformed_filters_are_422(lake_api: Api) -> None:
    with lake_api.client() as client:
        naive = client.get("/v1/media", params={"since": "2026-01-02T00:00:00"})
        bad_status = client.get("/v1/media", params={"status": "lost"})
    assert naive.status_code == 422
    assert bad_status.status_code == 422
    assert bad_status.json()["error"]["fields"][0]["field"] == "query.status"


def test_lake_files_exist(lake_api: Api) -> None:
    assert any(Path(k).suffix == ".parquet" for k in lake_api.store.list("lake/"))
