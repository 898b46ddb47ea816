"""Storage by URL: the same behaviour on a local folder, a real S3 endpoint and in memory."""

from __future__ import annotations

import errno
import os
import signal
import socket
import socketserver
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from processors.errors import ObjectNotFound, StorageError
from processors.storage import (
    TEMP_PREFIX,
    LocalStore,
    MemoryStore,
    S3Store,
    Store,
    check_key,
    open_store,
)
from tests.tmpfs import mounted_tmpfs


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
    assert store.size("media/2026/01/01/a") == 5 and store.size("media/2026/01/02/b") == 4
    with pytest.raises(ObjectNotFound):
        store.size("media/nope")
    with pytest.raises(ObjectNotFound):
        store.size("media/2026")  # a folder is not an object
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
    _exercise_create(store)


def _exercise_create(store: Store) -> None:
    """`create_bytes`: of many writers racing for one key exactly one wins, and the object is
    the winner's bytes, whole."""
    key = "idempotency/race.json"
    with ThreadPoolExecutor(8) as threads:
        won = list(threads.map(lambda i: store.create_bytes(key, b"writer %d" % i), range(16)))
    assert won.count(True) == 1
    assert store.get_bytes(key) == b"writer %d" % won.index(True)
    assert store.create_bytes(key, b"late") is False
    assert store.list("idempotency/") == [key]  # no temp file left by the losers


def test_local_store(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "bucket")
    _exercise(store, tmp_path)
    assert not [p for p in os.listdir(tmp_path / "bucket/media/2026/01/02") if p.startswith(".")]


def test_s3_store_with_a_prefix(s3_store: S3Store, tmp_path: Path) -> None:
    prefixed = S3Store(s3_store.bucket, "team-a", endpoint_url=s3_store.endpoint_url)
    _exercise(prefixed, tmp_path)
    raw = s3_store.client.list_objects_v2(Bucket=s3_store.bucket)["Contents"]
    assert [o["Key"] for o in raw] == ["team-a/idempotency/race.json", "team-a/media/2026/01/02/b"]


def test_memory_store(tmp_path: Path) -> None:
    _exercise(MemoryStore(), tmp_path)


# --- durable local writes and StorageError for every failure ------------------------------

BIG = 200_000  # more than the 64 KiB filesystems and file-size limits below allow
CHILD_ENV = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}


@pytest.fixture
def full_disk(tmp_path: Path) -> Iterator[Path]:
    """A 64 KiB filesystem: a write of `BIG` bytes runs out of space (ENOSPC) part way."""
    with mounted_tmpfs(tmp_path / "full", "size=64k") as folder:
        yield folder


def _leftovers(root: Path) -> list[str]:
    return sorted(p.name for p in root.rglob(f"{TEMP_PREFIX}*"))


def test_a_full_disk_fails_the_write_and_keeps_the_old_object(
    full_disk: Path, tmp_path: Path
) -> None:
    store = LocalStore(full_disk)
    store.put_bytes("lake/t/a.parquet", b"old")
    with pytest.raises(StorageError, match="No space left on device"):
        store.put_bytes("lake/t/a.parquet", b"x" * BIG)
    with pytest.raises(StorageError, match="No space left on device"):
        store.put_bytes("lake/t/new.parquet", b"x" * BIG)
    source = tmp_path / "big.bin"
    source.write_bytes(b"y" * BIG)
    with pytest.raises(StorageError, match="No space left on device"):
        store.put_file("lake/t/a.parquet", source)
    assert store.get_bytes("lake/t/a.parquet") == b"old"
    assert store.list("lake/") == ["lake/t/a.parquet"]
    assert os.listdir(full_disk / "lake/t") == ["a.parquet"]  # no partial file, no temp file


