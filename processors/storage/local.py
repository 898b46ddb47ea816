"""`file://`: a folder on local disk, with durable and atomic writes (see `storage.base`)."""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Final

from processors.errors import ObjectNotFound
from processors.storage.base import TEMP_PREFIX, check_key, check_prefix, failed

_CHUNK: Final = 1 << 20
# no object at that key (a folder, or a key under a file): what S3 would call NoSuchKey
_ABSENT: Final = (FileNotFoundError, IsADirectoryError, NotADirectoryError)


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


def _durable_write(
    target: Path, fill: Callable[[IO[bytes]], object], *, exclusive: bool = False
) -> bool:
    """Write `target` so that it is the old file or the complete new one, on disk when this
    returns, even across a crash; `fill` writes the content into the temp file it is given.

    `exclusive`: only if `target` does not exist (a hard link, which fails if it does, instead
    of a rename); returns whether it was written. Raises `OSError`; on any failure the temp
    file is removed and `target` is untouched.
    """
    _make_dirs(target.parent)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=TEMP_PREFIX, suffix=".partial")
    try:
        with os.fdopen(fd, "wb") as fh:
            fill(fh)
            fh.flush()
            os.fsync(fh.fileno())
        if exclusive:
            try:
                os.link(tmp, target)
            except FileExistsError:
                return False
            finally:
                os.unlink(tmp)
        else:
            os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):  # keep the first error, not a failed cleanup
            os.unlink(tmp)
        raise
    _fsync_dir(target.parent)
    return True


@dataclass
class LocalStore:
    """A folder on local disk; writes are durable and atomic (see `storage.base`).

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
            raise failed(msg, e) from e

    def _write(
        self, key: str, fill: Callable[[IO[bytes]], object], *, exclusive: bool = False
    ) -> bool:
        target = self._path(key)
        try:
            return _durable_write(target, fill, exclusive=exclusive)
        except OSError as e:
            msg = f"writing {key} to {self.url}"
            raise failed(msg, e) from e

    def put_file(self, key: str, path: Path) -> None:
        self._path(key)  # an invalid key fails before the source is opened
        try:
            source = path.open("rb")
        except OSError as e:
            msg = f"reading {path} to store it as {key}"
            raise failed(msg, e) from e
        with source:
            self._write(key, lambda fh: shutil.copyfileobj(source, fh, _CHUNK))

    def put_bytes(self, key: str, data: bytes) -> None:
        self._write(key, lambda fh: fh.write(data))

    def create_bytes(self, key: str, data: bytes) -> bool:
        return self._write(key, lambda fh: fh.write(data), exclusive=True)

    def get_bytes(self, key: str) -> bytes:
        with self._open(key) as fh:
            try:
                return fh.read()
            except OSError as e:
                msg = f"reading {key} from {self.url}"
                raise failed(msg, e) from e

    def download(self, key: str, path: Path) -> None:
        with self._open(key) as source:
            try:
                with path.open("wb") as fh:
                    shutil.copyfileobj(source, fh, _CHUNK)
            except OSError as e:
                msg = f"copying {key} from {self.url} to {path}"
                raise failed(msg, e) from e

    def size(self, key: str) -> int:
        try:
            found = self._path(key).stat()
        except _ABSENT as e:
            raise ObjectNotFound(key) from e
        except OSError as e:
            msg = f"looking up {key} in {self.url}"
            raise failed(msg, e) from e
        if not stat.S_ISREG(found.st_mode):
            raise ObjectNotFound(key)
        return found.st_size

    def exists(self, key: str) -> bool:
        try:
            return stat.S_ISREG(self._path(key).stat().st_mode)
        except _ABSENT:
            return False
        except OSError as e:
            msg = f"looking up {key} in {self.url}"
            raise failed(msg, e) from e

    def list(self, prefix: str) -> list[str]:
        """Keys under `prefix`, sorted; temp files of writes in progress are never listed."""
        base = self.root / check_prefix(prefix) if prefix else self.root
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
            raise failed(msg, e) from e
        return sorted(k for k in keys if k.startswith(prefix))

    def delete(self, key: str) -> None:
        try:
            self._path(key).unlink()
        except _ABSENT:
            return  # nothing stored there: deleting is done, as on S3
        except OSError as e:
            msg = f"deleting {key} from {self.url}"
            raise failed(msg, e) from e

    def local_path(self, key: str = "") -> Path:
        return self._path(key) if key else self.root


def _raise_unless_gone(e: OSError) -> None:
    """`os.walk` error handler: a folder removed while listing holds no keys; others fail."""
    if not isinstance(e, FileNotFoundError):
        raise e
