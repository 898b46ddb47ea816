"""One Idempotency-Key, one media_id, even when replicas race: the record is created with a
conditional put, so every racer answers the media_id of the record that landed first."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from api import idempotency
from processors.storage import LocalStore, S3Store, Store
from schemas.ids import uuid7


@pytest.mark.parametrize("backend", ["local", "s3"])
async def test_replicas_racing_with_one_key_answer_one_media_id(
    backend: str, tmp_path: Path, s3_store: S3Store
) -> None:
    store: Store = LocalStore(tmp_path / "bucket") if backend == "local" else s3_store
    key = idempotency.record_key("acme-uploader", "retry-me")
    fresh = [idempotency.IdempotencyRecord(media_id=uuid7(), sha256="ab" * 32) for _ in range(12)]
    claimed = await asyncio.gather(*(idempotency.claim(store, key, r) for r in fresh))
    assert len({r.media_id for r in claimed}) == 1
    assert claimed[0].media_id in {r.media_id for r in fresh}
    stored = await idempotency.load(store, key)
    assert stored is not None and stored.media_id == claimed[0].media_id
