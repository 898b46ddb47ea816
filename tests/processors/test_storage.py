"""Storage by URL: the same behaviour on a local folder, a real S3 endpoint and in memory."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from processors.errors import ObjectNotFound
from processors.storage import LocalStore, MemoryStore, S3Store, Store, check_key, open_store


def test_urls_pick_the_backend(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    relative = open_store("file://./bucket")
    assert isinstance(relative, LocalStore) and relative.root == tmp_path / "bucket"
    absolute = open_store(f"file://{tmp_path}/abs")
    assert isinstance(absolute, LocalStore) and absolute.root == tmp_path / "abs"
    assert isinstance(open_store("plain-folder"), LocalStore)
    s3 = open_store("s3://media/team-a", endpoint_url="http://127.0.0.1:1")
    assert isinstance(s3, S3Store) and (s3.bucket, s3.prefix) == ("media", "team-a")
    assert isinstance(open_store("memory://"), MemoryStore)
    with pytest.raises(ValueError, match="use file://"):
        open_store("ftp://host/x")
    with pytest.raises(ValueError, match="names no bucket"):
        open_store("s3://")


@pytest.mark.parametrize("key", ["", "/abs", "a/../b", "a//b", "./a", "a\\b", "a/."])
def test_keys_that_could_escape_are_refused(key: str) -> None:
    with pytest.raises(ValueError, match="invalid object key"):
        check_key(key)


def _exercise(store: Store, tmp_path: Path) -> None:
    store.put_bytes("media/2026/01/01/a", b"alpha")
    source = tmp_path / "src"
    source.write_bytes(b"beta")
    store.put_file("media/2026/01/02/b", source)
    assert store.get_bytes("media/2026/01/01/a") == b"alpha"
    assert store.exists("media/2026/01/02/b") and not store.exists("media/nope")
    assert store.list("media/") == ["media/2026/01/01/a", "media/2026/01/02/b"]
    assert store.list("media/2026/01/02") == ["media/2026/01/02/b"]
    target = tmp_path / "copy"
    store.download("media/2026/01/02/b", target)
    assert target.read_bytes() == b"beta"
    store.delete("media/2026/01/01/a")
    with pytest.raises(ObjectNotFound):
        store.get_bytes("media/2026/01/01/a")
    with pytest.raises(ObjectNotFound):
        store.download("media/2026/01/01/a", target)


def test_local_store(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "bucket")
    _exercise(store, tmp_path)
    assert not [p for p in os.listdir(tmp_path / "bucket/media/2026/01/02") if p.startswith(".")]


def test_s3_store_with_a_prefix(s3_store: S3Store, tmp_path: Path) -> None:
    prefixed = S3Store(s3_store.bucket, "team-a", endpoint_url=s3_store.endpoint_url)
    _exercise(prefixed, tmp_path)
    raw = s3_store.client.list_objects_v2(Bucket=s3_store.bucket)["Contents"]
    assert [o["Key"] for o in raw] == ["team-a/media/2026/01/02/b"]


def test_memory_store(tmp_path: Path) -> None:
    _exercise(MemoryStore(), tmp_path)
