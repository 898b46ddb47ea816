"""Object storage by URL: `file://` (a local folder), `s3://` (boto3), `memory://` (tests, demos).

Constructors hold configuration only; clients are made on first use, so a store is cheap to
build and safe to pass to a child process. All methods are blocking: call them from a thread
in async code.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol
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


def check_key(key: str) -> str:
    """Refuse keys that could escape the store's root or confuse a path join."""
    parts = key.split("/")
    if not key or key.startswith("/") or any(p in ("", ".", "..") for p in parts) or "\\" in key:
        msg = f"invalid object key {key!r}: use relative keys like 'media/2026/01/02/<id>'"
        raise ValueError(msg)
    return key


@dataclass
class LocalStore:
    """A folder on local disk; writes are atomic (temp file + rename)."""

    root: Path
    url: str = ""

    def __post_init__(self) -> None:
        self.root = self.root.resolve()
        self.url = self.url or f"file://{self.root}"

    def _path(self, key: str) -> Path:
        return self.root / check_key(key)

    def put_file(self, key: str, path: Path) -> None:
        target = self._path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
        os.close(fd)
        shutil.copyfile(path, tmp)
        os.replace(tmp, target)

    def put_bytes(self, key: str, data: bytes) -> None:
        target = self._path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, target)

    def get_bytes(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError as e:
            raise ObjectNotFound(key) from e

    def download(self, key: str, path: Path) -> None:
        try:
            shutil.copyfile(self._path(key), path)
        except FileNotFoundError as e:
            raise ObjectNotFound(key) from e

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def list(self, prefix: str) -> list[str]:
        base = self.root / prefix if prefix else self.root
        folder = base if base.is_dir() else base.parent
        if not folder.exists():
            return []
        keys = (p.relative_to(self.root).as_posix() for p in folder.rglob("*") if p.is_file())
        return sorted(k for k in keys if k.startswith(prefix) and "/.tmp-" not in f"/{k}")

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def arrow_fs(self) -> tuple[pafs.FileSystem, str]:
        import pyarrow.fs as pafs

        self.root.mkdir(parents=True, exist_ok=True)
        return pafs.LocalFileSystem(), str(self.root)


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

                self._client = boto3.client(
                    "s3",
                    endpoint_url=self.endpoint_url,
                    region_name=self.region,
                    config=Config(retries={"max_attempts": 5, "mode": "adaptive"}),
                )
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

        try:
            self.client.upload_file(str(path), self.bucket, self._key(key))
        except (BotoCoreError, ClientError, Boto3Error) as e:  # upload_file wraps ClientError
            msg = f"S3 upload of s3://{self.bucket}/{self._key(key)} failed: {e}"
            raise StorageError(msg) from e

    def put_bytes(self, key: str, data: bytes) -> None:
        self._call("put_object", Key=self._key(key), Body=data)

    def get_bytes(self, key: str) -> bytes:
        body: bytes = self._call("get_object", Key=self._key(key))["Body"].read()
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
        except (BotoCoreError, Boto3Error) as e:  # Boto3Error: RetriesExceededError
            msg = f"S3 download of {key} failed: {e}"
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
        if ".." in prefix.split("/"):
            msg = f"invalid prefix {prefix!r}"
            raise ValueError(msg)
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
        import pyarrow.fs as pafs

        creds = self.client._request_signer._credentials  # resolved once by boto3
        endpoint = urlparse(self.endpoint_url) if self.endpoint_url else None
        fs = pafs.S3FileSystem(
            access_key=creds.access_key if creds else None,
            secret_key=creds.secret_key if creds else None,
            session_token=creds.token if creds else None,
            region=self.region,
            endpoint_override=endpoint.netloc if endpoint else None,
            scheme="http" if endpoint and endpoint.scheme == "http" else "https",
        )
        return fs, f"{self.bucket}/{self.prefix}".rstrip("/")


@dataclass
class MemoryStore:
    """A dict; for tests and throwaway demos (lost with the process)."""

    url: str = "memory://"
    objects: dict[str, bytes] = field(default_factory=dict)

    def put_file(self, key: str, path: Path) -> None:
        self.objects[check_key(key)] = path.read_bytes()

    def put_bytes(self, key: str, data: bytes) -> None:
        self.objects[check_key(key)] = data

    def get_bytes(self, key: str) -> bytes:
        try:
            return self.objects[key]
        except KeyError as e:
            raise ObjectNotFound(key) from e

    def download(self, key: str, path: Path) -> None:
        path.write_bytes(self.get_bytes(key))

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
