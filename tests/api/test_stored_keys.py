"""Keys managed without a redeploy: `reelscope keys` against the bucket two real APIs read.

The command runs as a real process; both APIs (replicas on one bucket) must take a new key and
refuse a revoked one within seconds, and a listing too old to trust stops stored keys working.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest

from api.auth import KeyRing
from processors.apikeys import create_key, stored_keys
from processors.storage import LocalStore
from streams.broker import EmbeddedBroker
from tests.api.conftest import Api, make_settings, running_api

ROOT = Path(__file__).resolve().parents[2]
REFRESH_S = 0.2


def reelscope(store_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "REELSCOPE_STORE__URL": store_url, "REELSCOPE_LOG_LEVEL": "WARNING"}
    return subprocess.run(
        [sys.executable, "-m", "streams.cli", "keys", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture(scope="module")
def replicas(
    broker: EmbeddedBroker, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[list[Api]]:
    root = tmp_path_factory.mktemp("stored-keys")
    store = LocalStore(root / "bucket")
    settings = make_settings(broker.bootstrap, store.url, api={"keys_refresh_s": REFRESH_S})
    with ExitStack() as stack:
        yield [
            stack.enter_context(running_api(settings, LocalStore(root / "bucket"), root / f"up{i}"))
            for i in range(2)
        ]


def until(check: Callable[[], bool], timeout: float = 10.0) -> float:
    """Seconds until `check()` holds."""
    started = time.monotonic()
    while not check():
        assert time.monotonic() - started < timeout, "not within the time"
        time.sleep(0.02)
    return time.monotonic() - started


def status(api: Api, key: str) -> int:
    with httpx.Client(base_url=api.url, headers={"X-API-Key": key}, timeout=10) as c:
        return c.get("/v1/media", params={"limit": "1"}).status_code


def test_a_created_key_works_and_a_revoked_one_stops_within_seconds_on_every_replica(
    replicas: list[Api],
) -> None:
    url = replicas[0].store.url
    created = reelscope(
        url, "create", "--name", "ci-reader", "--scope", "results:read", "--brand", "scoped"
    )
    assert created.returncode == 0, created.stderr
    secret = created.stdout.strip()
    assert secret.startswith("rsk_") and "shown once" in created.stderr
    assert secret not in replicas[0].store.get_bytes("apikeys/ci-reader.json").decode()
    taken = [until(lambda a=a: status(a, secret) == 200) for a in replicas]

    listed = reelscope(url, "list")
    assert listed.returncode == 0 and "ci-reader" in listed.stdout and "scoped" in listed.stdout
    assert secret not in listed.stdout

    revoked = reelscope(url, "revoke", "--name", "ci-reader")
    assert revoked.returncode == 0, revoked.stderr
    gone = [until(lambda a=a: status(a, secret) == 401) for a in replicas]
    print(
        f"\nnew key taken after {max(taken):.2f} s, revocation after {max(gone):.2f} s "
        f"(refresh every {REFRESH_S} s)"
    )
    assert reelscope(url, "revoke", "--name", "ci-reader").returncode != 0


def test_the_command_refuses_what_would_open_every_brand_or_reuse_a_name(
    replicas: list[Api],
) -> None:
    url = replicas[0].store.url
    unbound = reelscope(url, "create", "--name", "wide", "--scope", "media:write")
    assert unbound.returncode != 0
    assert "has no brands, so it would reach every brand's media" in unbound.stderr
    first = reelscope(url, "create", "--name", "twice", "--scope", "admin")
    again = reelscope(url, "create", "--name", "twice", "--scope", "admin")
    assert first.returncode == 0 and again.returncode != 0
    assert "a stored key is named 'twice' already" in again.stderr
    nameless = reelscope(url, "create", "--scope", "admin")
    assert nameless.returncode != 0 and "needs --name" in nameless.stderr


def test_a_listing_too_old_to_trust_refuses_stored_keys(tmp_path: Path) -> None:
    """A bucket that stops answering must not keep a revoked key alive: stored keys are trusted
    for `stale_s` after their last listing; configured keys are unaffected."""
    store = LocalStore(tmp_path / "bucket")
    secret, _ = create_key(store, "stale", ["results:read"], ["acme"])
    ring = KeyRing([], store, stale_s=0.3)
    assert ring.open
    ring.refresh()
    assert not ring.open and ring.identify(secret) is not None
    time.sleep(0.4)  # no refresh meanwhile, as when every listing fails
    assert ring.identify(secret) is None
    assert not ring.open, "a ring that knew keys must never turn open"
    ring.refresh()
    assert ring.identify(secret) is not None


def test_an_unreadable_stored_entry_grants_nothing(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "bucket")
    create_key(store, "good", ["admin"], [])
    store.put_bytes("apikeys/bad.json", b'{"name": "bad", "sha256": "x"}')
    assert [k.name for k in stored_keys(store)] == ["good"]
