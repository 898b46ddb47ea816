"""`/v1/analytics`: compliance, violation codes, analysis costs and latency, read from the lake.

Every query is fixed SQL over the shipped views with named parameters; a filter only picks which
constant clauses join the WHERE, user input never enters the text.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any

import structlog
from fastapi import APIRouter, Query
from pydantic import BaseModel

from api.deps import Reader, RuntimeDep
from api.errors import LAKE, invalid, unavailable
from api.models import error_responses
from api.runtime import Runtime
from schemas.events import BrandId

log = structlog.get_logger("reelscope.api")
router = APIRouter(prefix="/v1/analytics", tags=["analytics"])

MAX_DAYS = 366
DEFAULT_DAYS = 30
_BRAND = " AND brand_id = $brand_id"
_PLATFORM = " AND list_contains(platforms, $platform)"  # the platforms its check judged
_COMPLIANCE_SQL = """
SELECT brand_id, dt AS day,
    count(*) FILTER (WHERE verdict = 'pass') AS pass_count,
    count(*) FILTER (WHERE verdict = 'warn') AS warn_count,
    count(*) FILTER (WHERE verdict = 'fail') AS fail_count,
    count(*) FILTER (WHERE status = 'failed') AS error_count,
    count(*) AS total,
    count(*) FILTER (WHERE verdict = 'pass')
        / nullif(count(*) FILTER (WHERE verdict IS NOT NULL), 0) AS pass_rate
FROM media_results WHERE dt BETWEEN $from AND $to{filters}
GROUP BY brand_id, dt ORDER BY day, brand_id NULLS FIRST
"""
_VIOLATIONS_SQL = """
SELECT code, count(*) AS count, count(DISTINCT media_id) AS media
FROM (SELECT media_id, unnest(violation_codes) AS code FROM media_results
      WHERE dt BETWEEN $from AND $to{filters})
GROUP BY code ORDER BY count DESC, code LIMIT $limit
"""
_COSTS_SQL = """
SELECT brand_id, day, analyzer, model, analyses, cost_usd, input_tokens, output_tokens
FROM costs_daily WHERE day BETWEEN $from AND $to{filters}
ORDER BY day, brand_id NULLS FIRST, analyzer, model
"""
_LATENCY_SQL = """
SELECT dt AS day, count(latency_ms) AS n,
    quantile_cont(latency_ms, 0.5) AS p50_ms,
    quantile_cont(latency_ms, 0.95) AS p95_ms,
    max(latency_ms) AS max_ms
FROM media_results WHERE dt BETWEEN $from AND $to AND latency_ms IS NOT NULL{filters}
GROUP BY dt ORDER BY day
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
    first = first or last - timedelta(days=DEFAULT_DAYS - 1)
    if first > last:
        msg = f"from ({first}) is after to ({last})"
        raise invalid(msg, field="query.from", hint="pass from <= to; both days are inclusive")
    if (last - first).days + 1 > MAX_DAYS:
        msg = f"the range {first}..{last} spans more than {MAX_DAYS} days"
        raise invalid(msg, field="query.from", hint=f"ask for at most {MAX_DAYS} days at a time")
    return first, last


def _filters(
    brand_id: str | None, platform: str | None, **fixed: Any
) -> tuple[str, dict[str, Any]]:
    """The constant clauses for the given filters and the parameters they bind."""
    clauses, params = "", dict(fixed)
    if brand_id is not None:
        clauses, params["brand_id"] = clauses + _BRAND, brand_id
    if platform is not None:
        clauses, params["platform"] = clauses + _PLATFORM, platform
    return clauses, params


async def _run(rt: Runtime, sql: str, params: dict[str, Any], echo: dict[str, Any]) -> Analytics:
    """Run one query off the event loop; a lake that fails answers 503."""
    try:
        rows = await asyncio.to_thread(rt.lake.query, sql, params)
    except Exception as e:
        log.warning("lake_unavailable", error=type(e).__name__)
        raise unavailable(LAKE) from e
    return Analytics(items=rows, filters=echo)


async def _read(
    rt: Runtime,
    template: str,
    span: tuple[date, date],
    brand_id: str | None,
    platform: str | None = None,
    **extra: Any,
) -> Analytics:
    first, last = span
    clauses, params = _filters(brand_id, platform, **extra)
    params.update({"from": first, "to": last})
    echo = {"brand_id": brand_id, "platform": platform, "from": first, "to": last, **extra}
    return await _run(rt, template.format(filters=clauses), params, echo)


@router.get("/compliance", responses=error_responses(401, 403, 422, 503))
async def compliance(
    rt: RuntimeDep,
    caller: Reader,
    brand_id: Brand = None,
    platform: Platform = None,
    from_: From = None,
    to: To = None,
) -> Analytics:
    """Pass/warn/fail counts and pass rate per brand and media day (latest result per media)."""
    return await _read(rt, _COMPLIANCE_SQL, day_range(from_, to), brand_id, platform)


@router.get("/violations", responses=error_responses(401, 403, 422, 503))
async def violations(
    rt: RuntimeDep,
    caller: Reader,
    brand_id: Brand = None,
    platform: Platform = None,
    from_: From = None,
    to: To = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> Analytics:
    """The most frequent violation codes: occurrences and how many media carry each."""
    span = day_range(from_, to)
    return await _read(rt, _VIOLATIONS_SQL, span, brand_id, platform, limit=limit)


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
    return await _read(rt, _COSTS_SQL, day_range(from_, to), brand_id)


@router.get("/latency", responses=error_responses(401, 403, 422, 503))
async def latency(
    rt: RuntimeDep,
    caller: Reader,
    brand_id: Brand = None,
    platform: Platform = None,
    from_: From = None,
    to: To = None,
) -> Analytics:
    """Upload-to-result latency per media day: p50, p95 and max in milliseconds."""
    return await _read(rt, _LATENCY_SQL, day_range(from_, to), brand_id, platform)
