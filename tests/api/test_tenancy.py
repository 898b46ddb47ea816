"""Keys bound to brands, over real HTTP: every route walked with another tenant's key.

Two tenants (acme, globex), each with a read-write key and a brand admin; one media of each,
one processing (ledger only) and one with a result. globex's keys must learn nothing of acme's
media (404 as for an unknown id), touch none of its brand (403) and reference none of its
objects; the route list is read from the app, so a new route without a case here fails.
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import pytest

from api.settings import hash_key
from processors.apikeys import create_key, revoke_key
from processors.storage import LocalStore
from schemas.ids import uuid7
from schemas.topics import MEDIA_GENERATED
from streams.broker import EmbeddedBroker
from tests.api.conftest import (
    Api,
    create_brand,
    events_for,
    make_settings,
    media_id_of,
    running_api,
    upload,
)
from tests.api.test_status import publish_result, result_for

KEYS: dict[str, tuple[list[str], list[str]]] = {  # key: (scopes, brands)
    "root-key": (["admin", "media:write", "results:read"], []),
    "acme-key": (["media:write", "results:read"], ["acme"]),
    "acme-admin-key": (["admin"], ["acme"]),
    "globex-key": (["media:write", "results:read"], ["globex"]),
    "globex-admin-key": (["admin"], ["globex"]),
    "both-key": (["media:write", "results:read"], ["acme", "globex"]),
    "acme-writer-key": (["media:write"], ["acme"]),
    "acme-reader-key": (["results:read"], ["acme"]),
    "globex-all-key": (["admin", "media:write", "results:read"], ["globex"]),
}
ANALYTICS = ("compliance", "violations", "costs", "latency")
FLOOR_S = 0.15  # api.not_found_floor_s here (0.2 s by default; an unknown id took 40-72 ms)


@pytest.fixture(scope="module")
def tenants(broker: EmbeddedBroker, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    root = tmp_path_factory.mktemp("tenancy")
    store = LocalStore(root / "bucket")
    keys = [
        {"name": k.removesuffix("-key"), "sha256": hash_key(k), "scopes": s, "brands": b}
        for k, (s, b) in KEYS.items()
    ]
    settings = make_settings(
        broker.bootstrap,
        store.url,
        api={"keys": keys, "keys_refresh_s": 0.2, "not_found_floor_s": FLOOR_S},
    )
    with running_api(settings, store, root / "uploads") as api:
        with api.client("root-key") as c:
            create_brand(c, "acme", name="Acme")
            create_brand(c, "globex", name="Globex")
        yield api


@pytest.fixture(scope="module")
def media(tenants: Api, image: Path) -> dict[str, UUID]:
    """acme: one media with a result, one still processing; globex: one with a result."""
    found: dict[str, UUID] = {}
    tenants.wait_follower()
    for name, key in (
        ("acme", "acme-key"),
        ("acme-processing", "acme-key"),
        ("globex", "globex-key"),
    ):
        with tenants.client(key) as c:
            found[name] = media_id_of(upload(c, image))
    return found


@pytest.fixture(scope="module")
def results(tenants: Api, media: dict[str, UUID]) -> dict[str, UUID]:
    import asyncio

    for name in ("acme", "globex"):
        result = result_for(media[name], brand_id=name)
        asyncio.run(publish_result(tenants.settings.kafka.bootstrap, result))
    with tenants.client("root-key") as c:
        for name in ("acme", "globex"):
            wait_done(c, media[name])
    return media


def wait_done(client: httpx.Client, media_id: UUID) -> None:
    import time

    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if client.get(f"/v1/media/{media_id}").json().get("status") == "done":
            return
        time.sleep(0.1)
    raise AssertionError(f"{media_id} never done")


def error(response: httpx.Response) -> dict[str, Any]:
    body = response.json()
    assert set(body) == {"error"}, body
    return dict(body["error"])


def test_a_single_brand_key_uploads_for_its_brand_without_naming_it(
    tenants: Api, image: Path
) -> None:
    with tenants.client("acme-key") as c:
        media_id = media_id_of(upload(c, image))
        state = c.get(f"/v1/media/{media_id}").json()
    assert state["brand_id"] == "acme"
    event = json.loads(tenants.store.get_bytes(f"{_ledger(media_id)}.event.json"))
    assert event["brand_id"] == "acme"


def _ledger(media_id: UUID) -> str:
    from processors.keys import media_key

    return media_key(media_id)


def test_a_key_of_several_brands_must_name_one(tenants: Api, image: Path) -> None:
    with tenants.client("both-key") as c:
        missing = upload(c, image)
        named = upload(c, image, data={"brand_id": "globex"})
    assert missing.status_code == 422
    assert error(missing)["fields"] == [
        {
            "field": "brand_id",
            "message": "brand_id is required: this key uploads for several brands",
        }
    ]
    assert "acme, globex" in error(missing)["hint"]
    assert named.status_code == 202


def test_another_tenants_media_is_not_found_exactly_like_an_unknown_id(
    tenants: Api, results: dict[str, UUID]
) -> None:
    unknown = uuid7()
    with tenants.client("globex-key") as g:
        for name in ("acme", "acme-processing"):
            for suffix in ("", "/evidence.png"):
                theirs = g.get(f"/v1/media/{results[name]}{suffix}")
                nothing = g.get(f"/v1/media/{unknown}{suffix}")
                assert theirs.status_code == nothing.status_code == 404, (name, suffix)
                assert error(theirs) == {
                    k: v.replace(str(unknown), str(results[name]))
                    for k, v in error(nothing).items()
                }
        own = g.get(f"/v1/media/{results['globex']}")
    assert own.status_code == 200 and own.json()["brand_id"] == "globex"
    with tenants.client("acme-key") as a:
        assert a.get(f"/v1/media/{results['acme-processing']}").json()["status"] == "processing"
        assert a.get(f"/v1/media/{results['acme']}").json()["status"] == "done"


def test_another_tenants_media_takes_as_long_to_be_not_found_as_an_unknown_id(
    tenants: Api, results: dict[str, UUID]
) -> None:
    """A recent result of acme is found in memory, an unknown id after a lake scan and two
    bucket reads: without the floor, globex could tell them apart by the clock."""
    cases = {"unknown": uuid7(), "acme done": results["acme"]}
    cases["acme processing"] = results["acme-processing"]
    times: dict[str, list[float]] = {name: [] for name in cases}
    with tenants.client("globex-key") as g:
        for _ in range(8):
            for name, media_id in cases.items():
                started = time.perf_counter()
                assert g.get(f"/v1/media/{media_id}").status_code == 404
                times[name].append(time.perf_counter() - started)
    medians = {name: statistics.median(t) for name, t in times.items()}
    print({name: f"{m * 1000:.1f} ms" for name, m in medians.items()})
    assert min(min(t) for t in times.values()) >= FLOOR_S
    assert max(medians.values()) - min(medians.values()) < 0.01


def test_lists_hold_only_the_keys_brands(tenants: Api, results: dict[str, UUID]) -> None:
    def listed(key: str, **params: str) -> set[str]:
        with tenants.client(key) as c:
            response = c.get("/v1/media", params={"limit": "500", **params})
        assert response.status_code == 200, response.text
        return {i["brand_id"] for i in response.json()["items"]}

    assert listed("globex-key") == {"globex"}
    assert listed("acme-key") == {"acme"}
    assert listed("both-key") == {"acme", "globex"}
    assert listed("both-key", brand_id="acme") == {"acme"}
    assert listed("root-key") >= {"acme", "globex"}
    with tenants.client("globex-key") as g:
        refused = g.get("/v1/media", params={"brand_id": "acme"})
    assert refused.status_code == 403 and error(refused)["code"] == "forbidden"


@pytest.mark.parametrize("path", ANALYTICS)
def test_analytics_cover_only_the_keys_brands(tenants: Api, path: str) -> None:
    with tenants.client("globex-key") as g:
        theirs = g.get(f"/v1/analytics/{path}", params={"brand_id": "acme"})
        own = g.get(f"/v1/analytics/{path}")
        named = g.get(f"/v1/analytics/{path}", params={"brand_id": "globex"})
    assert theirs.status_code == 403 and error(theirs)["code"] == "forbidden"
    assert own.status_code == 200 and own.json()["filters"]["brands"] == ["globex"]
    assert named.status_code == 200 and named.json()["filters"]["brands"] == ["globex"]
    assert all(i.get("brand_id") in (None, "globex") for i in own.json()["items"])


def test_brand_profiles_and_logos_of_another_brand_are_forbidden(tenants: Api, logo: Path) -> None:
    rules = {"name": "Hijacked"}
    with tenants.client("globex-key") as g, tenants.client("globex-admin-key") as ga:
        answers = [
            g.get("/v1/brands/acme"),
            ga.get("/v1/brands/acme"),
            ga.put("/v1/brands/acme", json=rules),
            ga.put("/v1/brands/acme/logo", content=logo.read_bytes(), headers=PNG),
            ga.post("/v1/brands/acme/logos", content=logo.read_bytes(), headers=PNG),
            ga.put("/v1/brands/newbrand", json=rules),  # a brand admin makes no new brands
        ]
        own = ga.put("/v1/brands/globex", json={"name": "Globex 2"})
    for response in answers:
        assert response.status_code == 403, response.text
        assert error(response)["code"] == "forbidden"
    assert own.status_code == 200 and own.json()["version"] == 2
    with tenants.client("root-key") as root:
        assert root.get("/v1/brands/acme").json()["name"] == "Acme"
        assert root.get("/v1/brands/newbrand").status_code == 404


PNG = {"content-type": "image/png"}


def test_uploads_and_generations_for_another_brand_are_forbidden(tenants: Api, image: Path) -> None:
    generation = {"prompt": "a can on a beach", "model": "imagen-4"}
    tenants.store.put_file("generated/acme/can.png", image)
    tenants.store.put_file("generated/globex/can.png", image)
    with tenants.client("globex-key") as g:
        as_acme = upload(g, image, data={"brand_id": "acme"})
        with image.open("rb") as fh:
            form = g.post(
                "/v1/generations",
                files={"file": ("can.png", fh, "image/png")},
                data={"brand_id": "acme", "generation": json.dumps(generation)},
            )
        body = {"generation": generation, "object_key": "generated/globex/can.png"}
        json_brand = g.post("/v1/generations", json={**body, "brand_id": "acme"})
        their_folder = g.post(
            "/v1/generations", json={**body, "object_key": "generated/acme/can.png"}
        )
        own = g.post("/v1/generations", json=body)
    for response in (as_acme, form, json_brand, their_folder):
        assert response.status_code == 403, response.text
    assert "generated/globex/" in error(their_folder)["message"]
    assert own.status_code == 202
    event = json.loads(tenants.store.get_bytes(f"{_ledger(media_id_of(own))}.event.json"))
    assert event["brand_id"] == "globex"


def test_another_tenants_ledger_object_reads_as_missing(
    tenants: Api, results: dict[str, UUID]
) -> None:
    generation = {"prompt": "p", "model": "m"}
    theirs = _ledger(results["acme"])
    missing = _ledger(uuid7())
    with tenants.client("globex-key") as g:
        taken = g.post("/v1/generations", json={"generation": generation, "object_key": theirs})
        absent = g.post("/v1/generations", json={"generation": generation, "object_key": missing})
    assert taken.status_code == absent.status_code == 422
    assert error(taken)["message"] == error(absent)["message"].replace(missing, theirs)
    with tenants.client("acme-key") as a:
        own = a.post("/v1/generations", json={"generation": generation, "object_key": theirs})
    assert own.status_code == 202, own.text


async def test_no_event_is_published_for_a_refused_brand(tenants: Api, image: Path) -> None:
    with tenants.client("globex-key") as g:
        refused = g.post(
            "/v1/generations",
            json={
                "generation": {"prompt": "p", "model": "m"},
                "object_key": "generated/globex/can.png",
                "brand_id": "acme",
            },
            headers={"Idempotency-Key": "refused-one"},
        )
    assert refused.status_code == 403
    assert not tenants.store.list("idempotency/") or all(
        b"refused-one" not in tenants.store.get_bytes(k) for k in tenants.store.list("idempotency/")
    )
    events = await events_for(tenants.settings.kafka.bootstrap, MEDIA_GENERATED, "refused-one")
    assert events == []


# every /v1 route and the test above that walks it with another tenant's key
WALKED = {
    ("POST", "/v1/media"): "test_uploads_and_generations_for_another_brand_are_forbidden",
    ("GET", "/v1/media"): "test_lists_hold_only_the_keys_brands",
    (
        "GET",
        "/v1/media/{media_id}",
    ): "test_another_tenants_media_is_not_found_exactly_like_an_unknown_id",
    (
        "GET",
        "/v1/media/{media_id}/evidence.png",
    ): "test_another_tenants_media_is_not_found_exactly_like_an_unknown_id",
    ("POST", "/v1/generations"): "test_uploads_and_generations_for_another_brand_are_forbidden",
    (
        "PUT",
        "/v1/brands/{brand_id}",
    ): "test_brand_profiles_and_logos_of_another_brand_are_forbidden",
    (
        "GET",
        "/v1/brands/{brand_id}",
    ): "test_brand_profiles_and_logos_of_another_brand_are_forbidden",
    (
        "PUT",
        "/v1/brands/{brand_id}/logo",
    ): "test_brand_profiles_and_logos_of_another_brand_are_forbidden",
    (
        "POST",
        "/v1/brands/{brand_id}/logos",
    ): "test_brand_profiles_and_logos_of_another_brand_are_forbidden",
    **{
        ("GET", f"/v1/analytics/{p}"): "test_analytics_cover_only_the_keys_brands"
        for p in ANALYTICS
    },
}


def test_every_route_is_walked_with_another_tenants_key(tenants: Api) -> None:
    paths = tenants.app.openapi()["paths"]
    routes = {
        (method.upper(), path)
        for path, operations in paths.items()
        if path.startswith("/v1/")
        for method in operations
    }
    assert routes == set(WALKED)
    assert all(name in globals() for name in WALKED.values())


# the authorization matrix: each role against acme's resources; the cells are the statuses
ROLES = ("none", "revoked", "acme-writer", "acme-reader", "acme-admin", "globex-all")
MATRIX: dict[str, tuple[int, ...]] = {
    #                                       none revoked writer reader admin globex
    "POST /v1/media": (401, 401, 202, 403, 403, 403),
    "GET /v1/media": (401, 401, 403, 200, 403, 403),
    "GET /v1/media/{media_id}": (401, 401, 403, 200, 403, 404),
    "GET /v1/media/{media_id}/evidence.png": (401, 401, 403, 200, 403, 404),
    "POST /v1/generations": (401, 401, 202, 403, 403, 403),
    "PUT /v1/brands/{brand_id}": (401, 401, 403, 403, 200, 403),
    "GET /v1/brands/{brand_id}": (401, 401, 403, 200, 200, 403),
    "PUT /v1/brands/{brand_id}/logo": (401, 401, 403, 403, 200, 403),
    "POST /v1/brands/{brand_id}/logos": (401, 401, 403, 403, 200, 403),
    **{f"GET /v1/analytics/{p}": (401, 401, 403, 200, 403, 403) for p in ANALYTICS},
}


@pytest.fixture(scope="module")
def revoked(tenants: Api) -> str:
    """A stored key of acme with every scope, revoked: it worked, then it must not."""
    secret, _ = create_key(
        tenants.store, "revoked", ["admin", "media:write", "results:read"], ["acme"]
    )
    _wait_status(tenants, secret, 200)
    assert revoke_key(tenants.store, "revoked")
    _wait_status(tenants, secret, 401)
    return secret


def _wait_status(api: Api, key: str, status: int) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with api.client(key) as c:
            if c.get("/v1/brands/acme").status_code == status:
                return
        time.sleep(0.1)
    raise AssertionError(f"the stored key never answered {status}")


def call(
    api: Api, key: str | None, route: str, ids: dict[str, UUID], files: dict[str, Path]
) -> httpx.Response:
    """One request of `route` against acme's resources, as `key`."""
    method, template = route.split(" ", 1)
    path = template.replace("{media_id}", str(ids["acme"])).replace("{brand_id}", "acme")
    with api.client(key) as c:
        if route == "POST /v1/media":
            return upload(c, files["image"], data={"brand_id": "acme"})
        if route == "POST /v1/generations":
            body = {"generation": {"prompt": "p", "model": "m"}, "brand_id": "acme"}
            body["object_key"] = "generated/acme/matrix.png"
            return c.post(path, json=body, headers={"Idempotency-Key": str(uuid7())})
        if route == "PUT /v1/brands/{brand_id}":
            return c.put(path, json={"name": "Acme"})
        if route.endswith("/logo") or route.endswith("/logos"):
            png = files["logo"].read_bytes()
            return c.request(method, path, content=png, headers={"content-type": "image/png"})
        query = {"brand_id": "acme"} if "analytics" in route or route == "GET /v1/media" else {}
        return c.request(method, path, params=query)


