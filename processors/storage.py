"""Object storage by URL: `file://` (a local folder), `s3://` (boto3), `memory://` (tests, demos).

Constructors hold configuration only; clients are made on first use, so a store is cheap to
build and safe to pass to a child process. All methods are blocking: call them from a thread
in async code.

Guarantees, the same for every store:
- a write (`put_bytes`, `put_file`) is all or nothing: a reader sees the old object or the new
  one, never a partial one, and when it returns the object is durable (local: temp file in the
  same folder, fsync, atomic rename, fsync of the folder; S3: one PUT or a completed multipart
  upload). A crash mid-write leaves the old object and, locally, at most a `.tmp-*.partial`
  file beside it, which no listing shows and no key can name;
- every failure of the store is a `StorageError` (`ObjectNotFound` for reading a missing key),
  never an `OSError` or a botocore error; an invalid key is a `ValueError` (a caller's bug).
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import stat
import tempfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Final, Protocol
from urllib.parse import urlparse
from uuid import UUID

from processors.errors import ObjectNotFound, StorageError
from schemas.ids import uuid7_time

if TYPE_CHECKING:
    import pyarrow.fs as pafs


class Store(Protocol):
    """A flat key space of immutable-ish objects; keys use `/` and never `..`."""

    url: str

    def put_file(self, key: str, path: Path) -> None: ...
    def put_bytes(self, key: str, data: bytes) -> None: ...
    def get_bytes(self, key: str) -> bytes: ...
    def download(self, key: str, path: Path) -> None: ...
    def exists(self, key: str) -> bool: ...
    def list(self, prefix: str) -> list[str]: ...
    def delete(self, key: str) -> None: ...
    def arrow_fs(self) -> tuple[pafs.FileSystem, str]:
        """Return a pyarrow filesystem and the root path that keys are relative to."""
        ...


TEMP_PREFIX: Final = ".tmp-"  # a local write in progress (or cut short by a crash): never a key
_CHUNK: Final = 1 << 20
# no object at that key (a folder, or a key under a file): what S3 would call NoSuchKey
_ABSENT: Final = (FileNotFoundError, IsADirectoryError, NotADirectoryError)


def check_key(key: str) -> str:
    """Refuse keys that could escape the store's root, confuse a path join or look like a
    write in progress (`.tmp-*` names are hidden from listings)."""
    parts = key.split("/")
    if (
        not key
        or key.startswith("/")
        or any(p in ("", ".", "..") or p.startswith(TEMP_PREFIX) for p in parts)
        or "\\" in key
    ):
        msg = f"invalid object key {key!r}: use relative keys like 'media/2026/01/02/<id>'"
        raise ValueError(msg)
    return key


def _check_prefix(prefix: str) -> str:
    if ".." in prefix.split("/") or prefix.startswith("/") or "\\" in prefix:
        msg = f"invalid prefix {prefix!r}: use a relative key prefix like 'media/2026/'"
        raise ValueError(msg)
    return prefix


def _fsync_dir(folder: Path) -> None:
    """Make a folder's entries (a renamed or created child) durable."""
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _make_dirs(folder: Path) -> None:
    """Create a folder and its missing parents, each new entry made durable in its parent."""
    missing: list[Path] = []
    while not folder.is_dir():
        missing.append(folder)
        folder = folder.parent
    for new in reversed(missing):
        try:
            new.mkdir()
        except FileExistsError:
            if not new.is_dir():  # a file where a folder must be; a racing mkdir is fine
                raise
        _fsync_dir(new.parent)


def _durable_write(target: Path, fill: Callable[[IO[bytes]], object]) -> None:
    """Write `target` so that it is the old file or the complete new one, on disk when this
    returns, even across a crash; `fill` writes the content into the temp file it is given.

    Raises `OSError`; on any failure the temp file is removed and `target` is untouched.
    """
    _make_dirs(target.parent)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=TEMP_PREFIX, suffix=".partial")
    try:
        with os.fdopen(fd, "wb") as fh:
            fill(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):  # keep the first error, not a failed cleanup
            os.unlink(tmp)
        raise
    _fsync_dir(target.parent)


