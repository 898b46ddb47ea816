"""Bodies a client could use to hold the API: oversized around the file, slow, or referenced.

Chunked bodies carry no Content-Length, so each cap has to hold while the bytes arrive; a body
that stops arriving is answered 408 instead of holding a request (and its worker thread) open.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from api.uploads import FORM_OVERHEAD
from processors.storage import LocalStore
from streams.broker import EmbeddedBroker
from tests.api.conftest import MAX_UPLOAD, Api, make_settings, running_api

BOUNDARY = "bounds-boundary"
MULTIPART = {"content-type": f"multipart/form-data; boundary={BOUNDARY}"}
IDLE_S = 1.0


@pytest.fixture(scope="module")
def impatient(broker: EmbeddedBroker, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    """An API that waits `IDLE_S` for a body's next bytes, 5 s for a whole body."""
    root = tmp_path_factory.mktemp("bounds")
    store = LocalStore(root / "bucket")
    api = {"body_idle_timeout_s": IDLE_S, "body_timeout_s": 5}
    settings = make_settings(broker.bootstrap, store.url, api=api)
    with running_api(settings, store, root / "uploads") as running:
        yield running


def part(image: Path) -> bytes:
    head = (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\n'
        "Content-Type: image/png\r\n\r\n"
    ).encode()
    return head + image.read_bytes() + f"\r\n--{BOUNDARY}--\r\n".encode()


def chunked(*pieces: bytes, pause_s: float = 0.0) -> Iterator[bytes]:
    """A body without Content-Length, 64 KiB at a time, pausing before the last piece."""
    for i, piece in enumerate(pieces):
        if i == len(pieces) - 1 and pause_s:
            time.sleep(pause_s)
        for at in range(0, len(piece), 64 * 1024):
            yield piece[at : at + 64 * 1024]


def test_bytes_after_the_parts_count_against_the_cap(impatient: Api, image: Path) -> None:
    """A small file with MAX_UPLOAD + FORM_OVERHEAD bytes of junk after the closing boundary."""
    junk = b"x" * (MAX_UPLOAD + FORM_OVERHEAD + 1)
    with impatient.client() as c:
        response = c.post("/v1/media", content=chunked(part(image), junk), headers=MULTIPART)
    assert response.status_code == 413, response.text
    error = response.json()["error"]
    assert error["message"] == f"the body is larger than the limit of {MAX_UPLOAD} bytes"
    assert f"at most {FORM_OVERHEAD} bytes of form fields" in error["hint"]
    assert list(impatient.upload_dir.iterdir()) == []


def test_bytes_before_the_first_boundary_are_malformed_at_once(impatient: Api, image: Path) -> None:
    junk = b"x" * (MAX_UPLOAD + FORM_OVERHEAD + 1)
    with impatient.client() as c:
        response = c.post("/v1/media", content=chunked(junk, part(image)), headers=MULTIPART)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "malformed_body"
    assert list(impatient.upload_dir.iterdir()) == []


def test_a_body_that_pauses_is_408(impatient: Api, image: Path) -> None:
    whole = part(image)
    with impatient.client() as c:
        paused = c.post(
            "/v1/media",
            content=chunked(whole[:100], whole[100:], pause_s=IDLE_S + 1.5),
            headers=MULTIPART,
        )
        steady = c.post("/v1/media", content=chunked(whole), headers=MULTIPART)
    assert paused.status_code == 408, paused.text
    assert (
        paused.json()["error"]["message"] == f"the request body paused for more than {IDLE_S:g} s"
    )
    assert steady.status_code == 202, "the same body sent without a pause is accepted"
    assert list(impatient.upload_dir.iterdir()) == []


def test_a_json_body_over_its_cap_says_so_in_json_terms(impatient: Api) -> None:
    rules = {"name": "Big", "required_text": ["x" * 70_000]}
    with impatient.client() as c:
        response = c.put("/v1/brands/big", json=rules)
    assert response.status_code == 413
    error = response.json()["error"]
    assert error["message"] == "the JSON body is larger than the limit of 65536 bytes"
    assert "MAX_UPLOAD_BYTES" not in error["hint"]


def test_a_referenced_object_over_the_cap_is_refused_before_it_is_downloaded(
    impatient: Api,
) -> None:
    """A 64 GiB object (sparse on disk): fetching it before asking its size would copy 64 GiB."""
    folder = impatient.store.local_path("generated/bounds")
    assert folder is not None
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "huge.mp4").open("wb") as fh:
        fh.truncate(64 << 30)
    body = {"generation": {"prompt": "p", "model": "m"}, "object_key": "generated/bounds/huge.mp4"}
    with impatient.client() as c:
        response = c.post("/v1/generations", json=body)
    assert response.status_code == 413, response.text
    assert response.json()["error"]["message"].endswith(f"limit of {MAX_UPLOAD} bytes")
    assert list(impatient.upload_dir.iterdir()) == []
    assert os.stat(folder / "huge.mp4").st_blocks == 0, "the object itself is untouched"
