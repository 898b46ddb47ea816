"""Keyset listing of `media_status` in time windows, so a page reads hours of data, not all days.

UUIDv7 media ids sort by creation time, as strings too. A window [t0, t1) is therefore an id
range (`media_id >= floor(t0) AND media_id < floor(t1)`) plus its day folders (`dt BETWEEN …`);
both reach the Parquet scans (folder pruning, row-group statistics). Windows start at one hour
and double, so a dense page costs one small window and a sparse filter O(log span) queries.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Final
from uuid import UUID

from schemas.ids import uuid7_time

FIRST_WINDOW: Final = timedelta(hours=1)
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)

PAGE_SQL: Final = (
    "SELECT * FROM media_status WHERE {filters} dt BETWEEN $lo_day AND $hi_day "
    "AND media_id >= $lo_id AND media_id < $hi_id ORDER BY media_id LIMIT $limit"
)


def id_floor(when: datetime) -> str:
    """The smallest UUIDv7 string of the millisecond `when` falls in."""
    ms = (when - _EPOCH) // timedelta(milliseconds=1)
    digits = f"{ms:012x}"
    return f"{digits[:8]}-{digits[8:]}-0000-0000-000000000000"


def filters(
    brands: Sequence[str] | None,
    status: str | None,
    since: datetime | None,
    after: str | UUID | None,
    decision: str | None = None,
) -> tuple[str, dict[str, Any], datetime | None]:
    """WHERE terms for the filters given (each ending in AND), their parameters, and the
    earliest instant a row can have (from `since` and the `after` cursor)."""
    terms: list[str] = []
    params: dict[str, Any] = {}
    earliest: list[datetime] = []
    if brands is not None:  # [] matches nothing, as it should
        terms.append("list_contains($brands::VARCHAR[], brand_id)")
        params["brands"] = list(brands)
    if status is not None:
        terms.append("status = $status")
        params["status"] = status
    if decision is not None:
        terms.append("decision = $decision")
        params["decision"] = decision
    if since is not None:
        if since.tzinfo is None:
            msg = "since must be timezone-aware (UTC)"
            raise ValueError(msg)
        terms.append("accepted_at >= $since")
        params["since"] = since
        earliest.append(since.astimezone(UTC))
    if after is not None:
        cursor = after if isinstance(after, UUID) else UUID(str(after))
        terms.append("media_id > $after")
        params["after"] = str(cursor)
        if cursor.version == 7:
            earliest.append(uuid7_time(cursor))
    return "".join(f"{t} AND " for t in terms), params, max(earliest, default=None)


def windows(days: set[date], earliest: datetime | None) -> Iterator[dict[str, Any]]:
    """Parameters of consecutive windows covering the days with files, from `earliest` on."""
    if not days:
        return
    start = datetime.combine(min(days), time(), tzinfo=UTC)
    end = datetime.combine(max(days), time(), tzinfo=UTC) + timedelta(days=1)
    t0, width = max(start, earliest or start), FIRST_WINDOW
    while t0 < end:
        t1 = min(t0 + width, end)
        yield {
            "lo_day": t0.date(),
            "hi_day": (t1 - timedelta(microseconds=1)).date(),
            "lo_id": id_floor(t0),
            "hi_id": id_floor(t1),
        }
        t0, width = t1, width * 2
