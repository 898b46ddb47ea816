"""`memory://`: a dict, for tests and throwaway demos (lost with the process)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from processors.errors import ObjectNotFound
from processors.storage.base import check_key, failed


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
            raise failed(msg, e) from e
        self.objects[key] = data

    def put_bytes(self, key: str, data: bytes) -> None:
        self.objects[check_key(key)] = bytes(data)  # a copy: a caller's buffer may change

    def create_bytes(self, key: str, data: bytes) -> bool:
        if check_key(key) in self.objects:
            return False
        self.objects[key] = bytes(data)
        return True

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
            raise failed(msg, e) from e

    def exists(self, key: str) -> bool:
        return key in self.objects

    def size(self, key: str) -> int:
        if key not in self.objects:
            raise ObjectNotFound(key)
        return len(self.objects[key])

    def list(self, prefix: str) -> list[str]:
        return sorted(k for k in self.objects if k.startswith(prefix))

    def delete(self, key: str) -> None:
        self.objects.pop(key, None)

    def local_path(self, key: str = "") -> None:
        return None
