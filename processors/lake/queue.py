"""The review page's list: media newest first with their verdict, violations and decision.

Unlike `Lake.list_media` (oldest first, in time windows), a reviewer looks at the latest media
first and filters on what the page offers. The query reads `media_status` whole, narrowed by
`dt` when the reviewer gives dates: cheap for the weeks of media a team reviews (see
`bench/bench_review.py`), not for a lake of years, where a date range is the way to narrow it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any, Final

TOP_VIOLATIONS: Final = 3

_SQL: Final = """
SELECT s.media_id, s.brand_id, s.status, s.verdict, s.score, s.source, s.platforms,
       s.accepted_at, s.media_kind, s.filename, s.analysis_status, s.error,
       s.decision, s.decided_by, s.decided_platforms, s.decision_reason, s.reviewer,
       s.decided_at,
       json_extract_string(b.payload, '$.violations[*].message')[1:{top}] AS violations
FROM media_status AS s
LEFT JOIN brand_checks AS b ON b.media_id = s.media_id AND b.dt = s.dt
WHERE {filters}
ORDER BY s.media_id DESC
LIMIT $limit OFFSET $offset
"""


@dataclass(frozen=True)
class QueueFilter:
    """What the reviewer narrowed the list to; None is no filter on that field."""

    brands: list[str] | None = None  # the caller's brands, or the one asked (None: every brand)
    verdict: str | None = None
    decision: str | None = None  # pending, approved, rejected, or "none" (no decision yet)
    platform: str | None = None
    source: str | None = None  # uploaded, generated
    day_from: date | None = None
    day_to: date | None = None

    def sql(self) -> tuple[str, dict[str, Any]]:
        """WHERE terms and their parameters."""
        terms: list[str] = ["TRUE"]
        params: dict[str, Any] = {}
        for column, value in (
            ("s.verdict", self.verdict),
            ("s.source", self.source),
        ):
            if value is not None:
                name = column.removeprefix("s.")
                terms.append(f"{column} = ${name}")
                params[name] = value
        if self.brands is not None:
            terms.append("list_contains($brands::VARCHAR[], s.brand_id)")
            params["brands"] = self.brands
        if self.decision == "none":
            terms.append("s.decision IS NULL")
        elif self.decision is not None:
            terms.append("s.decision = $decision")
            params["decision"] = self.decision
        if self.platform is not None:
            terms.append("list_contains(s.platforms, $platform)")
            params["platform"] = self.platform
        if self.day_from is not None:
            terms.append("s.dt >= $day_from")
            params["day_from"] = self.day_from
        if self.day_to is not None:
            terms.append("s.dt <= $day_to")
            params["day_to"] = self.day_to
        return " AND ".join(terms), params


def queue_sql(filt: QueueFilter, *, limit: int, offset: int) -> tuple[str, dict[str, Any]]:
    """The page's query: `limit` rows after `offset`, newest first."""
    where, params = filt.sql()
    return _SQL.format(filters=where, top=TOP_VIOLATIONS), {
        **params,
        "limit": limit,
        "offset": offset,
    }
