"""Object storage by URL: `file://` (a local folder), `s3://` (boto3), `memory://` (tests, demos).

One way to open a store: `StoreSettings.open()` from settings (or `open_store(url, …)`). The
protocol and the guarantees every backend keeps are in `storage.base`; key layouts in
`processors.keys`. This module is the only one that knows the backends by name.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlparse

from pydantic import BaseModel, Field

from processors.errors import ObjectNotFound, StorageError
from processors.storage.base import TEMP_PREFIX, Store, check_key, failed
from processors.storage.local import LocalStore
from processors.storage.memory import MemoryStore
from processors.storage.s3 import S3Store

if TYPE_CHECKING:
    import pyarrow.fs as pafs

__all__ = [
    "TEMP_PREFIX",
    "LocalStore",
    "MemoryStore",
    "ObjectNotFound",
    "S3Store",
    "StorageError",
    "Store",
    "StoreSettings",
    "arrow_filesystem",
    "check_key",
    "open_store",
]


class StoreSettings(BaseModel):
    url: str = Field(default="file://./reelscope-data", description="file://, s3:// or memory://")
    endpoint_url: str | None = Field(default=None, description="S3-compatible endpoint")
    region: str = "us-east-1"

    def open(self) -> Store:
        """The store these settings name; every process opens its store this way."""
        return open_store(self.url, endpoint_url=self.endpoint_url, region=self.region)


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


def arrow_filesystem(store: Store) -> tuple[pafs.FileSystem, str]:
    """A pyarrow filesystem over the store and the root path that keys are relative to (the
    lake reads Parquet through it)."""
    import pyarrow.fs as pafs

    root = store.local_path()
    if root is not None:
        try:
            root.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            msg = f"creating {root}"
            raise failed(msg, e) from e
        return pafs.LocalFileSystem(), str(root)
    if isinstance(store, S3Store):
        return store.arrow_filesystem()
    msg = f"{store.url} stores cannot back the lake; use file:// or s3://"
    raise StorageError(msg)
