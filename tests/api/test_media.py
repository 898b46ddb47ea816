"""POST /v1/media: streamed, capped, sniffed, stored, published, idempotent."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

from processors.keys import media_key
from processors.ledger import event_key
from schemas.ids import is_uuid7
from schemas.topics import MEDIA_UPLOADED
from tests.api.conftest import MAX_UPLOAD, Api, create_brand, events_for, media_id_of, upload


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


async def test_upload_is_stored_and_published_once(api: Api, video: Path) -> None:
    with api.client() as client:
        create_brand(client, "acme-media")
        response = upload(
            client,
            video,
            data={
                "brand_id": "acme-media",
                "platforms": "tiktok, youtube_shorts",
                "labels": '{"campaign": "summer"}',
            },
        )
    media_id = media_id_of(response)
    body = response.json()
    assert is_uuid7(media_id)
    assert body["status"] == "processing"
    assert body["status_url"] == f"/v1/media/{media_id}"
    assert response.headers["location"] == body["status_url"]
    stored = api.store.get_bytes(media_key(media_id))
    assert hashlib.sha256(stored).hexdigest() == sha256_of(video)
    events = await events_for(api.settings.kafka.bootstrap, MEDIA_UPLOADED, str(media_id))
    assert len(events) == 1
    event = events[0]
    assert event["schema"] == "reelscope.media.uploaded/1"
    assert event["content_type"] == "video/mp4"
    assert event["media_kind"] == "video"
    assert event["sha256"] == sha256_of(video)
    assert event["size_bytes"] == video.stat().st_size
    assert event["object_key"] == media_key(media_id)
    assert event["brand_id"] == "acme-media"
    assert event["platforms"] == ["tiktok", "youtube_shorts"]
    assert event["labels"] == {"campaign": "summer"}
    assert event["filename"] == "clip.mp4"
    assert list(api.upload_dir.iterdir()) == []


async def test_repeated_platform_fields_and_images(api: Api, image: Path) -> None:
    with api.client() as client:
        response = upload(client, image, data={"platforms": ["tiktok", "linkedin"]})
    media_id = media_id_of(response)
    events = await events_for(api.settings.kafka.bootstrap, MEDIA_UPLOADED, str(media_id))
    assert [(e["content_type"], e["media_kind"], e["platforms"]) for e in events] == [
        ("image/png", "image", ["tiktok", "linkedin"])
    ]


def _multipart_stream(boundary: str, total: int, chunk: int = 64 * 1024) -> Iterator[bytes]:
    yield (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
        f'filename="big.mp4"\r\nContent-Type: video/mp4\r\n\r\n'
    ).encode()
    sent = 0
    while sent < total:
        yield os.urandom(min(chunk, total - sent))
        sent += chunk
    yield f"\r\n--{boundary}--\r\n".encode()


def test_over_the_cap_while_streaming_is_413_and_leaves_nothing(api: Api) -> None:
    before = api.store.list("media/")
    boundary = "reelscope-test-boundary"
    with api.client() as client:
        response = client.post(
            "/v1/media",
            content=_multipart_stream(boundary, 3 * MAX_UPLOAD),
            headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
        )
    assert "content-length" not in response.request.headers  # chunked: refused mid-stream
    assert response.status_code == 413, response.text
    assert response.json()["error"]["code"] == "too_large"
    assert list(api.upload_dir.iterdir()) == []
    assert api.store.list("media/") == before


def test_declared_length_over_the_cap_is_refused_before_reading(api: Api, tmp_path: Path) -> None:
    big = tmp_path / "big.mp4"
    big.write_bytes(os.urandom(2 * MAX_UPLOAD))
    with api.client() as client:
        response = upload(client, big)
    assert response.status_code == 413
    assert response.json()["error"]["hint"]


def test_text_renamed_mp4_is_415(api: Api, tmp_path: Path) -> None:
    fake = tmp_path / "notes.mp4"
    fake.write_text("just some text, not a video at all\n" * 20)
    with api.client() as client:
        response = upload(client, fake)
    assert response.status_code == 415
    assert response.json()["error"]["code"] == "unsupported_media"
    assert list(api.upload_dir.iterdir()) == []


def test_unknown_brand_is_422(api: Api, image: Path) -> None:
    with api.client() as client:
        response = upload(client, image, data={"brand_id": "no-such-brand"})
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["fields"] == [{"field": "brand_id", "message": "unknown brand 'no-such-brand'"}]
    assert "PUT /v1/brands/no-such-brand" in error["hint"]


def test_invalid_form_fields_are_422_listing_them(api: Api, image: Path) -> None:
    with api.client() as client:
        response = upload(
            client,
            image,
            data={
                "platforms": "tiktok,myspace",
                "labels": "[1, 2]",
                "brandid": "x",
            },
        )
    assert response.status_code == 422
    fields = {f["field"] for f in response.json()["error"]["fields"]}
    assert fields == {"platforms", "labels", "brandid"}


def test_missing_file_part_and_non_multipart(api: Api) -> None:
    with api.client() as client:
        no_file = client.post("/v1/media", files={"other": ("a.txt", b"x")})
        not_multipart = client.post("/v1/media", json={"file": "x"})
    assert no_file.status_code == 422
    assert no_file.json()["error"]["fields"][0]["field"] in ("file", "other")
    assert not_multipart.status_code == 415


async def test_idempotency_key_maps_retries_to_one_media(
    api: Api, image: Path, video: Path
) -> None:
    before = set(api.store.list("media/"))
    records = set(api.store.list("idempotency/"))
    with api.client() as client:
        first = upload(client, image, headers={"Idempotency-Key": "retry-me-1"})
        second = upload(client, image, headers={"Idempotency-Key": "retry-me-1"})
        other = upload(client, video, headers={"Idempotency-Key": "retry-me-1"})
    media_id = media_id_of(first)
    assert media_id_of(second) == media_id
    assert set(api.store.list("media/")) - before == {media_key(media_id), event_key(media_id)}
    assert other.status_code == 409
    assert other.json()["error"]["code"] == "idempotency_conflict"
    events = await events_for(api.settings.kafka.bootstrap, MEDIA_UPLOADED, str(media_id))
    assert len(events) == 1
    assert len(set(api.store.list("idempotency/")) - records) == 1


def test_idempotency_keys_are_per_caller(api: Api, image: Path) -> None:
    with api.client("all-key") as a, api.client("writer-key") as b:
        first = media_id_of(upload(a, image, headers={"Idempotency-Key": "shared"}))
        second = media_id_of(upload(b, image, headers={"Idempotency-Key": "shared"}))
    assert first != second
