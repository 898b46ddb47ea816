"""Where an asset stands: the live recent results first (and the media this replica accepted
and awaits), then the lake, then the bucket ledger.

The recent cache answers within ~1 s of a result; the lake answers for anything older (and for
results another replica saw); the ledger (the accepted event beside the media) proves the asset
was accepted and is still processing. A lake failure degrades to the ledger, never to a 500.
A caller sees only its brands' media: another's is "not found", exactly as an unknown id.
"""

from __future__ import annotations

import asyncio
import json
import time
from datetime import datetime
from functools import partial
from typing import Any
from uuid import UUID

import structlog

from api.auth import Principal
from api.errors import BUCKET, LAKE, STORE_ERRORS, ApiError, invalid, unavailable
from api.models import GateDecision, MediaPage, MediaState, MediaStatus
from api.runtime import Runtime
from processors import ledger
from processors.errors import ObjectNotFound
from processors.keys import media_key
from schemas.events import MediaResult
from schemas.ids import is_uuid7, uuid7_time
from schemas.reviews import GateState, MediaDecision

log = structlog.get_logger("reelscope.api.status")
_STATES = ("processing", "done", "failed")


def parse_media_id(raw: str, field: str = "media_id") -> UUID:
    """Parse a UUIDv7 or refuse it (422)."""
    try:
        value = UUID(raw)
    except ValueError:
        value = None
    if value is None or not is_uuid7(value):
        msg = f"{raw!r} is not a UUIDv7"
        raise invalid(msg, field=field, hint="use the media_id a 202 answer returned")
    return value


def from_result(result: MediaResult) -> MediaStatus:
    return MediaStatus(
        media_id=result.media_id,
        status=result.status,
        verdict=result.verdict,
        brand_id=result.source.brand_id,
        error=result.error,
        brand_check=result.brand_check.model_dump(mode="json", by_alias=True),
        analysis=result.analysis.model_dump(mode="json", by_alias=True),
    )


def gate_of(decision: MediaDecision) -> GateDecision:
    return GateDecision(
        state=decision.state,
        by=decision.by,
        platforms=list(decision.platforms),
        reason=decision.reason,
        reviewer=decision.reviewer,
        at=decision.occurred_at,
    )


def _row_gate(row: dict[str, Any]) -> GateDecision | None:
    if row.get("decision") is None:
        return None
    return GateDecision(
        state=row["decision"],
        by=row.get("decided_by") or "auto",
        platforms=list(row.get("decided_platforms") or []),
        reason=row.get("decision_reason"),
        reviewer=row.get("reviewer"),
        at=row.get("decided_at"),
    )


def with_live_decision(rt: Runtime, item: MediaStatus) -> MediaStatus:
    """The item with the gate's latest decision: the followed one when it is newer."""
    live = rt.decisions.get(item.media_id)
    if live is None:
        return item
    known = item.decision
    if known is not None and known.at is not None and known.at > live.occurred_at:
        return item
    return item.model_copy(update={"decision": gate_of(live)})


def _payload(value: Any) -> dict[str, Any] | None:
    if isinstance(value, str):
        value = json.loads(value)
    return value if isinstance(value, dict) else None


def from_row(row: dict[str, Any]) -> MediaStatus:
    status = row.get("status")
    return MediaStatus(
        media_id=UUID(str(row["media_id"])),
        status=status if status in _STATES else "processing",
        verdict=row.get("verdict"),
        brand_id=row.get("brand_id"),
        error=row.get("error"),
        brand_check=_payload(row.get("brand_check")),
        analysis=_payload(row.get("analysis")),
        decision=_row_gate(row),
    )


async def _from_lake(rt: Runtime, media_id: UUID) -> MediaStatus | None:
    try:
        row = await asyncio.to_thread(rt.lake.media, media_id)
    except Exception as e:  # the lake is an optimisation here; the ledger still answers
        log.warning("lake_unavailable", error=type(e).__name__)
        return None
    return from_row(row) if row else None


