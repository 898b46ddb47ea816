"""`s3://bucket/prefix`: a bucket on S3 or any S3-compatible endpoint, through boto3."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from processors.errors import ObjectExists, ObjectNotFound, StorageError
from processors.storage.base import check_key, check_prefix

if TYPE_CHECKING:
    import pyarrow.fs as pafs


@dataclass
class S3Store:
    """A bucket (and optional prefix) on S3 or any S3-compatible endpoint."""

    bucket: str
    prefix: str = ""
    endpoint_url: str | None = None
    region: str = "us-east-1"
    url: str = ""
    _session: Any = field(default=None, init=False, repr=False)
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
                    self._session = boto3.session.Session()
                    self._client = self._session.client(
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
            # a conditional write: 412 the key exists, 409 another conditional write to it won
            if code in ("PreconditionFailed", "ConditionalRequestConflict"):
                raise ObjectExists(kwargs.get("Key", "")) from e
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

    def create_bytes(self, key: str, data: bytes) -> bool:
        try:
            self._call("put_object", Key=self._key(key), Body=data, IfNoneMatch="*")
        except ObjectExists:
            return False
        return True

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

    def size(self, key: str) -> int:
        return int(self._call("head_object", Key=self._key(key))["ContentLength"])

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
        check_prefix(prefix)
        full = f"{self.prefix}/{prefix}" if self.prefix else prefix
        strip = len(f"{self.prefix}/") if self.prefix else 0
        for page in self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=full
        ):
            for obj in page.get("Contents", []):
                yield obj["Key"][strip:]

    def delete(self, key: str) -> None:
        self._call("delete_object", Key=self._key(key))

    def local_path(self, key: str = "") -> None:
        return None

    def arrow_filesystem(self) -> tuple[pafs.FileSystem, str]:
        """A pyarrow filesystem on the same bucket, endpoint and credentials as the client,
        and the root path that keys are relative to."""
        import pyarrow as pa
        import pyarrow.fs as pafs
        from botocore.exceptions import BotoCoreError

        endpoint = urlparse(self.endpoint_url) if self.endpoint_url else None
        try:
            self.client  # noqa: B018  (makes the session whose credentials pyarrow shares)
            found = self._session.get_credentials()
            creds = found.get_frozen_credentials() if found else None
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