def _failed(what: str, e: OSError) -> StorageError:
    reason = e.strerror or errno.errorcode.get(e.errno or 0, "") or str(e)
    return StorageError(f"{what} failed: {reason}")


@dataclass
class LocalStore:
    """A folder on local disk; writes are durable and atomic (see the module docstring).

    Deletes are not fsynced: after a crash a deleted object may be back, never a partial one.
    """

    root: Path
    url: str = ""

    def __post_init__(self) -> None:
        self.root = self.root.resolve()
        self.url = self.url or f"file://{self.root}"

    def _path(self, key: str) -> Path:
        return self.root / check_key(key)

    def _open(self, key: str) -> IO[bytes]:
        try:
            return self._path(key).open("rb")
        except _ABSENT as e:
            raise ObjectNotFound(key) from e
        except OSError as e:
            msg = f"reading {key} from {self.url}"
            raise _failed(msg, e) from e

    def put_file(self, key: str, path: Path) -> None:
        target = self._path(key)
        try:
            source = path.open("rb")
        except OSError as e:
            msg = f"reading {path} to store it as {key}"
            raise _failed(msg, e) from e
        with source:
            try:
                _durable_write(target, lambda fh: shutil.copyfileobj(source, fh, _CHUNK))
            except OSError as e:
                msg = f"writing {key} to {self.url}"
                raise _failed(msg, e) from e

    def put_bytes(self, key: str, data: bytes) -> None:
        target = self._path(key)
        try:
            _durable_write(target, lambda fh: fh.write(data))
        except OSError as e:
            msg = f"writing {key} to {self.url}"
            raise _failed(msg, e) from e

    def get_bytes(self, key: str) -> bytes:
        with self._open(key) as fh:
            try:
                return fh.read()
            except OSError as e:
                msg = f"reading {key} from {self.url}"
                raise _failed(msg, e) from e

    def download(self, key: str, path: Path) -> None:
        with self._open(key) as source:
            try:
                with path.open("wb") as fh:
                    shutil.copyfileobj(source, fh, _CHUNK)
            except OSError as e:
                msg = f"copying {key} from {self.url} to {path}"
                raise _failed(msg, e) from e

    def exists(self, key: str) -> bool:
        try:
            return stat.S_ISREG(self._path(key).stat().st_mode)
        except _ABSENT:
            return False
        except OSError as e:
            msg = f"looking up {key} in {self.url}"
            raise _failed(msg, e) from e

    def list(self, prefix: str) -> list[str]:
        """Keys under `prefix`, sorted; temp files of writes in progress are never listed."""
        base = self.root / _check_prefix(prefix) if prefix else self.root
        try:
            folder = base if base.is_dir() else base.parent
            if not folder.is_dir():
                return []
            keys = [
                (Path(top) / name).relative_to(self.root).as_posix()
                for top, _, names in os.walk(folder, onerror=_raise_unless_gone)
                for name in names
                if not name.startswith(TEMP_PREFIX)
            ]
        except OSError as e:
            msg = f"listing {prefix!r} in {self.url}"
            raise _failed(msg, e) from e
        return sorted(k for k in keys if k.startswith(prefix))

    def delete(self, key: str) -> None:
        try:
            self._path(key).unlink()
        except _ABSENT:
            return  # nothing stored there: deleting is done, as on S3
        except OSError as e:
            msg = f"deleting {key} from {self.url}"
            raise _failed(msg, e) from e

    def arrow_fs(self) -> tuple[pafs.FileSystem, str]:
        import pyarrow.fs as pafs

        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            msg = f"creating {self.root}"
            raise _failed(msg, e) from e
        return pafs.LocalFileSystem(), str(self.root)


def _raise_unless_gone(e: OSError) -> None:
    """`os.walk` error handler: a folder removed while listing holds no keys; others fail."""
    if not isinstance(e, FileNotFoundError):
        raise e