def test_a_file_size_limit_fails_the_write_cleanly(tmp_path: Path) -> None:
    """RLIMIT_FSIZE (EFBIG) in a child process: a disk that refuses more, without root."""
    child = f"""
import resource, signal
from pathlib import Path
from processors.errors import StorageError
from processors.storage import LocalStore
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # fail the write with EFBIG, do not kill
resource.setrlimit(resource.RLIMIT_FSIZE, (65536, 65536))
store = LocalStore(Path({str(tmp_path / "bucket")!r}))
store.put_bytes("media/a", b"old")
try:
    store.put_bytes("media/a", b"x" * {BIG})
except StorageError as e:
    print("StorageError:", e)
"""
    done = subprocess.run(
        [sys.executable, "-c", child], capture_output=True, text=True, env=CHILD_ENV, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert "StorageError:" in done.stdout and "File too large" in done.stdout
    assert (tmp_path / "bucket/media/a").read_bytes() == b"old"
    assert _leftovers(tmp_path / "bucket") == []


@pytest.fixture
def read_only(tmp_path: Path) -> Iterator[Path]:
    """A bucket folder holding `media/a` that no one may write (a read-only mount)."""
    with mounted_tmpfs(tmp_path / "ro", "size=1m") as folder:
        LocalStore(folder).put_bytes("media/a", b"kept")
        subprocess.run(["mount", "-o", "remount,ro", str(folder)], check=True)
        yield folder


def test_an_unwritable_folder_fails_every_write(read_only: Path, tmp_path: Path) -> None:
    store = LocalStore(read_only)
    source = tmp_path / "src"
    source.write_bytes(b"new")
    with pytest.raises(StorageError, match="Read-only file system"):
        store.put_bytes("media/a", b"new")
    with pytest.raises(StorageError, match="Read-only file system"):
        store.put_file("media/b/c", source)
    with pytest.raises(StorageError, match="Read-only file system"):
        store.delete("media/a")
    assert store.get_bytes("media/a") == b"kept"
    assert store.list("") == ["media/a"]


def test_local_failures_are_storage_errors_never_os_errors(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "bucket")
    store.put_bytes("media/a", b"file")
    with pytest.raises(StorageError, match="Not a directory|File exists"):
        store.put_bytes("media/a/b", b"under a file")  # a file where a folder must be
    with pytest.raises(StorageError, match="No such file"):
        store.put_file("media/b", tmp_path / "missing")
    with pytest.raises(StorageError, match="No such file"):
        store.download("media/a", tmp_path / "no-such-folder" / "copy")
    with pytest.raises(ObjectNotFound):
        store.get_bytes("media")  # a folder is not an object
    with pytest.raises(ObjectNotFound):
        store.download("media/a/b", tmp_path / "copy")
    assert not store.exists("media") and not store.exists("media/a/b")
    store.delete("media/a/b")  # nothing there: done, as on S3
    assert store.list("") == ["media/a"] and _leftovers(store.root) == []


def test_new_folders_and_the_object_are_fsynced_before_and_after_the_rename(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Durability is not observable without pulling the plug: check the order of the calls."""
    calls: list[str] = []
    fsync, replace = os.fsync, os.replace

    def recording_fsync(fd: int) -> None:
        calls.append("fsync dir" if stat.S_ISDIR(os.fstat(fd).st_mode) else "fsync file")
        fsync(fd)

    def recording_replace(src: str, dst: str) -> None:
        calls.append(f"replace {Path(src).name.startswith(TEMP_PREFIX)} {Path(dst).name}")
        replace(src, dst)

    monkeypatch.setattr(os, "fsync", recording_fsync)
    monkeypatch.setattr(os, "replace", recording_replace)
    LocalStore(tmp_path).put_bytes("lake/t/x.parquet", b"rows")
    # two new folders, each entered into its parent; then the file, the rename, its folder
    assert calls == ["fsync dir", "fsync dir", "fsync file", "replace True x.parquet", "fsync dir"]


def _feed_in_two_halves(fifo: Path, data: bytes, folder: Path, between: Callable[[], None]) -> None:
    """Write half of `data` into a FIFO, wait until the store's temp file exists, call
    `between` while the write is in progress, then write the rest."""
    deadline = time.monotonic() + 10
    while True:  # opening a FIFO blocks until its reader opens it: give up if none ever does
        try:
            fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
            break
        except OSError as e:
            assert e.errno == errno.ENXIO and time.monotonic() < deadline, "no reader"
            time.sleep(0.01)
    os.set_blocking(fd, True)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data[: len(data) // 2])
        fh.flush()
        while not any(n.startswith(TEMP_PREFIX) for n in os.listdir(folder)):
            assert time.monotonic() < deadline, "the write never started"
            time.sleep(0.01)
        between()
        fh.write(data[len(data) // 2 :])


def test_a_write_in_progress_is_invisible(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "bucket")
    key, old, new = "lake/t/dt=2026-01-01/a.parquet", b"old" * 1000, b"new" * 100_000
    store.put_bytes(key, old)
    fifo = tmp_path / "source"
    os.mkfifo(fifo)
    writer = threading.Thread(target=store.put_file, args=(key, fifo))
    writer.start()
    seen: dict[str, object] = {}

    def look() -> None:
        seen["bytes"] = store.get_bytes(key)
        seen["list"] = store.list("lake/t/")
        seen["exists"] = store.exists(key)

    _feed_in_two_halves(fifo, new, store.root / "lake/t/dt=2026-01-01", look)
    writer.join(10)
    assert seen == {"bytes": old, "list": [key], "exists": True}
    assert store.get_bytes(key) == new
    assert _leftovers(store.root) == []


def test_a_crash_mid_write_leaves_the_old_object(tmp_path: Path) -> None:
    root = tmp_path / "bucket"
    store = LocalStore(root)
    key, old = "media/2026/01/01/a", b"old"
    store.put_bytes(key, old)
    fifo = tmp_path / "source"
    os.mkfifo(fifo)
    child = (
        "from pathlib import Path; from processors.storage import LocalStore; "
        f"LocalStore(Path({str(root)!r})).put_file({key!r}, Path({str(fifo)!r}))"
    )
    proc = subprocess.Popen([sys.executable, "-c", child], env=CHILD_ENV)
    try:
        _feed_in_two_halves(
            fifo, b"n" * BIG, root / "media/2026/01/01", lambda: os.kill(proc.pid, signal.SIGKILL)
        )
    except BrokenPipeError:
        pass  # the reader died: that is the crash
    finally:
        proc.wait(10)
    assert proc.returncode == -signal.SIGKILL
    assert store.get_bytes(key) == old
    assert len(_leftovers(root)) == 1, "the crash leaves its temp file behind"
    assert store.list("media/") == [key]  # ...which no listing shows
    store.put_bytes(key, b"after")
    assert store.get_bytes(key) == b"after"


def test_concurrent_readers_see_the_old_or_the_new_object_only(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "bucket")
    versions = [bytes([65 + i]) * 1_000_000 for i in range(2)]
    store.put_bytes("lake/x", versions[0])
    done = threading.Event()
    wrong: list[int] = []

    def read() -> None:
        while not done.is_set():
            data = store.get_bytes("lake/x")
            if data not in versions:
                wrong.append(len(data))

    readers = [threading.Thread(target=read) for _ in range(2)]
    for r in readers:
        r.start()
    for i in range(100):
        store.put_bytes("lake/x", versions[i % 2])
    done.set()
    for r in readers:
        r.join(10)
    assert wrong == []


def test_keys_of_writes_in_progress_are_refused() -> None:
    with pytest.raises(ValueError, match="invalid object key"):
        check_key(f"lake/t/{TEMP_PREFIX}a.partial")


def test_memory_store_failures_are_storage_errors(tmp_path: Path) -> None:
    store = MemoryStore()
    with pytest.raises(StorageError, match="No such file"):
        store.put_file("a", tmp_path / "missing")
    store.put_bytes("a", b"x")
    with pytest.raises(StorageError, match="No such file"):
        store.download("a", tmp_path / "no-such-folder" / "copy")


def _dead_s3(endpoint: str) -> S3Store:
    """An S3 store whose client tries once, quickly (the product's retries take ~30 s)."""
    import boto3
    from botocore.config import Config

    store = S3Store("bucket", endpoint_url=endpoint)
    store._client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        config=Config(retries={"total_max_attempts": 1}, connect_timeout=1, read_timeout=1),
    )
    return store


S3_CALLS: dict[str, Callable[[S3Store, Path], object]] = {
    "put_bytes": lambda store, _: store.put_bytes("a", b"x"),
    "create_bytes": lambda store, _: store.create_bytes("a", b"x"),
    "put_file": lambda store, src: store.put_file("a", src),
    "get_bytes": lambda store, _: store.get_bytes("a"),
    "download": lambda store, src: store.download("a", src.with_name("copy")),
    "exists": lambda store, _: store.exists("a"),
    "list": lambda store, _: store.list(""),
    "delete": lambda store, _: store.delete("a"),
}


@pytest.mark.parametrize("method", sorted(S3_CALLS))
def test_every_s3_method_fails_with_a_storage_error(method: str, tmp_path: Path) -> None:
    with socket.socket() as sock:  # a port that nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    source = tmp_path / "src"
    source.write_bytes(b"x")
    with pytest.raises(StorageError):
        S3_CALLS[method](_dead_s3(f"http://127.0.0.1:{port}"), source)


def test_s3_local_file_failures_are_storage_errors(s3_store: S3Store, tmp_path: Path) -> None:
    with pytest.raises(StorageError, match="missing"):
        s3_store.put_file("a", tmp_path / "missing")
    s3_store.put_bytes("a", b"x")
    with pytest.raises(StorageError):
        s3_store.download("a", tmp_path / "no-such-folder" / "copy")


class _CutBody(socketserver.StreamRequestHandler):
    """Answers every request 200 with 10 of the 100 bytes it announces, then hangs up."""

    def handle(self) -> None:
        while self.rfile.readline() not in (b"", b"\r\n"):
            pass
        self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789")


def test_a_body_cut_short_is_a_storage_error() -> None:
    """The body streams after boto3 returned the answer: the failure surfaces in `read()`."""
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _CutBody)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        store = _dead_s3(f"http://127.0.0.1:{server.server_address[1]}")
        with pytest.raises(StorageError, match="IncompleteRead"):
            store.get_bytes("a")
    finally:
        server.shutdown()
        server.server_close()
