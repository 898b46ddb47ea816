"""What a production API shows a caller without a key: health and readiness, nothing else.

The schema maps every route, so it needs a key; the interactive docs are development's; the
metrics are on a port of their own, which a Service for API clients need not expose.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from api.settings import PRODUCTION_METRICS_PORT, ApiKey, ApiSettings, Settings, hash_key
from processors.storage import LocalStore
from streams.broker import EmbeddedBroker, free_port
from tests.api.conftest import Api, make_settings, running_api


@pytest.fixture(scope="module")
def production(
    broker: EmbeddedBroker, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Api, int]]:
    root = tmp_path_factory.mktemp("production")
    store = LocalStore(root / "bucket")
    port = free_port()
    settings = make_settings(
        broker.bootstrap,
        store.url,
        environment="production",
        api={"metrics_port": port, "session_secret": "s" * 32},
    )
    with running_api(settings, store, root / "uploads") as api:
        yield api, port


def test_without_a_key_only_health_and_readiness_answer(production: tuple[Api, int]) -> None:
    api, _ = production
    with api.client(None) as anonymous:
        assert anonymous.get("/healthz").status_code == 200
        assert anonymous.get("/readyz").status_code == 200
        for path in ("/docs", "/redoc"):
            assert anonymous.get(path).status_code == 404, path
        spec = anonymous.get("/openapi.json")
        metrics = anonymous.get("/metrics")
    assert spec.status_code == 401 and spec.json()["error"]["code"] == "unauthorized"
    assert metrics.status_code == 404
    assert "metrics are served on port" in metrics.json()["error"]["message"]


def test_the_schema_answers_a_key_of_any_scope(production: tuple[Api, int]) -> None:
    api, _ = production
    for key in ("reader-key", "writer-key", "admin-key"):
        with api.client(key) as client:
            spec = client.get("/openapi.json")
        assert spec.status_code == 200, key
        assert "/v1/media" in spec.json()["paths"]
        assert "GenerationRequest" in spec.json()["components"]["schemas"]


def test_metrics_are_served_on_their_own_port(production: tuple[Api, int]) -> None:
    api, port = production
    with api.client() as client:
        client.get("/v1/media")
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
    assert 'reelscope_api_requests_total{method="GET",route="/v1/media",status="200"}' in text


def test_production_puts_metrics_on_their_own_port_by_default() -> None:
    key = ApiKey(name="ops", sha256=hash_key("k"), scopes=["admin"])
    production = Settings(
        environment="production", api=ApiSettings(keys=[key], session_secret="s" * 32)
    )
    assert production.metrics_port == PRODUCTION_METRICS_PORT
    assert not production.public_docs
    development = Settings()
    assert development.metrics_port is None and development.public_docs