@dataclass
class S3Store:
    """A bucket (and optional prefix) on S3 or any S3-compatible endpoint."""

    bucket: str
    prefix: str = ""
    endpoint_url: str | None = None
    region: str = "us-east-1"
    url: str = ""
    _client: Any = field(default=None, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def __post_init__(self) -> None:
        self.prefix = self.prefix.strip("/")
        self.url = self.url or f"s3://{self.bucket}/{self.prefix}".rstrip("/")

    @property
    def client(self) -> Any:
        with self._lock:
            if self._client is None:
                import boto3
                from botocore.config import Config
                from botocore.exceptions import BotoCoreError

                try:
                    self._client = boto3.client(
                        "s3",
                        endpoint_url=self.endpoint_url,
                        region_name=self.region,
                        config=Config(retries={"max_attempts": 5, "mode": "adaptive"}),
                    )
                except (BotoCoreError, ValueError) as e:  # ValueError: a malformed endpoint
                    msg = f"cannot make an S3 client for {self.url}: {e}"
                    raise StorageError(msg) from e
            return self._client

    def _key(self, key: str) -> str:
        check_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    def _call(self, op: str, **kwargs: Any) -> Any:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return getattr(self.client, op)(Bucket=self.bucket, **kwargs)
        except ClientError as e:
            code = e.response.get("Error", {}).get("Code", "")
            if code in ("NoSuchKey", "404", "NotFound"):
                raise ObjectNotFound(kwargs.get("Key", "")) from e
            msg = f"S3 {op} on s3://{self.bucket}/{kwargs.get('Key', '')} failed: {code or e}"
            raise StorageError(msg) from e
        except BotoCoreError as e:
            msg = f"S3 {op} on s3://{self.bucket} failed: {e}"
            raise StorageError(msg) from e

    def put_file(self, key: str, path: Path) -> None:
        from boto3.exceptions import Boto3Error
        from botocore.exceptions import BotoCoreError, ClientError

        target = self._key(key)
        try:
            self.client.upload_file(str(path), self.bucket, target)
        # upload_file wraps ClientError; OSError: the local file cannot be read
        except (BotoCoreError, ClientError, Boto3Error, OSError) as e:
            msg = f"S3 upload of {path} to s3://{self.bucket}/{target} failed: {e}"
            raise StorageError(msg) from e

    def put_bytes(self, key: str, data: bytes) -> None:
        self._call("put_object", Key=self._key(key), Body=data)

    def get_bytes(self, key: str) -> bytes:
        from botocore.exceptions import BotoCoreError

        response = self._call("get_object", Key=self._key(key))
        try:  # the body streams after the answer: a cut connection fails here, not in _call
            body: bytes = response["Body"].read()
        except (BotoCoreError, OSError) as e:
            msg = f"S3 read of s3://{self.bucket}/{self._key(key)} failed: {e}"
            raise StorageError(msg) from e
        return body

    def download(self, key: str, path: Path) -> None:
        from boto3.exceptions import Boto3Error
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self.client.download_file(self.bucket, self._key(key), str(path))
        except ClientError as e:
            if e.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                raise ObjectNotFound(key) from e
            msg = f"S3 download of {key} failed: {e}"
            raise StorageError(msg) from e
        # Boto3Error: RetriesExceededError; OSError: the local file cannot be written
        except (BotoCoreError, Boto3Error, OSError) as e:
            msg = f"S3 download of {key} to {path} failed: {e}"
            raise StorageError(msg) from e

    def exists(self, key: str) -> bool:
        try:
            self._call("head_object", Key=self._key(key))
        except ObjectNotFound:
            return False
        return True

    def list(self, prefix: str) -> list[str]:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return sorted(self._iter_keys(prefix))
        except (BotoCoreError, ClientError) as e:
            msg = f"S3 listing of s3://{self.bucket}/{prefix} failed: {e}"
            raise StorageError(msg) from e

    def _iter_keys(self, prefix: str) -> Iterator[str]:
        _check_prefix(prefix)
        full = f"{self.prefix}/{prefix}" if self.prefix else prefix
        strip = len(f"{self.prefix}/") if self.prefix else 0
        for page in self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=full
        ):
            for obj in page.get("Contents", []):
                yield obj["Key"][strip:]

    def delete(self, key: str) -> None:
        self._call("delete_object", Key=self._key(key))

    def arrow_fs(self) -> tuple[pafs.FileSystem, str]:
        import pyarrow as pa
        import pyarrow.fs as pafs
        from botocore.exceptions import BotoCoreError

        endpoint = urlparse(self.endpoint_url) if self.endpoint_url else None
        try:
            creds = self.client._request_signer._credentials  # resolved once by boto3
            fs = pafs.S3FileSystem(
                access_key=creds.access_key if creds else None,
                secret_key=creds.secret_key if creds else None,
                session_token=creds.token if creds else None,
                region=self.region,
                endpoint_override=endpoint.netloc if endpoint else None,
                scheme="http" if endpoint and endpoint.scheme == "http" else "https",
            )
        except (BotoCoreError, pa.ArrowException) as e:  # refreshing credentials, bad options
            msg = f"cannot open {self.url} for pyarrow: {e}"
            raise StorageError(msg) from e
        return fs, f"{self.bucket}/{self.prefix}".rstrip("/")


