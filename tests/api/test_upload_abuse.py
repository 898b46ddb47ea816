"""Upload abuse while the API keeps answering: a chunked body far past the cap, a 50 MB
preamble, 10k parts, giant part headers and slow bodies, each refused at its bound with the
server reading no more than it must, while `/healthz` p99 stays under 200 ms; and the parsers
we rely on are at versions past their published denial-of-service fixes.
"""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path

import httpx
import pytest
from packaging.version import Version

from api.uploads import FORM_OVERHEAD
from processors.storage import LocalStore
from streams.broker import EmbeddedBroker
from tests.api.conftest import MAX_UPLOAD, Api, make_settings, running_api

BOUNDARY = "abuse-boundary"
MULTIPART = {"content-type": f"multipart/form-data; boundary={BOUNDARY}"}
CHUNK = 64 * 1024
# versions that carry the fixes for the multipart and form DoS advisories we know of
FLOORS = {
    "python-multipart": (
        "0.0.31",
        "GHSA-pp6c-gr5w-3c5g headers, GHSA-mj87-hwqh-73pj preamble, "
        "GHSA-v9pg-7xvm-68hf negative length",
    ),
    "starlette": (
        "1.3.1",
        "GHSA-82w8-qh3p-5jfq form limits, GHSA-86qp-5c8j-p5mr Host header, "
        "GHSA-7f5h-v6xp-fcq8 Range",
    ),
}


class Counted:
    """A chunked body that counts what the client managed to hand to the socket."""

    def __init__(self, head: bytes, filler: bytes, total: int, pause_s: float = 0.0) -> None:
        self.head, self.filler, self.total, self.pause_s = head, filler, total, pause_s
        self.sent = 0

    def __iter__(self) -> Iterator[bytes]:
        yield self.head
        self.sent += len(self.head)
        while self.sent < self.total:
            if self.pause_s:
                time.sleep(self.pause_s)
            yield self.filler
            self.sent += len(self.filler)


def file_head(extra_header: str = "") -> bytes:
    return (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\n'
        f"{extra_header}Content-Type: image/png\r\n\r\n"
    ).encode()


def send(api: Api, body: Counted) -> tuple[int | None, str]:
    """POST the body; the status, or None when the server hung up without an answer."""
    try:
        with api.client() as client:
            r = client.post("/v1/media", content=iter(body), headers=MULTIPART, timeout=60)
    except httpx.TransportError as e:
        return None, type(e).__name__
    return r.status_code, r.text


@pytest.fixture(scope="module")
def abused(broker: EmbeddedBroker, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    root = tmp_path_factory.mktemp("abuse")
    store = LocalStore(root / "bucket")
    api = {
        "body_idle_timeout_s": 1.0,
        "body_timeout_s": 5,
        "default_rate_per_s": 1e6,
        "default_burst": 10**6,
        "default_concurrent_uploads": 64,
    }
    settings = make_settings(broker.bootstrap, store.url, api=api)
    with running_api(settings, store, root / "uploads") as running:
        yield running


def far_past_the_cap() -> Counted:
    return Counted(file_head(), b"\0" * CHUNK, 200 * 1024 * 1024)


def huge_preamble() -> Counted:
    return Counted(b"", b"p" * CHUNK, 50 * 1024 * 1024)


def ten_thousand_parts() -> Counted:
    field = f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="labels"\r\n\r\nx\r\n'.encode()
    many = field * 10_000
    return Counted(many[:CHUNK], many[CHUNK:], len(many))


def giant_part_header() -> Counted:
    head = f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; x="'.encode()
    return Counted(head, b"h" * CHUNK, 20 * 1024 * 1024)


def slow_loris() -> Counted:
    return Counted(file_head(), b"\0" * 16, 10 * 1024 * 1024, pause_s=1.5)


@pytest.mark.parametrize(
    ("body", "status", "words", "read_at_most"),
    [
        (far_past_the_cap, 413, "larger than the limit", MAX_UPLOAD + FORM_OVERHEAD),
        (huge_preamble, 400, "", MAX_UPLOAD),
        (ten_thousand_parts, 400, "form fields", MAX_UPLOAD),
        (giant_part_header, 400, "", MAX_UPLOAD),
        (slow_loris, 408, "paused for more than 1 s", MAX_UPLOAD),
    ],
    ids=["chunked-200MB", "preamble-50MB", "10k-parts", "20MB-header", "slow-loris"],
)
def test_each_abuse_is_refused_at_its_bound(
    abused: Api, body: object, status: int, words: str, read_at_most: int
) -> None:
    made = body()  # type: ignore[operator]
    started = time.monotonic()
    code, text = send(abused, made)
    elapsed = time.monotonic() - started
    print(f"\n{status}: {made.sent / 2**20:.1f} MiB sent before the answer, {elapsed:.2f} s")
    assert code == status, (code, text[:300])
    assert words in text
    # what the client got into the socket before the answer: the read, plus kernel buffers
    assert made.sent < read_at_most + 8 * 1024 * 1024, f"{made.sent} bytes sent"
    assert elapsed < 10, f"{elapsed:.1f} s"
    assert list(abused.upload_dir.iterdir()) == []


def test_healthz_stays_fast_while_the_api_is_abused(abused: Api) -> None:
    attackers = [
        threading.Thread(target=send, args=(abused, make()), daemon=True)
        for make in (far_past_the_cap, huge_preamble, ten_thousand_parts, giant_part_header)
        for _ in range(2)
    ] + [threading.Thread(target=send, args=(abused, slow_loris()), daemon=True) for _ in range(8)]
    for t in attackers:
        t.start()
    times: list[float] = []
    with httpx.Client(base_url=abused.url, timeout=5) as probe:
        deadline = time.monotonic() + 6
        while time.monotonic() < deadline:
            started = time.perf_counter()
            assert probe.get("/healthz").status_code == 200
            times.append(time.perf_counter() - started)
            time.sleep(0.02)
    for t in attackers:
        t.join(timeout=60)
    p99 = statistics.quantiles(times, n=100)[98]
    print(
        f"/healthz under abuse: {len(times)} probes, p50 {statistics.median(times) * 1000:.1f} "
        f"ms, p99 {p99 * 1000:.1f} ms"
    )
    assert len(times) > 100
    assert p99 < 0.2


@pytest.mark.parametrize("package", sorted(FLOORS))
def test_parsers_are_past_their_denial_of_service_fixes(package: str) -> None:
    floor, advisories = FLOORS[package]
    assert Version(metadata.version(package)) >= Version(floor), advisories
    declared = [r for r in metadata.requires("reelscope") or [] if r.startswith(package)]
    assert declared and f">={floor}" in declared[0], (
        f"pyproject.toml must require {package}>={floor}"
    )


def test_a_proper_upload_still_works(abused: Api, image: Path) -> None:
    with image.open("rb") as fh, abused.client() as client:
        r = client.post("/v1/media", files={"file": ("i.png", fh)})
    assert r.status_code == 202, r.text
