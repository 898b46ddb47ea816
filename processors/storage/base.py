"""The store seam: a flat key space that moves bytes, and the rules every backend keeps.

Guarantees, the same for every store:
- a write (`put_bytes`, `put_file`) is all or nothing: a reader sees the old object or the new
  one, never a partial one, and when it returns the object is durable (local: temp file in the
  same folder, fsync, atomic rename, fsync of the folder; S3: one PUT or a completed multipart
  upload). A crash mid-write leaves the old object and, locally, at most a `.tmp-*.partial`
  file beside it, which no listing shows and no key can name;
- every failure of the store is a `StorageError` (`ObjectNotFound` for reading a missing key),
  never an `OSError` or a botocore error; an invalid key is a `ValueError` (a caller's bug).

Backends only move bytes; what a key means is `processors.keys`.
"""

from __future__ import annotations

import errno
from pathlib import Path
from typing import Final, Protocol

from processors.errors import StorageError

TEMP_PREFIX: Final = ".tmp-"  # a local write in progress (or cut short by a crash): never a key


class Store(Protocol):
    """A flat key space of immutable-ish objects; keys use `/` and never `..`.

    Constructors hold configuration only; clients are made on first use, so a store is cheap
    to build and safe to pass to a child process. All methods block: call them from a thread
    in async code.
    """

    url: str

    def put_file(self, key: str, path: Path) -> None: ...
    def put_bytes(self, key: str, data: bytes) -> None: ...
    def create_bytes(self, key: str, data: bytes) -> bool:
        """Write `key` only if no object has it (atomically: of two writers one wins, on every
        replica); whether this call wrote it. Local: a hard link; S3: `If-None-Match: *`."""
        ...

    def get_bytes(self, key: str) -> bytes: ...
    def download(self, key: str, path: Path) -> None: ...
    def exists(self, key: str) -> bool: ...
    def size(self, key: str) -> int:
        """The object's size in bytes, without reading it (ObjectNotFound if absent)."""
        ...

    def list(self, prefix: str) -> list[str]: ...
    def delete(self, key: str) -> None: ...
    def local_path(self, key: str = "") -> Path | None:
        """Where `key` (or, for "", the root) lies on local disk; None if the store is remote.

        Lets a reader open media in place instead of downloading a copy."""
        ...


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


def check_prefix(prefix: str) -> str:
    if ".." in prefix.split("/") or prefix.startswith("/") or "\\" in prefix:
        msg = f"invalid prefix {prefix!r}: use a relative key prefix like 'media/2026/'"
        raise ValueError(msg)
    return prefix


def failed(what: str, e: OSError) -> StorageError:
    """A local file error as a `StorageError` that says what was being done."""
    reason = e.strerror or errno.errorcode.get(e.errno or 0, "") or str(e)
    return StorageError(f"{what} failed: {reason}")
