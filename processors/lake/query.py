"""Read the lake with DuckDB: the shipped views, one media's status, a keyset listing, ad-hoc SQL.

Concurrency: DuckDB connections are not thread-safe, so each thread runs its calls on cursors
of its own (connections to the same in-memory database, sharing the view definitions), which
bind the `raw_<table>` relations for that thread only. Calls may run from many threads at once;
the lock only guards creating cursors and swapping the file snapshot. `connection()` hands out
the main connection itself: use it from one thread (the `reelscope sql` shell, a notebook).

Freshness: every query reads a snapshot of the file list that is re-listed when older than
`max_staleness_s` (or on `refresh()`); `media()` keeps one per day folder. The API answers for
recent media from the results topic, so the lake may lag by that much.

Lookups by id: the UUIDv7 names the day folder; the files' footers (`sources.Footers`) narrow
it to the files whose id range holds the id, one per brand and partition; the uploads'
`media_id` column names the brand; the full query then opens that brand's files only.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from typing import Any
from uuid import UUID

import duckdb
import structlog

from processors.lake import listing
from processors.lake.sources import LakeFiles, Snapshot, create_empty_tables
from processors.lake.views import define_views
from processors.storage import Store
from schemas.ids import uuid7_time

# the latest event of each kind: arg_max over the raw rows is what the table views keep
_MEDIA_SQL = """
SELECT s.*,
    (SELECT arg_max(payload, occurred_at) FROM raw_brand_checks
     WHERE dt = $dt AND media_id = $id) AS brand_check_payload,
    (SELECT arg_max(payload, occurred_at) FROM raw_analyses
     WHERE dt = $dt AND media_id = $id) AS analysis_payload
