"""The lake sink against a misbehaving S3: a fault-injecting proxy in front of moto.

First the bucket fails the first requests of several kinds (throttling, 500s, resets, on the
listing and the writes) and then recovers by itself: every row lands once. Then an outage of
every lake write: the lake group's offsets stay where they were while results keep flowing,
and once the bucket is back the rows land and the offsets move.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from processors.storage import S3Store
from schemas.lake import TABLE_OF_TOPIC
from streams.admin import ensure_topics
from streams.broker import EmbeddedBroker
from tests.e2e.conftest import Deployment
from tests.e2e.helpers import (
    LAKE_GROUP,
    TABLES,
    committed_offsets,
    end_offsets,
    lake_counts,
    upload,
    upload_all,
    wait_committed,
    wait_final,
)
from tests.s3_faults import FaultRule, S3FaultProxy


@pytest.fixture
def proxied_stack(s3_endpoint: str, tmp_path: Path) -> Iterator[tuple[Deployment, S3FaultProxy]]:
    bucket = f"faults-{uuid.uuid4().hex[:8]}"
    boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1").create_bucket(
        Bucket=bucket
    )
    with EmbeddedBroker() as broker, S3FaultProxy(s3_endpoint) as proxy:
        ensure_topics(broker.bootstrap, partitions=3)
        stack = Deployment(
            broker.bootstrap,
            f"s3://{bucket}",
            tmp_path,
            extra_env={"REELSCOPE_STORE__ENDPOINT_URL": proxy.endpoint},
        )
        try:
            yield stack.start(), proxy
        finally:
            stack.stop()


def lake_writes(proxy: S3FaultProxy) -> list[object]:
    """Outcomes of the PUTs of lake objects, in order."""
    return [o for m, target, o in proxy.requests if m == "PUT" and "/lake/" in target]


def lake_offsets(bootstrap: str) -> dict[tuple[str, int], int]:
    got = committed_offsets(bootstrap, LAKE_GROUP)
    return {tp: n for tp, n in got.items() if tp[0] in TABLE_OF_TOPIC and n > 0}


def test_s3_faults_stall_the_lake_and_lose_nothing(
    proxied_stack: tuple[Deployment, S3FaultProxy], samples: dict[str, Path], s3_endpoint: str
) -> None:
    stack, proxy = proxied_stack
    bootstrap = stack.bootstrap
    # 1. transient faults of several kinds: the first N fail, then they pass on their own
    rules = [
        proxy.add(FaultRule(fault="slowdown", method="GET", query_contains="list-type", times=3)),
        proxy.add(FaultRule(fault="internal", method="PUT", key_contains="/lake/", times=8)),
        proxy.add(FaultRule(fault="reset", method="PUT", key_contains="/lake/", times=2)),
    ]
    first = upload_all(stack, [samples["image"], samples["corrupt"]])
    counts = lake_counts(stack, first, timeout=60)
    assert all(counts[t] == len(first) for t in TABLES), counts
    assert [r.failed for r in rules] == [3, 8, 2]
    writes = lake_writes(proxy)
    assert writes[:10].count("internal") == 8 and 200 in writes

    # 2. an outage of every lake write: results flow, the lake group does not move
    wait_committed(bootstrap, LAKE_GROUP, end_offsets(bootstrap))
    held = lake_offsets(bootstrap)
    outage = proxy.add(
        FaultRule(fault="internal", method="PUT", key_contains="/lake/", times=10**6)
    )
    second = [upload(stack, samples["off_brand_landscape"]), upload(stack, samples["image"])]
    for media_id in second:
        assert wait_final(stack, media_id)["status"] in ("done", "failed")
    deadline = time.monotonic() + 8
    while time.monotonic() < deadline:  # the sink keeps retrying; no offset may move meanwhile
        assert lake_offsets(bootstrap) == held
        time.sleep(0.5)
    assert outage.failed > 6  # more than botocore's own attempts: the sink itself retried
    assert lake_counts(stack, second, timeout=0.1)["media_results"] == 0

    proxy.clear()  # the bucket is back
    counts = lake_counts(stack, first + second, timeout=60)
    assert all(counts[t] == 4 for t in TABLES), counts
    wait_committed(bootstrap, LAKE_GROUP, end_offsets(bootstrap))
    assert lake_offsets(bootstrap) != held

    # a single PUT per object: no multipart upload is ever left behind
    direct = S3Store(stack.store_url.removeprefix("s3://"), endpoint_url=s3_endpoint)
    assert "Uploads" not in direct.client.list_multipart_uploads(Bucket=direct.bucket)
    assert all(k.endswith(".parquet") for k in direct.list("lake/"))