def _ledger_entry(rt: Runtime, media_id: UUID) -> MediaStatus | None:
    """The accepted media's status from the ledger, with its brand (blocking)."""
    key = media_key(media_id)
    try:
        brand_id = ledger.stored_brand(rt.store, key)
    except ObjectNotFound:  # the event is written just after the bytes: maybe in between
        if not rt.store.exists(key):
            return None
        brand_id = None
    return MediaStatus(media_id=media_id, status="processing", brand_id=brand_id)


def not_found(media_id: UUID) -> ApiError:
    return ApiError(
        404,
        "not_found",
        f"no media {media_id}",
        "check the id; media appear here as soon as POST /v1/media answered 202",
    )


async def media_status(rt: Runtime, media_id: UUID, caller: Principal) -> MediaStatus:
    """Answer from the recent cache, the lake or the ledger; 404 when none knows the id, or
    when the media is another tenant's, answered no sooner than `api.not_found_floor_s`."""
    started = time.monotonic()
    found, awaited = rt.recent.get(media_id), rt.recent.awaiting(media_id)
    if found is not None:
        state: MediaStatus | None = from_result(found)
    elif awaited is not None:  # accepted here, no result yet: neither the lake nor the ledger
        state = MediaStatus(media_id=media_id, status="processing", brand_id=awaited.brand_id)
    else:
        state = await _from_lake(rt, media_id)
    if state is None:
        try:
            state = await asyncio.to_thread(_ledger_entry, rt, media_id)
        except STORE_ERRORS as e:
            rt.metrics.storage_failures.inc()
            raise unavailable(BUCKET) from e
    if state is None or not caller.sees(state.brand_id):
        floor = started + rt.settings.api.not_found_floor_s
        await asyncio.sleep(max(0.0, floor - time.monotonic()))
        raise not_found(media_id)
    return with_live_decision(rt, state)


def _matches(
    item: MediaStatus,
    brands: list[str] | None,
    status: MediaState | None,
    since: datetime | None,
    decision: GateState | None,
) -> bool:
    return (
        (brands is None or item.brand_id in brands)
        and (status is None or item.status == status)
        and (since is None or uuid7_time(item.media_id) >= since)
        and (decision is None or (item.decision is not None and item.decision.state == decision))
    )


async def list_media(
    rt: Runtime,
    *,
    brands: list[str] | None,
    status: MediaState | None,
    since: datetime | None,
    limit: int,
    after: UUID | None,
    decision: GateState | None = None,
) -> MediaPage:
    """One page in media_id (= time) order from the lake, with fresher recent results merged.

    A recent result replaces the lake's row of its media and joins the page when its id falls
    inside the page's range, so a page never skips what a later page would not show either.
    """
    try:
        rows = await rt.heavy.run(
            partial(
                rt.lake.list_media,
                brands=brands,
                status=status,
                since=since,
                limit=limit,
                after=after,
                decision=decision,
            )
        )
    except ApiError:
        raise
    except Exception as e:
        log.warning("lake_unavailable", error=type(e).__name__)
        raise unavailable(LAKE) from e
    items = {item.media_id: item for item in map(from_row, rows)}
    lake_full = len(rows) >= limit
    upper = max(items) if lake_full and items else None
    for result in rt.recent:
        media_id = result.media_id
        in_range = (after is None or media_id > after) and (upper is None or media_id <= upper)
        if media_id in items or in_range:
            items[media_id] = from_result(result)
    live = (with_live_decision(rt, i) for i in items.values())
    matching = sorted(
        (i for i in live if _matches(i, brands, status, since, decision)),
        key=lambda i: i.media_id,
    )
    page = matching[:limit]
    more = lake_full or len(matching) > limit
    return MediaPage(items=page, next=str(page[-1].media_id) if more and page else None)
