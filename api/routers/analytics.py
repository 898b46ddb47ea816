"""`/v1/analytics`: compliance, violation codes, analysis costs and latency, read from the lake.

Every query reads a shipped view (`dashboards/sql/`), or the table macro the view is made of where
a platform (or, for latency, a brand) must filter the media before they are counted, so the API
and the dashboards count alike. The SQL is fixed; each filter is a bind parameter (NULL: any),
user input never enters the text. A key bound to brands reads only its brands: `brand_id`
narrows to one of them (403 for another's), and leaving it out covers all of the key's.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any

import structlog
from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel

from api.auth import Principal
from api.deps import Reader, RuntimeDep
from api.errors import LAKE, ApiError, invalid, unavailable
from api.models import error_responses
from api.runtime import Runtime
from schemas.fields import BrandId

log = structlog.get_logger("reelscope.api")
router = APIRouter(prefix="/v1/analytics", tags=["analytics"])

MAX_DAYS = 366
DEFAULT_DAYS = 30
_COMPLIANCE_SQL = """
SELECT * FROM compliance_daily_for($platform)
WHERE day BETWEEN $from AND $to
    AND ($brands::VARCHAR[] IS NULL OR list_contains($brands::VARCHAR[], brand_id))
ORDER BY day, brand_id NULLS FIRST
"""
# the view counts per brand and day; a media id has one day, so its media add up over days
_VIOLATIONS_SQL = """
SELECT code, sum(n)::BIGINT AS count, sum(media)::BIGINT AS media
FROM violation_counts_for($platform)
WHERE day BETWEEN $from AND $to
    AND ($brands::VARCHAR[] IS NULL OR list_contains($brands::VARCHAR[], brand_id))
GROUP BY code ORDER BY count DESC, code LIMIT $limit
"""
_COSTS_SQL = """
SELECT brand_id, day, analyzer, model, analyses, cost_usd, input_tokens, output_tokens
FROM costs_daily
WHERE day BETWEEN $from AND $to
    AND ($brands::VARCHAR[] IS NULL OR list_contains($brands::VARCHAR[], brand_id))
ORDER BY day, brand_id NULLS FIRST, analyzer, model
"""
# n = 0: no result of that day carries a latency, so there is nothing to report for it
_LATENCY_SQL = """
SELECT * FROM latency_daily_for($brands::VARCHAR[], $platform)
WHERE day BETWEEN $from AND $to AND n > 0
ORDER BY day
"""

From = Annotated[
    date | None,
    Query(alias="from", description=f"first day (inclusive); default: {DEFAULT_DAYS} days back"),
]
To = Annotated[date | None, Query(description="last day (inclusive); default: today (UTC)")]
Brand = Annotated[BrandId | None, Query()]
Platform = Annotated[
    str | None,
    Query(min_length=1, max_length=64, description="media whose brand check targeted it"),
]


class Analytics(BaseModel):
    """Rows of one analytics query and the filters they were read with (defaults resolved)."""

    items: list[dict[str, Any]]
    filters: dict[str, Any]


def day_range(first: date | None, last: date | None) -> tuple[date, date]:
    """Resolve the defaults and refuse ranges that are reversed or longer than MAX_DAYS."""
    last = last or datetime.now(UTC).date()
    if first is None:  # the default span, cut at the calendar's first day
        days = min(DEFAULT_DAYS - 1, (last - date.min).days)
        first = last - timedelta(days=days)
    if first > last:
        msg = f"from ({first}) is after to ({last})"
        raise invalid(msg, field="query.from", hint="pass from <= to; both days are inclusive")
    if (last - first).days + 1 > MAX_DAYS:
        msg = f"the range {first}..{last} spans more than {MAX_DAYS} days"
        raise invalid(msg, field="query.from", hint=f"ask for at most {MAX_DAYS} days at a time")
    return first, last


@dataclass(frozen=True)
class Filters:
    """The filters of one read as the query gave them.

    `_read` resolves the day range, so a bad range is refused only once FastAPI has validated
    every parameter (a dependency runs before the later parameters are checked).
    """

    brand_id: str | None
    platform: str | None
    first: date | None
    last: date | None


def filters(
    brand_id: Brand = None, platform: Platform = None, from_: From = None, to: To = None
) -> Filters:
    """The query parameters the reads by platform share (a dependency: OpenAPI lists each)."""
    return Filters(brand_id, platform, from_, to)


def top(limit: Annotated[int, Query(ge=1, le=100)] = 20) -> int:
    """How many violation codes to list; a dependency too, so OpenAPI lists it after the filters."""
    return limit


Filtered = Annotated[Filters, Depends(filters)]
Top = Annotated[int, Depends(top)]


async def _read(rt: Runtime, caller: Principal, sql: str, f: Filters, **params: Any) -> Analytics:
    """Run `sql` off the event loop on the day range and brands of `f` and on `params`.

    The answer echoes every filter, `params` too; a lake that fails answers 503.
    """
    brands = caller.brand_filter(f.brand_id)
    first, last = day_range(f.first, f.last)
    span = {"brands": brands, "from": first, "to": last}
    try:
        rows = await rt.heavy.run(rt.lake.query, sql, {**span, **params})
    except ApiError:
        raise
    except Exception as e:
        log.warning("lake_unavailable", error=type(e).__name__)
        raise unavailable(LAKE) from e
    echo = {"brand_id": f.brand_id, "platform": f.platform, "from": first, "to": last, **params}
    if caller.brands is not None:
        echo["brands"] = brands
    return Analytics(items=rows, filters=echo)


@router.get("/compliance", responses=error_responses(401, 403, 422, 503))
async def compliance(rt: RuntimeDep, caller: Reader, f: Filtered) -> Analytics:
    """Pass/warn/fail counts and pass rate per brand and media day (latest result per media)."""
    return await _read(rt, caller, _COMPLIANCE_SQL, f, platform=f.platform)


@router.get("/violations", responses=error_responses(401, 403, 422, 503))
async def violations(rt: RuntimeDep, caller: Reader, f: Filtered, limit: Top) -> Analytics:
    """The most frequent violation codes: occurrences and how many media carry each."""
    return await _read(rt, caller, _VIOLATIONS_SQL, f, platform=f.platform, limit=limit)


@router.get("/costs", responses=error_responses(401, 403, 422, 503))
async def costs(
    rt: RuntimeDep,
    caller: Reader,
    brand_id: Brand = None,
    from_: From = None,
    to: To = None,
) -> Analytics:
    """Analysis cost (USD) and tokens per brand, day, analyzer and model.

    No platform filter: one analysis serves every target platform of a media.
    """
    return await _read(rt, caller, _COSTS_SQL, Filters(brand_id, None, from_, to))


@router.get("/latency", responses=error_responses(401, 403, 422, 503))
async def latency(rt: RuntimeDep, caller: Reader, f: Filtered) -> Analytics:
    """Upload-to-result latency per media day: p50, p95 and max in milliseconds."""
    return await _read(rt, caller, _LATENCY_SQL, f, platform=f.platform)
