"""The lake writer on a real folder: layout, explicit schema, replay-safe names, rotation,
durability."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from processors.errors import StorageError
from processors.keys import NO_BRAND
from processors.keys import lake_object_key as object_key
from processors.lake.layout import parse
from processors.lake.query import Lake
from processors.lake.writer import LakeWriter
from processors.storage import LocalStore
from processors.synthetic import lake as syn
from schemas import topics
from schemas.lake import TABLES, to_row

UPLOADS = TABLES["uploads"]


def upload_rows(
    days: list[datetime], partition: int = 0, first: int = 0, brands: list[str | None] | None = None
) -> list[dict[str, Any]]:
    """One upload row per instant given, at consecutive offsets from `first`."""
    brand_of = brands or ["acme"] * len(days)
    return [
        to_row(
            syn.uploaded(when, counter=i, brand_id=brand_of[i]),
            topics.MEDIA_UPLOADED,
            partition,
            first + i,
        )
        for i, when in enumerate(days)
    ]


def key(day: date, partition: int, first: int, last: int, brand: str | None = "acme") -> str:
    return object_key("uploads", day, brand, topics.MEDIA_UPLOADED, partition, first, last)


@pytest.fixture
def store(tmp_path: Path) -> LocalStore:
    return LocalStore(tmp_path / "bucket")


def parquet_files(store: LocalStore) -> list[str]:
    return sorted(p.relative_to(store.root).as_posix() for p in store.root.rglob("*.parquet"))


def test_object_key_names_table_day_brand_topic_partition_and_offset_range() -> None:
    got = key(date(2026, 3, 4), 5, 1234, 1300)
    assert got == (
        "lake/uploads/dt=2026-03-04/brand_id=acme/"
        "reelscope.media.uploaded.v1+005+00000000000000001234+00000000000000001300.parquet"
    )
    parsed = parse(got)
    assert parsed is not None
    assert (parsed.day, parsed.brand_id, parsed.partition, parsed.first, parsed.last) == (
        date(2026, 3, 4),
        "acme",
        5,
        1234,
        1300,
    )
    assert key(date(2026, 3, 4), 0, 0, 0, None).split("/")[3] == f"brand_id={NO_BRAND}"
    with pytest.raises(ValueError, match="cannot name"):
        object_key("uploads", date(2026, 3, 4), "acme", "../escape", 0, 0, 0)
    with pytest.raises(ValueError, match="cannot name"):
        key(date(2026, 3, 4), 0, 9, 8)
    assert parse("lake/uploads/dt=2026-03-04/brand_id=acme/.tmp-x.partial") is None


def test_written_rows_read_back_with_the_declared_types(store: LocalStore) -> None:
    rows = upload_rows([syn.day(2026, 1, 5)] * 3, partition=2, first=40)
    keys = LakeWriter(store).write(UPLOADS, topics.MEDIA_UPLOADED, 2, rows)
    assert keys == [key(date(2026, 1, 5), 2, 40, 42)]
    assert pq.read_schema(store.root / keys[0]).equals(UPLOADS.schema, check_metadata=False)
    assert pq.ParquetFile(store.root / keys[0]).metadata.row_group(0).column(0).compression == (
        "ZSTD"
    )
    got = Lake(store).query('SELECT * FROM uploads ORDER BY "offset"')
    assert [r["offset"] for r in got] == [40, 41, 42]
    first = got[0]
    assert first["media_id"] == rows[0]["media_id"]
    assert first["dt"] == date(2026, 1, 5)
    assert first["occurred_at"] == syn.day(2026, 1, 5)
    assert first["occurred_at"].utcoffset() == timedelta(0)
    assert first["platforms"] == ["tiktok", "youtube_shorts"]
    assert first["partition"] == 2 and first["size_bytes"] == 1024


def test_a_replayed_batch_writes_nothing(store: LocalStore) -> None:
    rows = upload_rows([syn.day(2026, 1, 5)] * 4)
    first = LakeWriter(store).write(UPLOADS, topics.MEDIA_UPLOADED, 0, rows)
    before = {k: (store.root / k).stat().st_mtime_ns for k in parquet_files(store)}
    # a new writer (a restarted worker) learns what is durable from the file names
    assert LakeWriter(store).write(UPLOADS, topics.MEDIA_UPLOADED, 0, rows) == []
    assert {k: (store.root / k).stat().st_mtime_ns for k in parquet_files(store)} == before
    assert parquet_files(store) == first
    assert Lake(store).query("SELECT count(*) AS n FROM raw_uploads") == [{"n": 4}]


def test_a_replay_cut_differently_writes_only_what_is_new(store: LocalStore) -> None:
    rows = upload_rows([syn.day(2026, 1, 5)] * 10)
    writer = LakeWriter(store)
    writer.write(UPLOADS, topics.MEDIA_UPLOADED, 0, rows[:4])
    writer.write(UPLOADS, topics.MEDIA_UPLOADED, 0, rows[4:7])
    # the worker died before writing 7-9; the restarted one replays from 2 in one batch
    again = LakeWriter(store).write(UPLOADS, topics.MEDIA_UPLOADED, 0, rows[2:])
    assert again == [key(date(2026, 1, 5), 0, 7, 9)]
    lake = Lake(store)
    assert lake.query("SELECT count(*) AS n FROM raw_uploads") == [{"n": 10}]
    got = lake.query('SELECT "offset" FROM uploads ORDER BY "offset"')
    assert [r["offset"] for r in got] == list(range(10))


def test_a_write_interrupted_between_folders_is_finished_by_the_replay(
    store: LocalStore,
) -> None:
    """Offsets covered in one folder say nothing about another: the replay fills the gap."""
    when = syn.day(2026, 1, 5)
    rows = upload_rows([when] * 6, brands=["acme", "beta"] * 3)
    acme_only = [r for r in rows if r["brand_id"] == "acme"]
    LakeWriter(store).write(UPLOADS, topics.MEDIA_UPLOADED, 0, acme_only)  # then the crash
    again = LakeWriter(store).write(UPLOADS, topics.MEDIA_UPLOADED, 0, rows)
    assert again == [key(when.date(), 0, 1, 5, "beta")]
    got = Lake(store).query(
        "SELECT brand_id, count(*) AS n FROM raw_uploads GROUP BY ALL ORDER BY ALL"
    )
    assert got == [{"brand_id": "acme", "n": 3}, {"brand_id": "beta", "n": 3}]


def test_rows_are_partitioned_by_brand_and_unbranded_rows_read_as_null(
    store: LocalStore,
) -> None:
    when = syn.day(2026, 1, 5)
    rows = upload_rows([when] * 4, brands=["acme", None, "2024", "acme"])
    keys = LakeWriter(store).write(UPLOADS, topics.MEDIA_UPLOADED, 0, rows)
    assert sorted(keys) == sorted(
        [
            key(when.date(), 0, 0, 3),
            key(when.date(), 0, 1, 1, None),
            key(when.date(), 0, 2, 2, "2024"),
        ]
    )
    lake = Lake(store)
    got = lake.query(
        "SELECT brand_id, count(*) AS n FROM uploads GROUP BY ALL ORDER BY brand_id NULLS LAST"
    )
    assert got == [
        {"brand_id": "2024", "n": 1},
        {"brand_id": "acme", "n": 2},
        {"brand_id": None, "n": 1},
    ]


def test_files_rotate_by_record_time(store: LocalStore) -> None:
    start = datetime(2026, 1, 5, 9, 50, tzinfo=UTC)
    times = [start + timedelta(minutes=m) for m in (0, 5, 9, 11, 30, 59, 75)]
    rows = upload_rows(times)
    # every media of this batch belongs to 2026-01-05; windows of 1 h cut at 10:00 and 11:00
    keys = LakeWriter(store, rotate_seconds=3600).write(UPLOADS, topics.MEDIA_UPLOADED, 0, rows)
    assert keys == [
        key(start.date(), 0, 0, 2),
        key(start.date(), 0, 3, 5),
        key(start.date(), 0, 6, 6),
    ]


def test_rows_spanning_two_days_land_in_two_folders(store: LocalStore) -> None:
    d1, d2 = syn.day(2026, 1, 5, 23), syn.day(2026, 1, 6, 1)
    rows = upload_rows([d1, d1, d2, d2, d2], partition=1, first=100)
    keys = LakeWriter(store).write(UPLOADS, topics.MEDIA_UPLOADED, 1, rows)
    assert keys == [key(d1.date(), 1, 100, 101), key(d2.date(), 1, 102, 104)]
    assert [pq.read_metadata(store.root / k).num_rows for k in keys] == [2, 3]
    got = Lake(store).query("SELECT dt, count(*) AS n FROM uploads GROUP BY dt ORDER BY dt")
    assert got == [{"dt": d1.date(), "n": 2}, {"dt": d2.date(), "n": 3}]


def test_generated_media_go_to_uploads_and_results_to_their_table(store: LocalStore) -> None:
    life = syn.life(syn.day(2026, 2, 1), verdict="warn", violations=("logo.small",))
    writer = LakeWriter(store)
    row = to_row(life.result, topics.MEDIA_RESULTS, 3, 9)
    [key] = writer.write(TABLES["media_results"], topics.MEDIA_RESULTS, 3, [row])
    assert key.startswith(
        "lake/media_results/dt=2026-02-01/brand_id=acme/reelscope.media.results.v1+003+"
    )
    got = Lake(store).query("SELECT verdict, violation_codes, latency_ms FROM media_results")
    assert got == [{"verdict": "warn", "violation_codes": ["logo.small"], "latency_ms": 3000.0}]


def test_empty_batch_writes_nothing(store: LocalStore) -> None:
    assert LakeWriter(store).write(UPLOADS, topics.MEDIA_UPLOADED, 0, []) == []
    assert parquet_files(store) == []


def test_rows_of_another_topic_or_partition_or_out_of_order_are_refused(
    store: LocalStore,
) -> None:
    writer = LakeWriter(store)
    rows = upload_rows([syn.day(2026, 1, 5)])
    with pytest.raises(ValueError, match="offset order"):
        writer.write(
            UPLOADS, topics.MEDIA_UPLOADED, 0, upload_rows([syn.day(2026, 1, 5)] * 2)[::-1]
        )
    with pytest.raises(ValueError, match="does not feed"):
        writer.write(UPLOADS, topics.MEDIA_RESULTS, 0, rows)
    with pytest.raises(ValueError, match="in a"):
        writer.write(UPLOADS, topics.MEDIA_UPLOADED, 1, rows)
    assert parquet_files(store) == []


def test_rows_that_do_not_fit_the_schema_are_refused(store: LocalStore) -> None:
    row = upload_rows([syn.day(2026, 1, 5)])[0] | {"size_bytes": "large"}
    with pytest.raises(ValueError, match="uploads schema"):
        LakeWriter(store).write(UPLOADS, topics.MEDIA_UPLOADED, 0, [row])
    assert parquet_files(store) == []


def test_a_failing_disk_raises_storage_error_and_leaves_no_partial_file(
    store: LocalStore,
) -> None:
    blocker = store.root / "lake" / "uploads" / "dt=2026-01-05" / "brand_id=acme"
    blocker.parent.mkdir(parents=True)
    blocker.write_text("a file where the day folder should be")
    with pytest.raises(StorageError, match="dt=2026-01-05/brand_id=acme"):
        LakeWriter(store).write(
            UPLOADS, topics.MEDIA_UPLOADED, 0, upload_rows([syn.day(2026, 1, 5)])
        )
    leftovers = [p for p in store.root.rglob("*") if p.is_file() and p != blocker]
    assert leftovers == []


def test_files_are_complete_when_write_returns(store: LocalStore) -> None:
    rows = upload_rows([datetime(2026, 1, 5, 12, tzinfo=UTC)] * 50)
    keys = LakeWriter(store).write(UPLOADS, topics.MEDIA_UPLOADED, 0, rows)
    assert pq.read_table(store.root / keys[0]).num_rows == 50
    assert not [p for p in store.root.rglob(".tmp-*")]
