"""A full disk is a wait, never a verdict: the worker retries until space comes back, the media
ends `done`, and the lake holds no truncated Parquet file."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import boto3
import httpx
import pyarrow.parquet as pq

from processors.storage import TEMP_PREFIX
from streams.broker import EmbeddedBroker
from tests.e2e.conftest import Deployment
from tests.e2e.helpers import TABLES, lake_counts, upload, wait_final
from tests.tmpfs import fill, mounted_tmpfs

HELD_S = 6  # how long the disk stays full while work is waiting on it


def held_by_full_disk(stack: Deployment, ids: list[str], at_least_s: float) -> None:
    """The worker meets the full disk (its log says so; a busy machine may take a while) and
    every media of `ids` stays `processing` meanwhile (no failed verdict), for `at_least_s` or
    more."""
    start = time.monotonic()
    deadline = start + 90
    while True:
        for media_id in ids:
            status = httpx.get(f"{stack.url}/v1/media/{media_id}").json()["status"]
            assert status == "processing", f"{media_id} became {status} while the disk was full"
        met = "No space left on device" in (stack.logs / "worker.log").read_text()
        if met and time.monotonic() - start >= at_least_s:
            return
        assert time.monotonic() < deadline, "the worker never met the full disk"
        time.sleep(0.5)


def test_a_full_worker_temp_folder_is_retried_not_failed(
    own_broker: EmbeddedBroker, s3_endpoint: str, samples: dict[str, Path], tmp_path: Path
) -> None:
    """S3 media are downloaded into the worker's temp folder: that folder runs out of space."""
    bucket = f"disk-full-{tmp_path.name[-8:].lower().replace('_', '-')}"
    boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1").create_bucket(
        Bucket=bucket
    )
    with mounted_tmpfs(tmp_path / "tmp", "size=4m") as temp:
        stack = Deployment(
            own_broker.bootstrap,
            f"s3://{bucket}",
            tmp_path,
            extra_env={"REELSCOPE_STORE__ENDPOINT_URL": s3_endpoint},
            worker_env={"TMPDIR": str(temp)},
        ).start()
        try:
            warm = upload(stack, samples["logo"])  # the worker is up (other bytes than below)
            assert wait_final(stack, warm)["status"] == "done"
            filler = fill(temp)
            media_id = upload(stack, samples["image"])
            held_by_full_disk(stack, [media_id], HELD_S)
            filler.unlink()
            assert wait_final(stack, media_id, 60)["status"] == "done"
            assert lake_counts(stack, [warm, media_id]) == dict.fromkeys(TABLES, 2)
        finally:
            stack.stop()


def test_a_full_bucket_disk_is_retried_and_leaves_no_partial_parquet(
    own_broker: EmbeddedBroker, samples: dict[str, Path], tmp_path: Path
) -> None:
    """A folder bucket on a disk that fills up after the uploads were accepted."""
    with mounted_tmpfs(tmp_path / "bucket", "size=16m") as bucket:
        stack = Deployment(own_broker.bootstrap, f"file://{bucket}", tmp_path).start()
        try:
            ids = [upload(stack, samples[name]) for name in ("image", "on_brand_vertical")]
            filler = fill(bucket)
            # checks, analyses and lake flushes meet it (a media may be done before the disk
            # filled up: only the lake's writes are sure to wait)
            held_by_full_disk(stack, [], HELD_S)
            finals: list[dict[str, Any]] = []
            filler.unlink()
            finals = [wait_final(stack, m, 90) for m in ids]
            assert [f["status"] for f in finals] == ["done", "done"]
            assert lake_counts(stack, ids) == dict.fromkeys(TABLES, 2)
        finally:
            stack.stop()
        parquet = sorted(bucket.rglob("*.parquet"))
        assert parquet
        for path in parquet:  # every file complete: its footer and every row group read
            pq.read_table(path)
        assert not [p for p in bucket.rglob(f"{TEMP_PREFIX}*")]
