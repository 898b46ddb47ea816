"""What the review page shows: a page of the queue, and one media in full.

The lake answers the list (`processors.lake.queue`); the first page also takes the results and
decisions this replica followed in the last seconds, so a new result shows before the lake has
it. The detail reads the media's status (`api.status`, tenancy included), its accepted event
from the bucket's ledger (kind, platforms, generation provenance) and the brand's profile.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import partial
from typing import Any
from uuid import UUID

from api import status
from api.auth import Principal
from api.errors import LAKE, ApiError, unavailable
from api.models import MediaStatus
from api.review.present import CheckLine, analysis_lines, check_lines, violation_words
from api.runtime import Runtime
from processors.brand.profiles import load_profile
from processors.errors import ObjectNotFound
from processors.keys import event_key
from processors.lake.queue import TOP_VIOLATIONS, QueueFilter, queue_sql
from schemas.events import INPUT_EVENT, BrandCheck, MediaAnalysis, MediaGenerated, MediaResult
from schemas.events import MediaUploaded as Uploaded
from schemas.ids import uuid7_time
from schemas.profiles import BrandProfile


@dataclass(frozen=True)
class Row:
    """One media in the list."""

    media_id: UUID
    brand_id: str | None
    status: str
    verdict: str | None
    score: float | None
    kind: str
    platforms: list[str]
    violations: list[str]
    decision: str | None = None
    decided_by: str | None = None
    decided_platforms: list[str] = field(default_factory=list)

    @property
    def accepted_at(self) -> datetime:
        return uuid7_time(self.media_id)


def _row(r: dict[str, Any]) -> Row:
    return Row(
        media_id=UUID(str(r["media_id"])),
        brand_id=r.get("brand_id"),
        status=r.get("status") or "processing",
        verdict=r.get("verdict"),
        score=r.get("score"),
        kind=r.get("source") or "uploaded",
        platforms=list(r.get("platforms") or []),
        violations=list(r.get("violations") or []),
        decision=r.get("decision"),
        decided_by=r.get("decided_by"),
        decided_platforms=list(r.get("decided_platforms") or []),
    )


def _from_result(result: MediaResult) -> Row:
    check = result.brand_check
    return Row(
        media_id=result.media_id,
        brand_id=result.source.brand_id,
        status=result.status,
        verdict=result.verdict,
        score=result.score,
        kind="generated" if "generated" in result.source.schema_id else "uploaded",
        platforms=sorted(check.platforms),
        violations=[v.message for v in check.violations[:TOP_VIOLATIONS]],
    )


def _matches(f: QueueFilter, r: Row) -> bool:
    """The SQL filter of `processors.lake.queue`, for rows that did not come from the lake."""
    day = r.accepted_at.date()
    return all(
        (
            f.brands is None or r.brand_id in f.brands,
            f.verdict is None or r.verdict == f.verdict,
            f.source is None or r.kind == f.source,
            f.platform is None or f.platform in r.platforms,
            f.day_from is None or day >= f.day_from,
            f.day_to is None or day <= f.day_to,
            f.decision is None or (r.decision or "none") == f.decision,
        )
    )


def _live(rt: Runtime, r: Row) -> Row:
    d = rt.decisions.get(r.media_id)
    if d is None:
        return r
    return replace(r, decision=d.state, decided_by=d.by, decided_platforms=list(d.platforms))


async def queue_page(
    rt: Runtime, f: QueueFilter, page: int, per_page: int
) -> tuple[list[Row], bool]:
    """One page, newest first, and whether another follows."""
    sql, params = queue_sql(f, limit=per_page + 1, offset=(page - 1) * per_page)
    try:
        found = await rt.heavy.run(partial(rt.lake.query, sql, params))
    except ApiError:
        raise
    except Exception as e:
        raise unavailable(LAKE) from e
    rows = {r.media_id: r for r in map(_row, found)}
    if page == 1:
        oldest = min(rows) if len(found) > per_page else None
        for result in rt.recent:
            fresh = _from_result(result)
            known = rows.get(result.media_id)
            if known is not None:
                fresh = replace(fresh, decision=known.decision, decided_by=known.decided_by)
            if known is not None or oldest is None or result.media_id > oldest:
                rows[result.media_id] = fresh
    listed = sorted(
        (x for x in map(partial(_live, rt), rows.values()) if _matches(f, x)),
        key=lambda x: x.media_id,
        reverse=True,
    )
    return listed[:per_page], len(listed) > per_page


@dataclass(frozen=True)
class Detail:
    """One media in full, for its page."""

    state: MediaStatus
    check: BrandCheck | None
    analysis: MediaAnalysis | None
    submission: Uploaded | MediaGenerated | None
    profile: BrandProfile | None
    checks: list[CheckLine]
    violations: list[str]
    analysis_lines: list[tuple[str, str]]

    @property
    def kind(self) -> str:
        return "generated" if isinstance(self.submission, MediaGenerated) else "uploaded"

    @property
    def platforms(self) -> list[str]:
        if self.check is not None and self.check.platforms:
            return sorted(self.check.platforms)
        return list(self.submission.platforms) if self.submission else []


def _submission(rt: Runtime, media_id: UUID) -> Uploaded | MediaGenerated | None:
    try:
        return INPUT_EVENT.validate_json(rt.store.get_bytes(event_key(media_id)))
    except (ObjectNotFound, ValueError):
        return None


async def detail(rt: Runtime, media_id: UUID, caller: Principal) -> Detail:
    """The media's page, or 404 (unknown, or another tenant's) as the JSON API answers."""
    state = await status.media_status(rt, media_id, caller)
    check = BrandCheck.model_validate(state.brand_check) if state.brand_check else None
    analysis = MediaAnalysis.model_validate(state.analysis) if state.analysis else None
    submission = await asyncio.to_thread(_submission, rt, media_id)
    brand = state.brand_id
    profile = await asyncio.to_thread(load_profile, rt.store, brand) if brand else None
    return Detail(
        state=state,
        check=check,
        analysis=analysis,
        submission=submission,
        profile=profile,
        checks=check_lines(check, profile) if check else [],
        violations=[violation_words(v) for v in check.violations] if check else [],
        analysis_lines=analysis_lines(analysis) if analysis else [],
    )
