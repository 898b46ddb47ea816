"""PUT/GET /v1/brands/{id} and its logo: versions increment, logos are sniffed images."""

from __future__ import annotations

import hashlib
from pathlib import Path

import cv2
import numpy as np

from api.profiles import MAX_LOGOS
from processors.synthetic.samples import make_logo
from schemas.profiles import BrandProfile
from schemas.topics import BRANDS
from tests.api.conftest import Api, create_brand, events_for
from tests.helpers import png_declaring


async def test_versions_increment_and_are_published(api: Api, topic_suffix: str) -> None:
    brand = f"acme-{topic_suffix}"
    with api.client() as client:
        first = create_brand(client, brand, name="Acme")
        second = create_brand(client, brand, name="Acme Corp")
        read = client.get(f"/v1/brands/{brand}")
    assert (first["version"], second["version"]) == (1, 2)
    assert read.status_code == 200
    profile = BrandProfile.model_validate(read.json())
    assert (profile.version, profile.name, profile.brand_id) == (2, "Acme Corp", brand)
    assert read.json()["schema"] == "reelscope.brand.profile/1"
    stored = BrandProfile.model_validate_json(api.store.get_bytes(f"brands/{brand}/profile.json"))
    assert stored == profile
    events = await events_for(api.settings.kafka.bootstrap, BRANDS, brand)
    assert [e["version"] for e in events] == [1, 2]


async def test_logo_is_stored_by_hash_and_kept_across_rule_changes(
    api: Api, logo: Path, topic_suffix: str
) -> None:
    brand = f"logoco-{topic_suffix}"
    with api.client() as client:
        create_brand(client, brand)
        response = client.put(
            f"/v1/brands/{brand}/logo",
            content=logo.read_bytes(),
            headers={"Content-Type": "image/png"},
        )
        assert response.status_code == 200, response.text
        with logo.open("rb") as fh:
            again = client.put(f"/v1/brands/{brand}/logo", files={"file": ("logo.png", fh)})
        rules = create_brand(client, brand, name="Logo Co")
    key = f"brands/{brand}/logos/{hashlib.sha256(logo.read_bytes()).hexdigest()}.png"
    assert response.json()["logos"] == [key]
    assert response.json()["version"] == 2
    assert again.json()["version"] == 3
    assert rules["version"] == 4
    assert rules["logos"] == [key]
    assert api.store.get_bytes(key) == logo.read_bytes()
    events = await events_for(api.settings.kafka.bootstrap, BRANDS, brand)
    assert [e["version"] for e in events] == [1, 2, 3, 4]


def test_logo_that_is_not_an_image_is_422(api: Api, tmp_path: Path, video: Path) -> None:
    with api.client() as client:
        create_brand(client, "badlogo")
        text = client.put(
            "/v1/brands/badlogo/logo",
            content=b"<svg>not allowed</svg>" * 10,
            headers={"Content-Type": "image/png"},
        )
        movie = client.put("/v1/brands/badlogo/logo", content=video.read_bytes())
        profile = client.get("/v1/brands/badlogo").json()
    for response in (text, movie):
        assert response.status_code == 422
        assert response.json()["error"]["code"] == "invalid_logo"
    assert profile["version"] == 1
    assert profile["logos"] == []
    assert list(api.upload_dir.iterdir()) == []


def test_unknown_brand_and_bad_ids(api: Api, logo: Path) -> None:
    with api.client() as client:
        missing = client.get("/v1/brands/ghost")
        logo_missing = client.put("/v1/brands/ghost/logo", content=logo.read_bytes())
        bad_id = client.put("/v1/brands/Bad%20Id", json={"name": "x"})
        bad_rules = client.put(
            "/v1/brands/okid", json={"name": "", "tolerance_de": -1, "colour": "red"}
        )
    assert missing.status_code == 404
    assert missing.json()["error"]["hint"].startswith("create it with PUT")
    assert logo_missing.status_code == 404
    assert bad_id.status_code == 422
    assert bad_id.json()["error"]["fields"][0]["field"] == "path.brand_id"
    assert bad_rules.status_code == 422
    fields = {f["field"] for f in bad_rules.json()["error"]["fields"]}
    assert fields == {"body.name", "body.tolerance_de", "body.colour"}


