"""With no keys (development, loopback only) the review page is open, like the API; its forms
still need the CSRF token, and its errors are pages, not JSON."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from processors.storage import LocalStore
from streams.broker import EmbeddedBroker
from tests.api.conftest import Api, make_settings, running_api, upload


@pytest.fixture(scope="module")
def open_api(broker: EmbeddedBroker, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    root = tmp_path_factory.mktemp("open-review")
    store = LocalStore(root / "bucket")
    settings = make_settings(broker.bootstrap, store.url, api={"keys": []})
    with running_api(settings, store, root / "uploads") as running:
        yield running


def test_the_page_is_open_without_keys(open_api: Api) -> None:
    with httpx.Client(base_url=open_api.url) as http:
        page = http.get("/review")
        assert page.status_code == 200 and "Media to review" in page.text
        assert "Sign out" not in page.text
        login = http.get("/review/login")
        assert login.status_code == 303 and login.headers["location"] == "/review"


def test_a_form_without_its_token_is_refused_even_when_open(open_api: Api, image: Path) -> None:
    with httpx.Client(base_url=open_api.url) as http:
        media_id = upload(http, image).json()["media_id"]
        target = f"/review/media/{media_id}/decision"
        refused = http.post(target, data={"decision": "approved", "csrf": "forged"})
        assert refused.status_code == 403
        assert "text/html" in refused.headers["content-type"] and "CSRF" in refused.text
        missing = http.post(target, data={"decision": "approved"})
        assert missing.status_code == 422 and "text/html" in missing.headers["content-type"]
        assert http.cookies.get("reelscope_csrf"), "a page set its CSRF nonce"


def test_errors_under_review_are_pages_and_the_api_keeps_json(open_api: Api) -> None:
    with httpx.Client(base_url=open_api.url) as http:
        page = http.get("/review/media/not-an-id")
        assert page.status_code == 422 and page.text.startswith("<!DOCTYPE html>")
        bad_filter = http.get("/review", params={"verdict": "great"})
        assert bad_filter.status_code == 422 and "pick a value" in bad_filter.text
        api = http.get("/v1/media/not-an-id")
        assert api.status_code == 422 and api.json()["error"]["code"] == "invalid_request"
