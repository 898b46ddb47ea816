"""Over-long form fields are answered 422 with the field and a hint, never 500."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.api.conftest import Api, upload


def _refused(response: Any, field: str) -> dict[str, Any]:
    assert response.status_code == 422, response.text
    error: dict[str, Any] = response.json()["error"]
    assert error["code"] == "invalid_request" and error["hint"]
    assert [f["field"] for f in error["fields"]] == [field]
    return error


@pytest.mark.parametrize(
    ("labels", "message"),
    [
        ({"team": "v" * 257}, "at most 256 characters"),
        ({"k" * 60_000: "v"}, "at most 64 characters"),
        ({"": "v"}, "at least 1 character"),
    ],
    ids=["long-value", "long-key", "empty-key"],
)
def test_labels_beyond_the_schema_are_422(
    api: Api, image: Path, labels: dict[str, str], message: str
) -> None:
    with api.client() as client:
        response = upload(client, image, data={"labels": json.dumps(labels)})
    error = _refused(response, "labels")
    assert message in error["fields"][0]["message"]
    assert len(response.content) < 2_000, "the refused key must not be echoed back whole"


def test_too_many_platforms_are_422(api: Api, image: Path) -> None:
    with api.client() as client:
        response = upload(client, image, data={"platforms": ",".join(["tiktok"] * 17)})
    _refused(response, "platforms")


def test_a_long_generation_model_is_422(api: Api, image: Path) -> None:
    generation = {"prompt": "p", "model": "m" * 201}
    with api.client() as client, image.open("rb") as fh:
        response = client.post(
            "/v1/generations",
            files={"file": (image.name, fh, "application/octet-stream")},
            data={"generation": json.dumps(generation)},
        )
    _refused(response, "generation")


def test_json_generation_labels_beyond_the_schema_are_422(api: Api, image: Path) -> None:
    api.store.put_file("generated/bounds/still.png", image)
    body = {
        "object_key": "generated/bounds/still.png",
        "generation": {"prompt": "p", "model": "m"},
        "labels": {"k" * 65: "v"},
    }
    with api.client() as client:
        response = client.post("/v1/generations", json=body)
    assert response.status_code == 422, response.text