@dataclass
class MemoryStore:
    """A dict; for tests and throwaway demos (lost with the process)."""

    url: str = "memory://"
    objects: dict[str, bytes] = field(default_factory=dict)

    def put_file(self, key: str, path: Path) -> None:
        check_key(key)
        try:
            data = path.read_bytes()
        except OSError as e:
            msg = f"reading {path} to store it as {key}"
            raise _failed(msg, e) from e
        self.objects[key] = data

    def put_bytes(self, key: str, data: bytes) -> None:
        self.objects[check_key(key)] = bytes(data)  # a copy: a caller's buffer may change

    def get_bytes(self, key: str) -> bytes:
        try:
            return self.objects[key]
        except KeyError as e:
            raise ObjectNotFound(key) from e

    def download(self, key: str, path: Path) -> None:
        data = self.get_bytes(key)
        try:
            path.write_bytes(data)
        except OSError as e:
            msg = f"copying {key} to {path}"
            raise _failed(msg, e) from e

    def exists(self, key: str) -> bool:
        return key in self.objects

    def list(self, prefix: str) -> list[str]:
        return sorted(k for k in self.objects if k.startswith(prefix))

    def delete(self, key: str) -> None:
        self.objects.pop(key, None)

    def arrow_fs(self) -> tuple[pafs.FileSystem, str]:
        msg = "memory:// stores cannot back the lake; use file:// or s3://"
        raise StorageError(msg)


def open_store(url: str, *, endpoint_url: str | None = None, region: str = "us-east-1") -> Store:
    """Open the store a URL names: `file:///path` or a bare path, `s3://bucket/prefix`, `memory://`."""
    parsed = urlparse(url)
    if parsed.scheme == "":
        return LocalStore(Path(url))
    if parsed.scheme == "file":  # file:///abs/path, or file://./relative (netloc ".")
        return LocalStore(Path(parsed.netloc + parsed.path))
    if parsed.scheme == "s3":
        if not parsed.netloc:
            msg = f"{url!r} names no bucket: use s3://BUCKET[/PREFIX]"
            raise ValueError(msg)
        return S3Store(parsed.netloc, parsed.path, endpoint_url=endpoint_url, region=region)
    if parsed.scheme == "memory":
        return MemoryStore()
    msg = f"unsupported store URL {url!r}: use file://, s3:// or memory://"
    raise ValueError(msg)


def media_key(media_id: UUID) -> str:
    """Key of an accepted media object: the bucket's ledger is `media/<yyyy>/<mm>/<dd>/<id>`."""
    return f"media/{uuid7_time(media_id):%Y/%m/%d}/{media_id}"