def test_the_authorization_matrix(
    tenants: Api, results: dict[str, UUID], revoked: str, image: Path, logo: Path
) -> None:
    tenants.store.put_bytes("generated/acme/matrix.png", image.read_bytes())
    keys = {"none": None, "revoked": revoked} | {r: f"{r}-key" for r in ROLES[2:]}
    files = {"image": image, "logo": logo}
    got: dict[str, tuple[int, ...]] = {}
    for route in MATRIX:
        answers = [call(tenants, keys[role], route, results, files) for role in ROLES]
        got[route] = tuple(a.status_code for a in answers)
    width = max(map(len, MATRIX))
    print(f"\n{'':{width}} " + " ".join(f"{r:>11}" for r in ROLES))
    for route, cells in got.items():
        print(f"{route:{width}} " + " ".join(f"{c:>11}" for c in cells))
    assert got == MATRIX
    with tenants.client("globex-all-key") as g:
        listed = g.get("/v1/media").json()
    acme = {str(results["acme"]), str(results["acme-processing"])}
    assert acme.isdisjoint(json.dumps(listed).split('"'))  # not one of acme's rows


def test_the_matrix_covers_every_route(tenants: Api) -> None:
    routes = {f"{m} {p}" for m, p in WALKED}
    assert set(MATRIX) == routes
