"""The DuckDB views and `Lake` queries over a real local lake written by the real writer."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from uuid import UUID

import pyarrow as pa
import pytest

from processors.keys import lake_object_key as object_key
from processors.lake.listing import id_floor, windows
from processors.lake.query import Lake
from processors.lake.views import VIEWS
from processors.lake.writer import LakeWriter, encode
from processors.storage import LocalStore, Store
from processors.synthetic import lake as syn
from schemas import topics
from schemas.lake import TABLES, to_row
from tests.lake_writes import Sink

UPLOADS, UPLOADED = TABLES["uploads"], topics.MEDIA_UPLOADED


def test_an_empty_lake_answers_every_view_with_nothing(store: LocalStore) -> None:
    lake = Lake(store)
    for view in VIEWS:
        assert lake.query(f"SELECT * FROM {view}") == [], view
    assert lake.media(syn.uuid7_at(syn.day(2026, 1, 1))) is None
    assert lake.list_media(limit=10) == []
    columns = lake.query("DESCRIBE media_status")
    assert {"media_id", "status", "verdict", "accepted_at"} <= {c["column_name"] for c in columns}


def test_media_is_processing_until_its_result_arrives(store: LocalStore, sink: Sink) -> None:
    life = syn.life(syn.day(2026, 1, 7), verdict="fail", violations=("logo.missing",))
    lake = Lake(store, max_staleness_s=3600)
    sink.put(life.uploaded)
    row = lake.media(life.uploaded.media_id)
    assert row is not None
    assert (row["status"], row["verdict"], row["brand_check"]) == ("processing", None, None)
    assert row["object_key"] == life.uploaded.object_key
    sink.put(life.brand_check, life.analysis, life.result)
    assert lake.media(life.uploaded.media_id) == row  # the day's listing is 3600 s fresh
    lake.refresh()
    row = lake.media(life.uploaded.media_id)
    assert row is not None
    assert (row["status"], row["verdict"], row["violation_codes"]) == (
        "done",
        "fail",
        ["logo.missing"],
    )
    assert row["latency_ms"] == 3000.0 and row["dt"] == date(2026, 1, 7)
    assert row["brand_check"]["event_id"] == str(life.brand_check.event_id)
    assert row["analysis"]["analyzer"] == "local"


def test_a_failed_result_or_a_dead_letter_means_failed(store: LocalStore, sink: Sink) -> None:
    failed = syn.life(syn.day(2026, 1, 7), status="failed", counter=1)
    poisoned = syn.uploaded(syn.day(2026, 1, 7), counter=2)
    sink.put(failed.uploaded, failed.result, poisoned)
    sink.put(syn.dead_letter(syn.day(2026, 1, 7, 13), poisoned.media_id))
    lake = Lake(store)
    row = lake.media(failed.uploaded.media_id)
    assert row is not None
    assert (row["status"], row["error"]) == ("failed", "unreadable media")
    # the brand check and analysis sinks have not written yet: the result carries both
    assert row["brand_check"]["status"] == "failed" and row["analysis"]["status"] == "done"
    row = lake.media(poisoned.media_id)
    assert row is not None
    assert (row["status"], row["error"], row["deadletter_stage"]) == (
        "failed",
        "undecodable",
        "brand_checks",
    )


def test_media_reads_only_the_day_folder_of_its_id(store: LocalStore, sink: Sink) -> None:
    life = syn.life(syn.day(2026, 1, 7))
    sink.put(life.uploaded, life.result)
    broken = store.root / "lake/uploads/dt=2026-01-08/brand_id=acme/x+000+0+0.parquet"
    broken.parent.mkdir(parents=True)
    broken.write_bytes(b"not parquet at all")
    lake = Lake(store)
    row = lake.media(life.uploaded.media_id)
    assert row is not None and row["status"] == "done"
    with pytest.raises(Exception, match="(?i)parquet"):
        lake.query("SELECT count(*) FROM uploads")


def test_unknown_and_non_v7_ids_are_none(store: LocalStore, sink: Sink) -> None:
    sink.put(syn.uploaded(syn.day(2026, 1, 7)))
    lake = Lake(store)
    assert lake.media(syn.uuid7_at(syn.day(2026, 1, 7))) is None
    assert lake.media(UUID("12345678-1234-4234-8234-123456789abc")) is None


def test_list_media_filters_and_pages_across_days(store: LocalStore, sink: Sink) -> None:
    lives = [
        syn.life(syn.day(2026, 1, 1 + i // 3, 9 + i), brand_id=("acme", "zeta")[i % 2], counter=i)
        for i in range(9)
    ]
    sink.put(*(life.uploaded for life in lives))
    sink.put(*(life.result for life in lives[:6]))
    lake = Lake(store)
    ids = [str(life.uploaded.media_id) for life in lives]
    assert [r["media_id"] for r in lake.list_media(limit=100)] == ids
    acme = [r["media_id"] for r in lake.list_media(brands=["acme"], limit=100)]
    assert acme == ids[0::2]
    both = [r["media_id"] for r in lake.list_media(brands=["zeta", "acme"], limit=100)]
    assert both == ids and lake.list_media(brands=[], limit=100) == []
    processing = lake.list_media(status="processing", limit=100)
    assert [r["media_id"] for r in processing] == ids[6:]
    since = lake.list_media(since=lives[4].uploaded.occurred_at, limit=100)
    assert [r["media_id"] for r in since] == ids[4:]
    pages, after = [], None
    while page := lake.list_media(limit=2, after=after):
        pages.append([r["media_id"] for r in page])
        after = page[-1]["media_id"]
    assert pages == [ids[0:2], ids[2:4], ids[4:6], ids[6:8], ids[8:]]
    assert lake.list_media(brands=["zeta"], status="done", limit=2, after=UUID(ids[1])) == (
        lake.list_media(brands=["zeta"], status="done", limit=2, after=ids[1])
    )
    with pytest.raises(ValueError, match="limit"):
        lake.list_media(limit=0)
    with pytest.raises(ValueError, match="timezone"):
        lake.list_media(since=lives[0].uploaded.occurred_at.replace(tzinfo=None), limit=1)


def test_list_media_sees_new_files_after_refresh(store: LocalStore, sink: Sink) -> None:
    lake = Lake(store, max_staleness_s=3600)
    assert lake.list_media(limit=10) == []
    sink.put(syn.uploaded(syn.day(2026, 1, 7)))
    assert lake.list_media(limit=10) == []  # the snapshot is not stale yet
    lake.refresh()
    assert len(lake.list_media(limit=10)) == 1
    stale = Lake(store, max_staleness_s=0)
    sink.put(syn.uploaded(syn.day(2026, 1, 7), counter=1))
    assert len(stale.list_media(limit=10)) == 2


def test_analytics_views_count_verdicts_codes_and_latency(store: LocalStore, sink: Sink) -> None:
    d1, d2 = syn.day(2026, 1, 1), syn.day(2026, 1, 2)
    lives = [
        syn.life(d1, verdict="pass", latency=timedelta(seconds=1), counter=0),
        syn.life(d1, verdict="pass", latency=timedelta(seconds=2), counter=1),
        syn.life(d1, verdict="warn", violations=("palette.off",), counter=2),
        syn.life(
            d1,
            verdict="fail",
            violations=("logo.missing", "palette.off"),
            latency=timedelta(seconds=4),
            counter=3,
        ),
        syn.life(
            d1,
            brand_id="zeta",
            verdict="fail",
            violations=("logo.missing",),
            latency=timedelta(seconds=5),
            counter=4,
        ),
        syn.life(d2, verdict="pass", latency=timedelta(seconds=10), counter=5),
        syn.life(d2, status="failed", latency=timedelta(seconds=20), counter=6),
    ]
    sink.put(*(life.result for life in lives))
    lake = Lake(store)
    daily = lake.query("SELECT * FROM compliance_daily ORDER BY day, brand_id")
    assert [(r["brand_id"], r["day"], r["pass_count"], r["warn_count"], r["fail_count"],
             r["error_count"], r["total"]) for r in daily] == [
        ("acme", d1.date(), 2, 1, 1, 0, 4),
        ("zeta", d1.date(), 0, 0, 1, 0, 1),
        ("acme", d2.date(), 1, 0, 0, 1, 2),
    ]  # fmt: skip
    assert [r["pass_rate"] for r in daily] == [0.5, 0.0, 1.0]
    codes = lake.query("SELECT brand_id, code, n FROM violation_counts ORDER BY brand_id, code")
    assert codes == [
        {"brand_id": "acme", "code": "logo.missing", "n": 1},
        {"brand_id": "acme", "code": "palette.off", "n": 2},
        {"brand_id": "zeta", "code": "logo.missing", "n": 1},
    ]
    latency = lake.query("SELECT day, n, p50_ms, p95_ms, max_ms FROM latency_daily ORDER BY day")
    assert latency[0] == {
        "day": d1.date(),
        "n": 5,
        "p50_ms": 3000.0,
        "p95_ms": 4800.0,
        "max_ms": 5000.0,
    }
    assert latency[1]["p50_ms"] == pytest.approx(15_000.0)
    assert latency[1]["p95_ms"] == pytest.approx(19_500.0)


def test_lookups_run_from_many_threads_at_once(store: LocalStore, sink: Sink) -> None:
    lives = [syn.life(syn.day(2026, 1, 1 + i % 3), counter=i) for i in range(12)]
    sink.put(*(life.uploaded for life in lives))
    sink.put(*(life.result for life in lives[::2]))
    lake = Lake(store)
    with ThreadPoolExecutor(max_workers=6) as pool:
        rows = list(pool.map(lambda life: lake.media(life.uploaded.media_id), lives * 3))
    assert [r and r["status"] for r in rows] == ["done", "processing"] * 18


def test_connection_runs_ad_hoc_sql_over_the_views(store: LocalStore, sink: Sink) -> None:
    sink.put(syn.uploaded(syn.day(2026, 1, 7)))
    con = Lake(store).connection()
    status = "SELECT count(*) FROM media_status WHERE status = 'processing'"
    assert con.execute(status).fetchone() == (1,)
    assert con.execute("SELECT count(*) FROM uploads").fetchone() == (1,)


def older_and_newer_files(store: Store) -> None:
    """A file from a writer that lacked `gen_model` and one from a writer with an extra column."""
    rows = [to_row(syn.uploaded(syn.day(2026, 1, 7), counter=i), UPLOADED, 0, i) for i in range(2)]
    table = pa.Table.from_pylist(rows, schema=UPLOADS.schema)
    older = table.drop_columns(["gen_model"])
    newer = table.slice(1).append_column("novelty", pa.array(["x"]))
    for arrow, offset in ((older.slice(0, 1), 0), (newer, 1)):
        key = object_key("uploads", date(2026, 1, 7), "acme", UPLOADED, 0, offset, offset)
        store.put_bytes(key, encode(arrow))


def check_schema_drift(store: Store) -> None:
    older_and_newer_files(store)
    current = to_row(syn.uploaded(syn.day(2026, 1, 7), counter=2), UPLOADED, 0, 2)
    LakeWriter(store).write(UPLOADS, UPLOADED, 0, [current | {"gen_model": "veo-3"}])
    got = Lake(store).query('SELECT * FROM uploads ORDER BY "offset"')
    assert [r["offset"] for r in got] == [0, 1, 2]
    assert list(got[0]) == UPLOADS.schema.names  # exactly the declared columns, in order
    assert got[0]["gen_model"] is None and got[1]["size_bytes"] == 1025
    assert got[2]["gen_model"] == "veo-3" and "novelty" not in got[1]


def test_files_of_older_and_newer_writers_read_with_the_declared_columns(
    store: LocalStore,
) -> None:
    check_schema_drift(store)


def test_id_floor_sorts_just_below_every_id_of_its_millisecond() -> None:
    when = datetime(2026, 1, 7, 12, 0, 0, 123456, tzinfo=UTC)
    media_id = str(syn.uuid7_at(when, counter=4095))
    assert id_floor(when) < media_id < id_floor(when + timedelta(milliseconds=1))
    assert id_floor(when) == id_floor(when.replace(microsecond=123000))


def test_windows_double_and_cover_every_day_once() -> None:
    got = list(windows({date(2026, 1, 1), date(2026, 1, 3)}, None))
    assert got[0]["lo_id"] == id_floor(datetime(2026, 1, 1, tzinfo=UTC))
    assert got[-1]["hi_id"] == id_floor(datetime(2026, 1, 4, tzinfo=UTC))
    assert all(a["hi_id"] == b["lo_id"] for a, b in zip(got, got[1:], strict=False))
    assert len(got) == 7  # 1+2+4+8+16+32 hours, then the rest up to 72
    late = list(windows({date(2026, 1, 1)}, datetime(2026, 1, 1, 23, 30, tzinfo=UTC)))
    assert [(w["lo_day"], w["hi_day"]) for w in late] == [(date(2026, 1, 1), date(2026, 1, 1))]
    assert list(windows(set(), None)) == []


def test_a_reprocessed_media_counts_once_with_its_latest_answer(
    store: LocalStore, sink: Sink
) -> None:
    """At-least-once: a worker restart can publish a second check and result as new records."""
    first = syn.life(syn.day(2026, 1, 9), verdict="fail", violations=("logo.missing",))
    again = first.result.model_copy(
        update={
            "event_id": syn.uuid7_at(syn.day(2026, 1, 9, 13)),
            "verdict": "pass",
            "occurred_at": first.result.occurred_at + timedelta(seconds=5),
        }
    )
    sink.put(first.uploaded, first.uploaded, first.brand_check, first.brand_check)
    sink.put(first.analysis, first.result, again)
    lake = Lake(store, max_staleness_s=0)
    media_id = str(first.uploaded.media_id)
    for view in ("uploads", "brand_checks", "analyses", "media_results", "media_status"):
        rows = lake.query(f"SELECT * FROM {view} WHERE media_id = ?", [media_id])  # noqa: S608
        assert len(rows) == 1, view
    assert lake.query("SELECT count(*) AS n FROM raw_media_results")[0]["n"] == 2
    assert lake.media(first.uploaded.media_id)["verdict"] == "pass"  # type: ignore[index]
    daily = lake.query("SELECT sum(total) AS n FROM compliance_daily")
    assert daily[0]["n"] == 1
