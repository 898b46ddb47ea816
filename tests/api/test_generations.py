"""POST /v1/generations: strict bucket references (no SSRF), or an attached file."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from processors.keys import media_key
from schemas.ids import uuid7
from schemas.topics import MEDIA_GENERATED
from tests.api.conftest import Api, events_for, media_id_of

GENERATION = {"prompt": "a red badge on a beach", "model": "veo-test", "seed": 7, "cost_usd": 0.12}


async def test_registered_object_is_snapshotted_and_published(api: Api, video: Path) -> None:
    api.store.put_file("generated/2026/clip.mp4", video)
    parent = uuid7()
    with api.client() as client:
        response = client.post(
            "/v1/generations",
            json={
                "object_key": "generated/2026/clip.mp4",
                "platforms": ["tiktok"],
                "generation": {**GENERATION, "parent_media_id": str(parent)},
            },
        )
    media_id = media_id_of(response)
    digest = hashlib.sha256(video.read_bytes()).hexdigest()
    assert hashlib.sha256(api.store.get_bytes(media_key(media_id))).hexdigest() == digest
    events = await events_for(api.settings.kafka.bootstrap, MEDIA_GENERATED, str(media_id))
    assert len(events) == 1
    event = events[0]
    assert event["schema"] == "reelscope.media.generated/1"
    assert (event["sha256"], event["content_type"], event["media_kind"]) == (
        digest,
        "video/mp4",
        "video",
    )
    assert event["object_key"] == media_key(media_id)
    assert event["generation"]["model"] == "veo-test"
    assert event["generation"]["parent_media_id"] == str(parent)
    assert event["platforms"] == ["tiktok"]


@pytest.mark.parametrize(
    "key",
    [
        "../etc/passwd",
        "s3://other/x",
        "media/%2e%2e/x",
        "generated/../../x",
        "http://169.254.169.254/latest/meta-data",
        "/etc/passwd",
        "file:///etc/passwd",
        "generated//x",
        "generated/./x",
        "lake/media_results/x.parquet",
        "generated\\..\\x",
    ],
)
def test_bad_references_are_422(api: Api, key: str) -> None:
    with api.client() as client:
        response = client.post(
            "/v1/generations", json={"object_key": key, "generation": GENERATION}
        )
    assert response.status_code == 422, key
    error = response.json()["error"]
    assert error["fields"][0]["field"] == "object_key"
    assert error["hint"]


def test_missing_object_and_bad_generation_are_422(api: Api) -> None:
    with api.client() as client:
        missing = client.post(
            "/v1/generations", json={"object_key": "generated/nope.mp4", "generation": GENERATION}
        )
        no_prompt = client.post(
            "/v1/generations", json={"object_key": "generated/x.mp4", "generation": {"model": "m"}}
        )
        extra = client.post(
            "/v1/generations",
            json={"object_key": "generated/x.mp4", "generation": GENERATION, "url": "x"},
        )
    assert missing.status_code == 422
    assert "no object" in missing.json()["error"]["message"]
    assert no_prompt.status_code == 422
    assert no_prompt.json()["error"]["fields"][0]["field"] == "generation.prompt"
    assert extra.status_code == 422


async def test_attached_generation_is_accepted(api: Api, image: Path) -> None:
    with api.client() as client, image.open("rb") as fh:
        response = client.post(
            "/v1/generations",
            files={"file": ("gen.png", fh)},
            data={"generation": json.dumps(GENERATION), "labels": '{"run": "7"}'},
        )
    media_id = media_id_of(response)
    events = await events_for(api.settings.kafka.bootstrap, MEDIA_GENERATED, str(media_id))
    assert [(e["content_type"], e["generation"]["seed"], e["labels"]) for e in events] == [
        ("image/png", 7, {"run": "7"})
    ]


def test_attached_file_without_generation_is_422(api: Api, image: Path) -> None:
    with api.client() as client, image.open("rb") as fh:
        response = client.post("/v1/generations", files={"file": ("gen.png", fh)})
    assert response.status_code == 422
    assert response.json()["error"]["fields"][0]["field"] == "generation"
    assert list(api.upload_dir.iterdir()) == []
