"""Accept media: sniff, check the brand, store in the ledger, publish, and only then say 202.

Order matters for the delivery guarantee: the bytes are put at `media_key(media_id)` first, the
exact event bytes next to them (`processors.keys.event_key`) second, and the event is
published last; 202 is answered only after the broker acknowledged it. A failure of any answers
503; objects left behind by a failed publish stay in the ledger, where the reconciler finds them
and publishes the stored event (retrying with the same Idempotency-Key reuses them instead).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from uuid import UUID

import structlog

from api import idempotency
from api.errors import BROKER, BUCKET, STORE_ERRORS, ApiError, invalid, unavailable
from api.publisher import BrokerUnavailable
from api.runtime import Runtime
from api.uploads import Received
from processors.errors import MediaError
from processors.keys import event_key, media_key, profile_key
from processors.media import sniff
from schemas.events import Generation, MediaGenerated, MediaUploaded
from schemas.fields import MediaKind, Platform
from schemas.ids import uuid7
from schemas.topics import MEDIA_GENERATED, MEDIA_UPLOADED

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Submission:
    """What the client says about the media (never its type: that comes from the bytes)."""

    brand_id: str | None = None
    platforms: list[Platform] = field(default_factory=list)
    labels: dict[str, str] = field(default_factory=dict)
    generation: Generation | None = None


@dataclass(frozen=True)
class Sniffed:
    content_type: str
    kind: MediaKind


async def sniff_or_415(received: Received) -> Sniffed:
    try:
        content_type, kind = await asyncio.to_thread(sniff, received.path)
    except MediaError as e:
        raise ApiError(
            415,
            "unsupported_media",
            f"the bytes are not a supported image or video: {e}",
            "send MP4, MOV, WebM or Matroska video, or JPEG, PNG or WebP images",
        ) from e
    return Sniffed(content_type, kind)


async def require_brand(rt: Runtime, brand_id: str | None) -> None:
    """Refuse a brand that has no profile in the bucket (422)."""
    if brand_id is None:
        return
    try:
        found = await asyncio.to_thread(rt.store.exists, profile_key(brand_id))
    except STORE_ERRORS as e:
        rt.metrics.storage_failures.inc()
        raise unavailable(BUCKET) from e
    if not found:
        msg = f"unknown brand {brand_id!r}"
        hint = f"create it first with PUT /v1/brands/{brand_id}, or omit brand_id"
        raise invalid(msg, field="brand_id", hint=hint)


def _event(
    rt: Runtime, media_id: UUID, received: Received, sniffed: Sniffed, sub: Submission
) -> MediaUploaded | MediaGenerated:
    common = dict(
        media_id=media_id,
        producer=rt.settings.producer_id,
        object_key=media_key(media_id),
        sha256=received.sha256,
        size_bytes=received.size,
        content_type=sniffed.content_type,
        media_kind=sniffed.kind,
        filename=received.filename,
        brand_id=sub.brand_id,
        platforms=sub.platforms,
        labels=sub.labels,
    )
    if sub.generation is not None:
        return MediaGenerated.model_validate({**common, "generation": sub.generation})
    return MediaUploaded.model_validate(common)


async def _store_and_publish(
    rt: Runtime, media_id: UUID, received: Received, sniffed: Sniffed, sub: Submission
) -> None:
    try:
        await asyncio.to_thread(rt.store.put_file, media_key(media_id), received.path)
    except STORE_ERRORS as e:
        rt.metrics.storage_failures.inc()
        raise unavailable(BUCKET) from e
    event = _event(rt, media_id, received, sniffed, sub)
    value = event.to_bytes()
    try:  # the ledger keeps the event too: a reconciler can publish it again (broker data loss)
        await asyncio.to_thread(rt.store.put_bytes, event_key(media_id), value)
    except STORE_ERRORS as e:
        rt.metrics.storage_failures.inc()
        raise unavailable(BUCKET) from e
    topic = MEDIA_GENERATED if sub.generation is not None else MEDIA_UPLOADED
    rt.recent.await_result(media_id, sub.brand_id)
    about = {"media_id": str(media_id), "event_id": str(event.event_id), "stage": "intake"}
    with structlog.contextvars.bound_contextvars(**about):
        try:
            await rt.publisher.publish(topic, str(media_id).encode(), value)
        except BrokerUnavailable as e:
            rt.recent.forget(media_id)
            rt.metrics.publish_failures.labels(topic).inc()
            log.warning("media_not_published", topic=topic, error=str(e))
            raise unavailable(BROKER) from e
        log.info("media_accepted", topic=topic, size_bytes=received.size, kind=sniffed.kind)
    rt.metrics.upload_bytes.inc(received.size)
    rt.metrics.accepted.labels("generated" if sub.generation else "uploaded").inc()


async def accept(
    rt: Runtime,
    received: Received,
    sub: Submission,
    *,
    caller: str,
    idempotency_key: str | None,
) -> UUID:
    """Run the whole intake and return the media_id to answer 202 with."""
    sniffed = await sniff_or_415(received)
    await require_brand(rt, sub.brand_id)
    if idempotency_key is None:
        media_id = uuid7()
        await _store_and_publish(rt, media_id, received, sniffed, sub)
        return media_id
    record_key = idempotency.record_key(caller, idempotency_key)
    async with rt.locks.hold(record_key):
        try:
            fresh = idempotency.IdempotencyRecord(media_id=uuid7(), sha256=received.sha256)
            record = await idempotency.claim(rt.store, record_key, fresh)
        except STORE_ERRORS as e:
            rt.metrics.storage_failures.inc()
            raise unavailable(BUCKET) from e
        if record.sha256 != received.sha256:
            raise idempotency.conflict()
        if not record.accepted:
            await _store_and_publish(rt, record.media_id, received, sniffed, sub)
            await _mark_accepted(rt, record_key, record)
        return record.media_id


async def _mark_accepted(
    rt: Runtime, record_key: str, record: idempotency.IdempotencyRecord
) -> None:
    """Best effort: if this write fails, a retry re-publishes (harmless: at-least-once)."""
    try:
        await idempotency.save(rt.store, record_key, record.model_copy(update={"accepted": True}))
    except STORE_ERRORS:
        rt.metrics.storage_failures.inc()
