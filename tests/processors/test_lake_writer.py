"""The lake writer on a real folder: layout, explicit schema, replay-safe names, durability."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from processors.errors import StorageError
from processors.lake import synthetic as syn
from processors.lake.query import Lake
from processors.lake.writer import LakeWriter, object_key
from processors.storage import LocalStore
from schemas import topics
from schemas.lake import TABLES, to_row

UPLOADS = TABLES["uploads"]


def upload_rows(days: list[datetime], partition: int = 0, first: int = 0) -> list[dict[str, Any]]:
    """One upload row per day given, at consecutive offsets from `first`."""
    return [
        to_row(syn.uploaded(when, counter=i), topics.MEDIA_UPLOADED, partition, first + i)
        for i, when in enumerate(days)
    ]


@pytest.fixture
def store(tmp_path: Path) -> LocalStore:
    return LocalStore(tmp_path / "bucket")


def parquet_files(store: LocalStore) -> list[str]:
    return sorted(p.relative_to(store.root).as_posix() for p in store.root.rglob("*.parquet"))


def test_object_key_names_table_day_topic_partition_and_first_offset() -> None:
    key = object_key(UPLOADS, date(2026, 3, 4), topics.MEDIA_UPLOADED, 5, 1234)
    assert key == (
        "lake/uploads/dt=2026-03-04/reelscope.media.uploaded.v1+005+00000000000000001234.parquet"
    )
    with pytest.raises(ValueError, match="cannot name"):
        object_key(UPLOADS, date(2026, 3, 4), "../escape", 0, 0)


def test_written_rows_read_back_with_the_declared_types(store: LocalStore) -> None:
    rows = upload_rows([syn.day(2026, 1, 5)] * 3, partition=2, first=40)
    keys = LakeWriter(store).write(UPLOADS, topics.MEDIA_UPLOADED, 2, rows)
    assert keys == [object_key(UPLOADS, date(2026, 1, 5), topics.MEDIA_UPLOADED, 2, 40)]
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


def test_a_replayed_batch_rewrites_the_same_object(store: LocalStore) -> None:
    rows = upload_rows([syn.day(2026, 1, 5)] * 4)
    writer = LakeWriter(store)
    first = writer.write(UPLOADS, topics.MEDIA_UPLOADED, 0, rows)
    again = writer.write(UPLOADS, topics.MEDIA_UPLOADED, 0, rows)
    assert first == again
    assert parquet_files(store) == first
    assert Lake(store).query("SELECT count(*) AS n FROM uploads") == [{"n": 4}]


def test_batches_cut_differently_show_each_record_once(store: LocalStore) -> None:
    rows = upload_rows([syn.day(2026, 1, 5)] * 10)
    writer = LakeWriter(store)
    writer.write(UPLOADS, topics.MEDIA_UPLOADED, 0, rows[:4])
    writer.write(UPLOADS, topics.MEDIA_UPLOADED, 0, rows[4:])
    writer.write(UPLOADS, topics.MEDIA_UPLOADED, 0, rows)  # replay after a crash, one flush
    assert len(parquet_files(store)) == 2  # +0 now holds 0-9, +4 still holds 4-9
    lake = Lake(store)
    assert lake.query("SELECT count(*) AS n FROM raw_uploads") == [{"n": 16}]
    got = lake.query('SELECT "offset" FROM uploads ORDER BY "offset"')
    assert [r["offset"] for r in got] == list(range(10))


def test_rows_spanning_two_days_land_in_two_folders(store: LocalStore) -> None:
    d1, d2 = syn.day(2026, 1, 5, 23), syn.day(2026, 1, 6, 1)
    rows = upload_rows([d1, d1, d2, d2, d2], partition=1, first=100)
    keys = LakeWriter(store).write(UPLOADS, topics.MEDIA_UPLOADED, 1, rows)
    assert keys == [
        object_key(UPLOADS, d1.date(), topics.MEDIA_UPLOADED, 1, 100),
        object_key(UPLOADS, d2.date(), topics.MEDIA_UPLOADED, 1, 102),
    ]
    assert [pq.read_metadata(store.root / k).num_rows for k in keys] == [2, 3]
    got = Lake(store).query("SELECT dt, count(*) AS n FROM uploads GROUP BY dt ORDER BY dt")
    assert got == [{"dt": d1.date(), "n": 2}, {"dt": d2.date(), "n": 3}]


def test_generated_media_go_to_uploads_and_results_to_their_table(store: LocalStore) -> None:
    life = syn.life(syn.day(2026, 2, 1), verdict="warn", violations=("logo.small",))
    writer = LakeWriter(store)
    row = to_row(life.result, topics.MEDIA_RESULTS, 3, 9)
    [key] = writer.write(TABLES["media_results"], topics.MEDIA_RESULTS, 3, [row])
    assert key.startswith("lake/media_results/dt=2026-02-01/reelscope.media.results.v1+003+")
    got = Lake(store).query("SELECT verdict, violation_codes, latency_ms FROM media_results")
    assert got == [{"verdict": "warn", "violation_codes": ["logo.small"], "latency_ms": 3000.0}]


def test_empty_batch_writes_nothing(store: LocalStore) -> None:
    assert LakeWriter(store).write(UPLOADS, topics.MEDIA_UPLOADED, 0, []) == []
    assert parquet_files(store) == []


def test_rows_of_another_topic_or_partition_are_refused(store: LocalStore) -> None:
    writer = LakeWriter(store)
    rows = upload_rows([syn.day(2026, 1, 5)])
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
    blocker = store.root / "lake" / "uploads" / "dt=2026-01-05"
    blocker.parent.mkdir(parents=True)
    blocker.write_text("a file where the day folder should be")
    with pytest.raises(StorageError, match="dt=2026-01-05"):
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
