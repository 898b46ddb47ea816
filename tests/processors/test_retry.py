"""A bucket outage makes a stage wait and retry; a missing object is not an outage."""

from __future__ import annotations

import pytest

from processors.errors import ObjectNotFound, StorageError
from processors.retry import patiently


async def test_retries_while_the_bucket_is_unavailable() -> None:
    calls = 0

    async def flaky() -> str:
        nonlocal calls
        calls += 1
        if calls < 3:
            raise StorageError("S3 put_object failed: SlowDown")
        return "written"

    assert await patiently(flaky, "lake") == "written"
    assert calls == 3


async def test_a_missing_object_is_not_retried() -> None:
    calls = 0

    async def missing() -> str:
        nonlocal calls
        calls += 1
        raise ObjectNotFound("media/2026/01/01/x")

    with pytest.raises(ObjectNotFound):
        await patiently(missing, "fetch")
    assert calls == 1
