"""Idempotency keys: retries with one key map to one media_id, across API restarts.

A record `idempotency/<sha256(caller, key)>.json` is created in the bucket before the media is
stored, and marked accepted once the broker acknowledged the event. A retry of a record that
was never accepted reuses its media_id and finishes the work; a retry of an accepted one answers
at once. Same key with other bytes is a conflict (409). Within one process requests with one key
are serialised; across replicas the record is created with a conditional put
(`Store.create_bytes`), so two replicas racing with one key answer one media_id.
"""

from __future__ import annotations

import asyncio
import hashlib
from uuid import UUID

from pydantic import BaseModel

from api.errors import ApiError
from processors.errors import ObjectNotFound, StorageError
from processors.keys import idempotency_key
from processors.storage import Store

MAX_KEY_LENGTH = 255


class IdempotencyRecord(BaseModel):
    media_id: UUID
    sha256: str
    accepted: bool = False


def record_key(caller: str, key: str) -> str:
    """Bucket key of the record; scoped by caller, so two clients never share a key space."""
    if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable():
        raise ApiError(
            422,
            "invalid_request",
            "the Idempotency-Key header is empty, too long or not text",
            f"send up to {MAX_KEY_LENGTH} printable characters, e.g. a UUID",
            fields=[{"field": "header.Idempotency-Key", "message": "invalid"}],
        )
    digest = hashlib.sha256(f"{caller}\0{key}".encode()).hexdigest()
    return idempotency_key(digest)


async def load(store: Store, key: str) -> IdempotencyRecord | None:
    try:
        raw = await asyncio.to_thread(store.get_bytes, key)
    except ObjectNotFound:
        return None
    return IdempotencyRecord.model_validate_json(raw)


async def claim(store: Store, key: str, fresh: IdempotencyRecord) -> IdempotencyRecord:
    """The key's record: `fresh` if this call created it, else the one written first by another
    request (of any replica)."""
    for _ in range(10):
        if await asyncio.to_thread(store.create_bytes, key, fresh.model_dump_json().encode()):
            return fresh
        found = await load(store, key)
        if found is not None:
            return found
        await asyncio.sleep(0.05)  # S3's 409: the other conditional write is still landing
    msg = f"the idempotency record {key} could neither be created nor read"
    raise StorageError(msg)


async def save(store: Store, key: str, record: IdempotencyRecord) -> None:
    await asyncio.to_thread(store.put_bytes, key, record.model_dump_json().encode())


def conflict() -> ApiError:
    return ApiError(
        409,
        "idempotency_conflict",
        "this Idempotency-Key was already used for different bytes",
        "use a new Idempotency-Key for new content; reuse a key only to retry the same upload",
    )
