"""API keys and scopes, health probes, metrics and the OpenAPI document."""

from __future__ import annotations

from pathlib import Path

import httpx

from schemas.ids import uuid7
from tests.api.conftest import Api, create_brand, media_id_of, upload


def test_no_key_or_a_wrong_key_is_401(api: Api, image: Path) -> None:
    with api.client(key=None) as anonymous, api.client(key="not-a-key") as wrong:
        responses = [
            upload(anonymous, image),
            anonymous.get(f"/v1/media/{uuid7()}"),
            wrong.get("/v1/media"),
            wrong.put("/v1/brands/x", json={"name": "x"}),
        ]
    for response in responses:
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "unauthorized"
        assert response.headers["www-authenticate"] == "Bearer"


def test_scopes_are_enforced_with_403(api: Api, image: Path) -> None:
    with api.client("reader-key") as reader, api.client("writer-key") as writer:
        reader_post = upload(reader, image)
        writer_get = writer.get(f"/v1/media/{uuid7()}")
        writer_brand = writer.put("/v1/brands/scoped", json={"name": "x"})
        allowed = upload(writer, image)
        read_back = reader.get(f"/v1/media/{media_id_of(allowed)}")
    for response in (reader_post, writer_get, writer_brand):
        assert response.status_code == 403
        assert response.json()["error"]["code"] == "forbidden"
    assert read_back.status_code == 200


def test_x_api_key_header_and_admin_scope(api: Api) -> None:
    with httpx.Client(base_url=api.url, headers={"X-API-Key": "admin-key"}) as admin:
        profile = create_brand(admin, "keyed")
        read = admin.get("/v1/brands/keyed")
        media = admin.get("/v1/media")
    assert profile["version"] == 1
    assert read.status_code == 200
    assert media.status_code == 403


def test_health_ready_docs_need_no_key(api: Api) -> None:
    with api.client(key=None) as client:
        health = client.get("/healthz")
        ready = client.get("/readyz")
        docs = client.get("/docs")
        spec = client.get("/openapi.json")
        unknown = client.get("/v2/nothing")
    assert health.json() == {"status": "ok"}
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"broker": True, "bucket": True}
    assert docs.status_code == 200
    paths = spec.json()["paths"]
    assert {
        "/v1/media",
        "/v1/media/{media_id}",
        "/v1/generations",
        "/v1/brands/{brand_id}",
        "/v1/brands/{brand_id}/logo",
    } <= set(paths)
    assert "multipart/form-data" in paths["/v1/media"]["post"]["requestBody"]["content"]
    assert "GenerationRequest" in spec.json()["components"]["schemas"]
    assert unknown.status_code == 404
    assert unknown.json()["error"]["code"] == "not_found"


def test_metrics_count_requests_by_route_and_status(api: Api) -> None:
    with api.client() as client:
        client.get(f"/v1/media/{uuid7()}")
        client.get(f"/v1/media/{uuid7()}")
        text = client.get("/metrics").text
    line = 'reelscope_api_requests_total{method="GET",route="/v1/media/{media_id}",status="404"}'
    counts = [float(row.split()[-1]) for row in text.splitlines() if row.startswith(line)]
    assert counts and counts[0] >= 2
    assert "reelscope_api_request_seconds_bucket" in text
    assert "reelscope_api_upload_bytes_total" in text
    assert "# TYPE reelscope_api_publish_failures_total counter" in text


def test_api_series_exist_at_zero_from_start_up(api: Api) -> None:
    """A route's first 5xx, the first upload of each source and the first refused publish are
    seen by rate(): their series exist before them, at 0."""
    with api.client() as client:
        text = client.get("/metrics").text
    for series in (
        'reelscope_api_requests_total{method="POST",route="/v1/media",status="500"}',
        'reelscope_api_requests_total{method="GET",route="/v1/analytics/costs",status="500"}',
        'reelscope_api_media_accepted_total{source="generated"}',
        'reelscope_api_publish_failures_total{topic="reelscope.media.uploaded.v1"}',
    ):
        assert f"{series} 0.0" in text, series