FROM media_status AS s
WHERE s.dt = $dt AND s.media_id = $id
"""
# which brand folder holds a media: ids are spread over every brand's files of the same
# minutes, so footers alone cannot tell; the uploads (or results, if ahead) can
_BRAND_SQL = "SELECT brand_id FROM raw_{table} WHERE dt = $dt AND media_id = $id LIMIT 1"
_RESULT_PAYLOAD_SQL = """
SELECT arg_max(payload, occurred_at) AS payload FROM raw_media_results
WHERE dt = $dt AND media_id = $id
"""
_STATUS_TABLES = ("uploads", "media_results", "deadletters", "decisions")  # media_status's
Params = Sequence[Any] | Mapping[str, Any] | None
log = structlog.get_logger(__name__)
_DAYS_KEPT = 64  # day listings cached for lookups


class Lake:
    """The lake of a store, queried through DuckDB views (see `dashboards/sql/`)."""

    def __init__(self, store: Store, *, max_staleness_s: float = 5.0) -> None:
        self.store = store
        self.max_staleness_s = max_staleness_s
        self._files: LakeFiles | None = None
        self._days: dict[date, tuple[Snapshot, float]] = {}
        self._con: duckdb.DuckDBPyConnection | None = None
        self._snapshot: Snapshot | None = None
        self._listed_at = 0.0
        self._relisting = False
        self._lock = threading.Lock()
        self._local = threading.local()

    def connection(self) -> duckdb.DuckDBPyConnection:
        """The main connection, views bound to the files that exist now; for one thread."""
        snapshot = self._relist()
        con = self._main()
        with self._lock:
            snapshot.bind(con)
        return con

    def refresh(self) -> None:
        """List the lake again so that later queries see files written since the last listing."""
        self._days.clear()
        self._relist()

    def query(self, sql: str, params: Params = None) -> list[dict[str, Any]]:
        """Run SQL over the views (thread-safe) and return the rows as dicts."""
        try:
            with self._cursor(self._current()) as cur:
                return _dicts(cur.execute(sql, params))
        except duckdb.IOException:
            # a file listed earlier is gone (compacted away after its grace period): list again
            with self._cursor(self._relist()) as cur:
                return _dicts(cur.execute(sql, params))

    def media(self, media_id: UUID) -> dict[str, Any] | None:
        """One row of `media_status` plus the parsed `brand_check` and `analysis` events.

        Reads only the day folder named by the UUIDv7 (one per table); None if the lake has
        no trace of the media (or the id is no UUIDv7, which no media id can be).
        """
        if media_id.version != 7:
            return None
        day = uuid7_time(media_id).date()
        params: dict[str, Any] = {"dt": day, "id": str(media_id)}
        files = self._day(day).narrowed(params["id"], params["id"])
        for table in ("uploads", "media_results"):
            with self._cursor(files.only(table), "day") as cur:
                found = cur.execute(_BRAND_SQL.format(table=table), params).fetchone()
            if found:
                break
        if found and found[0] is not None:
            files = files.of_brand(found[0])
        with self._cursor(files, "day") as cur:
            rows = _dicts(cur.execute(_MEDIA_SQL, params))
            return _with_events(cur, params, rows[0]) if rows else None

    def list_media(
        self,
        *,
        brands: Sequence[str] | None = None,
        status: str | None = None,
        since: datetime | None = None,
        limit: int = 100,
        after: str | UUID | None = None,
        decision: str | None = None,
    ) -> list[dict[str, Any]]:
        """Rows of `media_status` in media_id (= time) order, after the cursor `after`.

        `since` keeps media accepted at or after that instant; pass the last `media_id` of a
        page as `after` to get the next page. Reads oldest first in time windows of 1, 2, 4…
        hours and stops once the page is full (see `listing`). Covers UUIDv7 media ids, i.e.
        every media the API accepted.
        """
        if limit < 1:
            msg = f"limit must be at least 1, not {limit}"
            raise ValueError(msg)
        terms, params, earliest = listing.filters(brands, status, since, after, decision)
        snapshot = self._current()
        sql = listing.PAGE_SQL.format(filters=terms)
        rows: list[dict[str, Any]] = []
        for window in listing.windows(snapshot.days(_STATUS_TABLES), earliest):
            files = snapshot.narrowed(window["lo_id"], window["hi_id"])
            with self._cursor(files, "window") as cur:
                page = {**params, **window, "limit": limit - len(rows)}
                rows += _dicts(cur.execute(sql, page))
            if len(rows) >= limit:
                break
        return rows

    def _lake_files(self) -> LakeFiles:
        if self._files is None:
            self._files = LakeFiles.of(self.store)
        return self._files

    def _day(self, day: date) -> Snapshot:
        """One day's files, listed again when older than `max_staleness_s`."""
        cached = self._days.get(day)
        if cached is not None and time.monotonic() - cached[1] <= self.max_staleness_s:
            return cached[0]
        snapshot = self._lake_files().snapshot(day)
        with self._lock:  # API threads share the cache
            if len(self._days) >= _DAYS_KEPT:
                self._days.pop(next(iter(self._days)), None)
            self._days[day] = (snapshot, time.monotonic())
        return snapshot

    def _main(self) -> duckdb.DuckDBPyConnection:
        """The connection that owns the view definitions (made on first use)."""
        with self._lock:
            if self._con is None:
                con = duckdb.connect(":memory:")
                con.execute("SET TimeZone = 'UTC'")
                # footers are read once per file, not per query (checked against the mtime)
                con.execute("SET parquet_metadata_cache = true")
                create_empty_tables(con)
                self._lake_files().empty().bind(con)
                define_views(con)
                self._con = con
            return self._con

    def _relist(self) -> Snapshot:
        snapshot = self._lake_files().snapshot()
        with self._lock:
            if snapshot.same_files(self._snapshot):  # keep it: cursors stay bound
                snapshot = self._snapshot or snapshot
            self._snapshot, self._listed_at = snapshot, time.monotonic()
        return snapshot

    def _current(self) -> Snapshot:
        """The file snapshot. The first is listed now; later ones are re-listed in the
        background once older than `max_staleness_s`, so no query waits for a listing."""
        snapshot = self._snapshot
        if snapshot is None or self.max_staleness_s == 0:
            return self._relist()
        if time.monotonic() - self._listed_at > self.max_staleness_s:
            with self._lock:
                start = not self._relisting
                self._relisting = True
            if start:
                threading.Thread(target=self._relist_in_background, daemon=True).start()
        return snapshot

    def _relist_in_background(self) -> None:
        try:
            self._relist()
        except Exception:  # the next query tries again; this one keeps its snapshot
            log.warning("lake_listing_failed", exc_info=True)
        finally:
            self._relisting = False

    @contextmanager
    def _cursor(
        self, snapshot: Snapshot, slot: str = "lake"
    ) -> Iterator[duckdb.DuckDBPyConnection]:
        """This thread's cursor for `slot`, with `raw_<table>` bound to `snapshot`.

        Cursors are kept per thread and rebound only when the snapshot changes: binding reads
        every file's footer, which would otherwise cost each query tens of milliseconds.
        """
        cursors: dict[str, tuple[duckdb.DuckDBPyConnection, Snapshot | None]] = getattr(
            self._local, "cursors", {}
        )
        self._local.cursors = cursors
        if slot not in cursors:
            con = self._main()
            with self._lock:
                cur = con.cursor()
            cur.execute("SET TimeZone = 'UTC'")
            cur.execute("SET parquet_metadata_cache = true")  # per session, like the time zone
            cursors[slot] = (cur, None)
        cur, bound = cursors[slot]
        if bound is not snapshot:
            cursors[slot] = (cur, None)
            snapshot.bind(cur)
            cursors[slot] = (cur, snapshot)
        yield cur


def _dicts(cur: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    columns = [d[0] for d in cur.description or ()]
    return [dict(zip(columns, row, strict=True)) for row in cur.fetchall()]


def _with_events(
    cur: duckdb.DuckDBPyConnection, params: dict[str, Any], row: dict[str, Any]
) -> dict[str, Any]:
    """Replace the payload columns by the parsed brand check and analysis events."""
    check = _loads(row.pop("brand_check_payload"))
    analysis = _loads(row.pop("analysis_payload"))
    if (check is None or analysis is None) and row["status"] != "processing":
        # their own sinks lag behind the result's: the result event carries copies of both
        found = cur.execute(_RESULT_PAYLOAD_SQL, params).fetchone()
        result = _loads(found[0] if found else None) or {}
        check = check or result.get("brand_check")
        analysis = analysis or result.get("analysis")
    return {**row, "brand_check": check, "analysis": analysis}


def _loads(payload: str | None) -> dict[str, Any] | None:
    return json.loads(payload) if payload else None
