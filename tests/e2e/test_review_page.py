"""The review page in a real Chromium, through the real stack: broker, worker, API, lake.

One stack and one browser for the module. Debian's Chromium (`make test` installs it) is driven
by Playwright for Python with `executable_path`: no browser download. The screenshots land in
`artifacts/review/` at the repository root (`REELSCOPE_ARTIFACTS` moves them).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from processors.lake.query import Lake
from processors.storage import open_store
from processors.synthetic.samples import OFF_BRAND_COLOURS, make_image
from schemas import topics
from streams.admin import ensure_topics
from streams.broker import EmbeddedBroker
from tests.e2e.conftest import ROOT, Deployment
from tests.e2e.helpers import BRAND, topic_events
from tests.htmlcheck import problems

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
ARTIFACTS = Path(os.environ.get("REELSCOPE_ARTIFACTS", ROOT / "artifacts")) / "review"
OPS = "ops-key"  # uploads, brands, reads every brand
KEYS = {  # key -> (name, scopes, brands)
    OPS: ("ops", ["media:write", "results:read", "admin"], []),
    "rk-acme": ("acme-reviewer", ["review"], ["acme"]),
    "rk-other": ("other-reviewer", ["review"], ["other"]),
    "rd-acme": ("acme-reader", ["results:read"], ["acme"]),
}


def _keys_env() -> str:
    import hashlib

    entries = [
        {"name": n, "sha256": hashlib.sha256(k.encode()).hexdigest(), "scopes": s, "brands": b}
        for k, (n, s, b) in KEYS.items()
    ]
    return json.dumps(entries)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    bucket = tmp_path_factory.mktemp("review-bucket")
    with EmbeddedBroker() as broker:
        ensure_topics(broker.bootstrap, partitions=2)
        env = {
            "REELSCOPE_API__KEYS": _keys_env(),
            "REELSCOPE_API__SESSION_SECRET": "review-test-secret-of-32-characters",
            "REELSCOPE_KAFKA__PARTITIONS": "2",
        }
        deployment = Deployment(
            broker.bootstrap, f"file://{bucket}", tmp_path_factory.mktemp("review-logs"), env
        )
        try:
            yield deployment.start()
        finally:
            deployment.stop()


def ops(stack: Deployment) -> httpx.Client:
    return httpx.Client(base_url=stack.url, headers={"X-API-Key": OPS}, timeout=30)


def _upload(http: httpx.Client, path: Path, brand: str, platforms: str) -> str:
    with path.open("rb") as fh:
        form = {"brand_id": brand, "platforms": platforms}
        r = http.post("/v1/media", files={"file": (path.name, fh)}, data=form)
    assert r.status_code == 202, r.text
    return str(r.json()["media_id"])


def wait_for(http: httpx.Client, media_id: str, done: Any, timeout: float = 60) -> dict[str, Any]:
    """GET /v1/media/{id} until `done(body)`."""
    deadline = time.monotonic() + timeout
    body: dict[str, Any] = {}
    while time.monotonic() < deadline:
        body = http.get(f"/v1/media/{media_id}").json()
        if done(body):
            return body
        time.sleep(0.3)
    raise AssertionError(f"{media_id}: {body}")


@pytest.fixture(scope="module")
def assets(
    stack: Deployment, samples: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, str]:
    """acme's on-brand and off-brand images and another brand's, each with its result."""
    folder = tmp_path_factory.mktemp("review-media")
    off = make_image(folder / "off.jpg", width=640, height=640, background=OFF_BRAND_COLOURS)
    with ops(stack) as http:
        for brand in ("acme", "other"):
            http.put(f"/v1/brands/{brand}", json=BRAND).raise_for_status()
            logo = samples["logo"].read_bytes()
            headers = {"content-type": "image/png"}
            http.put(f"/v1/brands/{brand}/logo", content=logo, headers=headers).raise_for_status()
        ids = {
            "on": _upload(http, samples["image"], "acme", "instagram_feed"),
            "off": _upload(http, off, "acme", "instagram_feed,tiktok"),
            "other": _upload(http, off, "other", "instagram_feed"),
        }
        for media_id in ids.values():
            wait_for(http, media_id, lambda b: b["decision"] is not None)
    return ids


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


def sign_in(page: Page, stack: Deployment, key: str) -> None:
    page.goto(f"{stack.url}/review")
    expect(page).to_have_url(re.compile(r"/review/login\?next="))
    page.get_by_label("Review key").fill(key)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Media to review")).to_be_visible()


def reload_until(page: Page, selector: str, text: str, timeout: float = 15) -> None:
    """Reload until `selector` shows `text` (the detail shows the gate's answer once it is back)."""
    deadline = time.monotonic() + timeout
    while text not in page.locator(selector).inner_text():
        assert time.monotonic() < deadline, page.locator(selector).inner_text()
        time.sleep(0.3)
        page.reload()


def read_topic(stack: Deployment, topic: str, wanted: set[str]) -> list[dict[str, Any]]:
    """The topic's events of `wanted`, read in a thread: Playwright's loop owns this one."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, topic_events(stack.bootstrap, topic, wanted)).result()


def row(page: Page, media_id: str) -> Any:
    return page.locator(f'tr[data-media-id="{media_id}"]')


def test_a_reviewer_filters_opens_approves_and_rejects(
    stack: Deployment, assets: dict[str, str], browser: Browser
) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with ops(stack) as http:
        on = http.get(f"/v1/media/{assets['on']}").json()
        off = http.get(f"/v1/media/{assets['off']}").json()
    # the policy (auto_approve: pass) decided alone what passed; the rest waits for a person
    assert on["verdict"] == "pass" and on["decision"]["state"] == "approved", on
    assert off["verdict"] != "pass" and off["decision"]["state"] == "pending", off
    assert on["decision"]["by"] == off["decision"]["by"] == "auto"

    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    sign_in(page, stack, "rk-acme")
    expect(row(page, assets["on"])).to_be_visible(timeout=20_000)  # the lake, or live rows
    expect(row(page, assets["off"])).to_be_visible(timeout=20_000)
    expect(row(page, assets["other"])).to_have_count(0)
    expect(row(page, assets["off"]).locator(".decision")).to_contain_text("Waiting for review")
    page.screenshot(path=str(ARTIFACTS / "list.png"), full_page=True)

    page.get_by_label("Verdict").select_option(off["verdict"])
    page.get_by_role("button", name="Filter").click()
    expect(row(page, assets["off"])).to_be_visible()
    expect(row(page, assets["on"])).to_have_count(0)

    row(page, assets["off"]).locator("a.open").click()
    expect(page.get_by_role("heading", name="Checks")).to_be_visible()
    evidence = page.get_by_role("img", name=re.compile("most telling frame"))
    expect(evidence).to_be_visible()
    page.wait_for_function(
        "img => img.complete && img.naturalWidth > 0", arg=evidence.element_handle()
    )
    expect(page.locator("table").first).to_contain_text("Logo")
    provenance = page.get_by_role("region", name="Provenance")  # a plain upload: no marker
    expect(provenance).to_contain_text("AI-made")
    expect(provenance).to_contain_text("none in the file")
    page.screenshot(path=str(ARTIFACTS / "detail.png"), full_page=True)
    page.locator("#approve").get_by_label("instagram_feed").check()
    page.locator("#approve").get_by_role("button", name="Approve").click()
    expect(page.get_by_role("status")).to_contain_text("approved")

    page.goto(f"{stack.url}/review/media/{assets['on']}")
    page.get_by_label(re.compile("Reason for rejecting")).fill(
        "wrong season: this is a summer visual"
    )
    page.get_by_role("button", name="Reject").click()
    expect(page.get_by_role("status")).to_contain_text("rejected")
    reload_until(page, "dd.decision", "Rejected (human)")

    page.goto(f"{stack.url}/review")
    approved_row = row(page, assets["off"]).locator(".decision")
    expect(approved_row).to_contain_text("Approved (human): instagram_feed", timeout=15_000)
    expect(row(page, assets["on"]).locator(".decision")).to_contain_text("Rejected (human)")
    page.close()

    with ops(stack) as http:
        approved = http.get(f"/v1/media/{assets['off']}").json()["decision"]
        rejected = http.get(f"/v1/media/{assets['on']}").json()["decision"]
    assert approved | {"at": None} == {
        "state": "approved",
        "by": "human",
        "platforms": ["instagram_feed"],
        "reason": None,
        "reviewer": "acme-reviewer",
        "at": None,
    }
    assert rejected["state"] == "rejected" and rejected["reason"].startswith("wrong season")

    wanted = {assets["on"], assets["off"]}
    gate = read_topic(stack, topics.MEDIA_DECISIONS, wanted)
    final = {d["media_id"]: d for d in gate}  # a downstream app keeps the latest per key
    assert {k: (v["state"], v["by"]) for k, v in final.items()} == {
        assets["off"]: ("approved", "human"),
        assets["on"]: ("rejected", "human"),
    }
    reviews = read_topic(stack, topics.REVIEWS, wanted)
    assert sorted(r["decision"] for r in reviews) == ["approved", "rejected"]
    assert {r["reviewer"] for r in reviews} == {"acme-reviewer"}
    assert {r["verdict"] for r in reviews} == {on["verdict"], off["verdict"]}

    lake = Lake(open_store(stack.store_url))
    deadline = time.monotonic() + 20
    found: dict[str, tuple[str, str]] = {}
    while time.monotonic() < deadline and len(found) < 2:
        lake.refresh()
        rows = lake.query(
            'SELECT media_id, state, "by" FROM media_decisions WHERE "by" = \'human\''
        )
        found = {r["media_id"]: (r["state"], r["by"]) for r in rows}
        time.sleep(0.5)
    assert found == {k: (v["state"], v["by"]) for k, v in final.items()}
    counted = lake.query("SELECT count(*) AS n FROM media_reviews WHERE reviewer = 'acme-reviewer'")
    assert counted[0]["n"] == 2


def test_keyboard_moves_through_the_list_and_opens_the_reject_form(
    stack: Deployment, assets: dict[str, str], browser: Browser
) -> None:
    page = browser.new_page()
    sign_in(page, stack, "rk-acme")
    expect(page.locator("tr[data-media-id]")).to_have_count(2, timeout=20_000)
    newest, older = page.locator("tr[data-media-id]").all()
    page.locator("h1").click()  # focus on the page, not in a field
    page.keyboard.press("j")
    expect(newest).to_have_class(re.compile("current"))
    page.keyboard.press("j")
    expect(older).to_have_class(re.compile("current"))
    page.keyboard.press("k")
    expect(newest).to_have_class(re.compile("current"))
    page.keyboard.press("r")
    expect(page).to_have_url(re.compile(r"/review/media/.+#reject$"))
    expect(page.get_by_label(re.compile("Reason for rejecting"))).to_be_visible()
    page.close()


@contextmanager
def _session(stack: Deployment, key: str) -> Iterator[httpx.Client]:
    """An HTTP client signed in on the login form, as a browser would."""
    with httpx.Client(base_url=stack.url, timeout=30) as client:
        form = client.get("/review/login")
        token = re.search(r'name="csrf" value="([^"]+)"', form.text)
        assert token, form.text
        r = client.post("/review/login", data={"key": key, "csrf": token[1], "next": "/review"})
        assert r.status_code == 303, r.text
        yield client


def _csrf(client: httpx.Client, path: str = "/review") -> str:
    token = re.search(r'name="csrf" value="([^"]+)"', client.get(path).text)
    assert token
    return token[1]


def test_a_reviewer_of_one_brand_sees_nothing_of_another(
    stack: Deployment, assets: dict[str, str]
) -> None:
    with _session(stack, "rk-other") as other:
        listed = other.get("/review").text
        assert assets["other"] in listed
        assert assets["on"] not in listed and assets["off"] not in listed
        assert other.get("/review", params={"brand": "acme"}).status_code == 403
        csrf = _csrf(other)
        for media_id in (assets["on"], assets["off"]):
            for path in ("", "/evidence.png", "/thumb.jpg"):
                r = other.get(f"/review/media/{media_id}{path}")
                assert r.status_code == 404, (path, r.text[:300])
            r = other.post(
                f"/review/media/{media_id}/decision",
                data={"decision": "approved", "csrf": csrf},
            )
            assert r.status_code == 404
            assert "text/html" in r.headers["content-type"]
        unknown = other.get(f"/review/media/{assets['on'][:-4]}ffff")
        assert unknown.status_code == 404


def test_posts_without_a_session_or_a_csrf_token_are_refused(
    stack: Deployment, assets: dict[str, str]
) -> None:
    target = f"/review/media/{assets['other']}/decision"
    decision = {"decision": "rejected", "reason": "forged"}
    with httpx.Client(base_url=stack.url) as anonymous:
        csrf = _csrf(anonymous, "/review/login")
        r = anonymous.post(target, data={**decision, "csrf": csrf})
        assert r.status_code == 401 and "text/html" in r.headers["content-type"]
        no_token = anonymous.post("/review/login", data={"key": "rk-other"})
        assert no_token.status_code == 422
        forged = anonymous.post("/review/login", data={"key": "rk-other", "csrf": "x" * 43})
        assert forged.status_code == 403
        header_key = anonymous.get("/review", headers={"X-API-Key": OPS})
        assert header_key.status_code == 303  # header keys are for the JSON API, not the page
        reader = anonymous.post("/review/login", data={"key": "rd-acme", "csrf": csrf})
        assert reader.status_code == 403 and "review scope" in reader.text
    with _session(stack, "rk-other") as other:
        assert other.post(target, data=decision).status_code == 422  # no token at all
        assert other.post(target, data={**decision, "csrf": "x" * 43}).status_code == 403
        other.cookies.delete("reelscope_csrf")
        assert other.post(target, data={**decision, "csrf": csrf}).status_code == 403
        csrf = _csrf(other)
        assert other.post("/review/logout", data={"csrf": csrf}).status_code == 303
        assert other.get("/review").status_code == 303  # signed out: back to the login
    with ops(stack) as http:  # nothing of the above reached the gate
        assert http.get(f"/v1/media/{assets['other']}").json()["decision"]["by"] == "auto"


def test_the_pages_are_valid_html(stack: Deployment, assets: dict[str, str]) -> None:
    with httpx.Client(base_url=stack.url) as anonymous:
        pages = {"login": anonymous.get("/review/login").text}
    with _session(stack, "rk-acme") as acme:
        pages["list"] = acme.get("/review").text
        pages["rows"] = "<!DOCTYPE html><html lang=en><table>" + acme.get("/review/rows").text
        pages["rows"] += "</table></html>"
        for name in ("on", "off"):
            pages[name] = acme.get(f"/review/media/{assets[name]}").text
        pages["404"] = acme.get(f"/review/media/{assets['other']}").text
    assert {name: problems(html) for name, html in pages.items()} == dict.fromkeys(pages, [])


def test_a_new_result_appears_without_a_reload_and_a_approves_it(
    stack: Deployment, assets: dict[str, str], browser: Browser, tmp_path: Path
) -> None:
    page = browser.new_page()
    sign_in(page, stack, "rk-acme")
    expect(page.locator("tr[data-media-id]").first).to_be_visible(timeout=20_000)
    fresh = make_image(tmp_path / "fresh.jpg", width=480, height=480, background=OFF_BRAND_COLOURS)
    with ops(stack) as http:
        media_id = _upload(http, fresh, "acme", "instagram_feed")
    new_row = row(page, media_id)
    expect(new_row).to_be_visible(timeout=30_000)  # the script's refresh, no navigation
    expect(page.locator("#live")).not_to_be_empty()
    expect(new_row.locator(".decision")).to_contain_text("Waiting for review", timeout=15_000)
    page.locator("h1").click()
    page.keyboard.press("j")  # the newest row first
    expect(new_row).to_have_class(re.compile("current"))
    page.keyboard.press("a")
    expect(page.get_by_role("status")).to_contain_text("approved")
    approved = row(page, media_id).locator(".decision")
    expect(approved).to_contain_text("Approved (human)", timeout=15_000)
    page.close()
