"""GET /v1/media/{id}/evidence.png over real HTTP: a real brand check, a PNG rendered on demand."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from uuid import UUID

import cv2
import httpx
import numpy as np
from aiokafka import AIOKafkaProducer

from processors.brand import check_media
from processors.brand.evidence import LOGO_BGR, OUTPUT_WIDTH
from processors.media.limits import LimitSettings
from processors.synthetic import events as make
from schemas.events import BrandCheck, MediaResult
from schemas.ids import uuid7
from schemas.topics import MEDIA_RESULTS
from tests.api.conftest import Api, create_brand, media_id_of, upload

LIMITS = LimitSettings(decode_timeout_s=60)
BRAND = "evidence-co"


def result_of(check: BrandCheck, failed: bool = False) -> MediaResult:
    status = "failed" if failed else "done"
    analysis = make.analysis(media_id=check.media_id, source=check.source, status=status)
    return make.result(check, analysis, status=status, error="decoder gave up" if failed else None)


async def publish(bootstrap: str, result: MediaResult) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(
            MEDIA_RESULTS, result.to_bytes(), key=str(result.media_id).encode()
        )
    finally:
        await producer.stop()


def wait_status(client: httpx.Client, media_id: UUID, want: str) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if client.get(f"/v1/media/{media_id}").json().get("status") == want:
            return
        time.sleep(0.1)
    raise AssertionError(f"media {media_id} never became {want}")


def real_check(video: Path, logo: Path, media_id: UUID, api: Api) -> BrandCheck:
    """Run the worker's brand check on the uploaded clip with the brand's stored profile."""
    from processors.brand.profiles import load_profile

    profile = load_profile(api.store, BRAND)
    assert profile is not None
    event = make.uploaded(
        media_id=media_id,
        size_bytes=video.stat().st_size,
        brand_id=BRAND,
        platforms=["instagram_reels"],
    )
    check = check_media(video, event, profile, [logo.read_bytes()], LIMITS)
    assert check.status == "done" and check.logo is not None and check.logo.found
    return check


async def test_evidence_png_is_rendered_cached_and_shows_the_logo_box(
    api: Api, branded_clip: tuple[Path, Path], tmp_path: Path
) -> None:
    video, logo = branded_clip
    api.wait_follower()
    with api.client() as client:
        create_brand(client, BRAND)
        media_id = media_id_of(upload(client, video))
        early = client.get(f"/v1/media/{media_id}/evidence.png")
        assert early.status_code == 404 and early.json()["error"]["code"] == "not_found"
        check = real_check(video, logo, media_id, api)
        await publish(api.settings.kafka.bootstrap, result_of(check))
        wait_status(client, media_id, "done")
        response = client.get(f"/v1/media/{media_id}/evidence.png")
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == "image/png"
        again = client.get(f"/v1/media/{media_id}/evidence.png")
    assert again.content == response.content
    assert api.store.exists(f"evidence/{media_id}.png")
    decoded = cv2.imdecode(np.frombuffer(response.content, np.uint8), cv2.IMREAD_COLOR)
    assert decoded is not None
    img = np.asarray(decoded, np.uint8)
    assert img.shape == (round(640 * OUTPUT_WIDTH / 360), OUTPUT_WIDTH, 3)
    assert check.logo is not None and check.logo.bbox is not None
    x, y, w, h = check.logo.bbox
    left, mid_y = round(x * img.shape[1]), round((y + h / 2) * img.shape[0])
    assert tuple(int(c) for c in img[mid_y, left]) == LOGO_BGR
    (tmp_path / "evidence.png").write_bytes(response.content)


async def test_failed_media_is_409_unknown_is_404_and_scope_is_enforced(
    api: Api, branded_clip: tuple[Path, Path]
) -> None:
    video, _ = branded_clip
    api.wait_follower()
    with api.client() as client:
        media_id = media_id_of(upload(client, video))
        check = make.brand_check(
            media_id=media_id, status="failed", error="decoder gave up", checks_version="test-1"
        )
        await publish(api.settings.kafka.bootstrap, result_of(check, failed=True))
        wait_status(client, media_id, "failed")
        failed = client.get(f"/v1/media/{media_id}/evidence.png")
        assert failed.status_code == 409 and failed.json()["error"]["code"] == "media_failed"
        unknown = client.get(f"/v1/media/{uuid7()}/evidence.png")
        assert unknown.status_code == 404
        assert client.get("/v1/media/not-an-id/evidence.png").status_code == 422
    with api.client("writer-key") as writer:
        assert writer.get(f"/v1/media/{media_id}/evidence.png").status_code == 403
    with api.client(None) as anonymous:
        assert anonymous.get(f"/v1/media/{media_id}/evidence.png").status_code == 401


async def test_concurrent_requests_for_one_media_render_it_once(
    api: Api, branded_clip: tuple[Path, Path]
) -> None:
    video, logo = branded_clip
    api.wait_follower()
    with api.client() as client:
        create_brand(client, BRAND)
        media_id = media_id_of(upload(client, video))
    await publish(api.settings.kafka.bootstrap, result_of(real_check(video, logo, media_id, api)))
    with api.client() as client:
        wait_status(client, media_id, "done")
    registry = api.app.state.runtime.metrics.registry
    before = registry.get_sample_value("reelscope_api_evidence_renders_total")
    async with httpx.AsyncClient(base_url=api.url, headers={"X-API-Key": "all-key"}) as c:
        answers = await asyncio.gather(
            *(c.get(f"/v1/media/{media_id}/evidence.png", timeout=60) for _ in range(8))
        )
    assert [a.status_code for a in answers] == [200] * 8
    assert len({a.content for a in answers}) == 1
    after = registry.get_sample_value("reelscope_api_evidence_renders_total")
    assert after - before == 1