def test_logo_variants_are_added_once_each_and_replaced_by_put(
    api: Api, logo: Path, tmp_path: Path, topic_suffix: str
) -> None:
    white = make_logo(tmp_path / "white.png", colours=("#FFFFFF", "#E4002B"))
    brand = f"variants-{topic_suffix}"
    with api.client() as client:
        create_brand(client, brand)
        png = {"Content-Type": "image/png"}
        client.put(f"/v1/brands/{brand}/logo", content=logo.read_bytes(), headers=png)
        added = client.post(f"/v1/brands/{brand}/logos", content=white.read_bytes(), headers=png)
        twice = client.post(f"/v1/brands/{brand}/logos", content=white.read_bytes(), headers=png)
        replaced = client.put(f"/v1/brands/{brand}/logo", content=white.read_bytes(), headers=png)
    assert added.status_code == 200, added.text
    assert len(added.json()["logos"]) == 2
    assert twice.json()["logos"] == added.json()["logos"]
    assert replaced.json()["logos"] == [added.json()["logos"][1]]


def test_rules_bodies_are_bounded_and_read_only_for_a_valid_key(api: Api) -> None:
    huge = b'{"name": "' + b"x" * 2_000_000 + b'"}'
    json_type = {"content-type": "application/json"}
    with api.client() as admin, api.client(key=None) as anonymous:
        declared = admin.put("/v1/brands/big", content=huge, headers=json_type)
        chunked = admin.put("/v1/brands/big", content=iter([huge[:70_000]] * 40), headers=json_type)
        unread = anonymous.put("/v1/brands/big", content=huge, headers=json_type)
        missing = admin.get("/v1/brands/big")
    assert (declared.status_code, chunked.status_code) == (413, 413)
    assert declared.json()["error"]["code"] == "too_large"
    assert unread.status_code == 401  # the key is checked before a byte of the body is read
    assert missing.status_code == 404


def test_a_logo_the_checks_could_not_use_is_refused_at_upload(api: Api) -> None:
    bomb = png_declaring(100_000, 100_000)
    blank = cv2.imencode(".png", np.zeros((64, 64, 4), np.uint8))[1].tobytes()
    with api.client() as client:
        create_brand(client, "bomblogo")
        answers = [
            client.put(
                "/v1/brands/bomblogo/logo", content=body, headers={"Content-Type": "image/png"}
            )
            for body in (bomb, blank)
        ]
        profile = client.get("/v1/brands/bomblogo").json()
    errors = [a.json()["error"] for a in answers]
    assert [a.status_code for a in answers] == [422, 422]
    assert "declares 100000x100000 pixels" in errors[0]["message"]
    assert "no visible pixels" in errors[1]["message"]
    assert all(e["code"] == "invalid_logo" and "4096 px" in e["hint"] for e in errors)
    assert (profile["version"], profile["logos"]) == (1, [])


def test_a_ninth_logo_is_refused_with_the_way_out(api: Api) -> None:
    with api.client() as client:
        create_brand(client, "manylogos")
        for shade in range(MAX_LOGOS):
            mark = make_logo_bytes(shade)
            added = client.post(
                "/v1/brands/manylogos/logos", content=mark, headers={"Content-Type": "image/png"}
            )
            assert added.status_code == 200, added.text
        ninth = client.post(
            "/v1/brands/manylogos/logos",
            content=make_logo_bytes(MAX_LOGOS),
            headers={"Content-Type": "image/png"},
        )
    assert ninth.status_code == 422
    assert ninth.json()["error"]["code"] == "too_many_logos"
    assert "PUT /v1/brands/{brand_id}/logo" in ninth.json()["error"]["hint"]


def make_logo_bytes(shade: int) -> bytes:
    """A distinct opaque mark on a transparent ground (distinct bytes: a new logo each)."""
    img = np.zeros((64, 64, 4), np.uint8)
    img[16:48, 16:48] = (20 * shade, 100, 200, 255)
    return cv2.imencode(".png", img)[1].tobytes()
