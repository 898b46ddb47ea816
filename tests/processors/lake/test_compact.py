"""Compaction on a real folder and a real S3 endpoint: fewer files, no duplicates, same views,
and readers running during compaction never see a row missing or twice."""

from __future__ import annotations

import threading
import time
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from processors.keys import lake_object_key as object_key
from processors.lake.compact import Compaction, compact
from processors.lake.query import Lake
from processors.lake.writer import LakeWriter, to_parquet
from processors.storage import LocalStore, S3Store, Store
from processors.synthetic import lake as syn
from schemas import topics
from schemas.lake import TABLES, to_row

UPLOADS = TABLES["uploads"]
UPLOADED = topics.MEDIA_UPLOADED
OLD, NEW = syn.day(2026, 1, 5), syn.day(2026, 1, 9)


def rows(when: Any, partition: int, offsets: range, brand: str = "acme") -> list[dict[str, Any]]:
    return [
        to_row(syn.uploaded(when, counter=o, brand_id=brand), UPLOADED, partition, o)
        for o in offsets
    ]


def key(day: date, partition: int, first: int, last: int) -> str:
    return object_key("uploads", day, "acme", UPLOADED, partition, first, last)


def messy_lake(store: Store) -> list[dict[str, Any]]:
    """Small flushes, a zombie worker's overlapping file, a second partition and a newer day;
    returns the older day's partition-0 rows (what a replay from the earliest offset reads)."""
    writer, old = LakeWriter(store), rows(OLD, 0, range(10))
    for batch in (old[:4], old[4:7], old[7:]):
        writer.write(UPLOADS, UPLOADED, 0, batch)
    # a worker that lost the partition but still flushed 2-9 (its view of the lake was stale)
    store.put_bytes(key(OLD.date(), 0, 2, 9), to_parquet(UPLOADS, old[2:]))
    writer.write(UPLOADS, UPLOADED, 1, rows(OLD, 1, range(3)))
    new = rows(NEW, 0, range(10, 14))
    writer.write(UPLOADS, UPLOADED, 0, new[:2])
    writer.write(UPLOADS, UPLOADED, 0, new[2:])
    return old


def raw_count(lake: Lake) -> int:
    return int(lake.query("SELECT count(*) AS n FROM raw_uploads")[0]["n"])


def check_compaction(store: Store) -> None:
    old = messy_lake(store)
    lake = Lake(store, max_staleness_s=0)
    view = 'SELECT "partition", "offset", media_id FROM uploads ORDER BY ALL'
    seen = lake.query(view)
    assert len(seen) == 10 + 3 + 4
    # 4-6 and 7-9 lie inside the zombie's 2-9, so readers skip them; 2-3 are still read twice
    assert raw_count(lake) == 4 + 8 + 3 + 4
    done = compact(store, before=NEW.date(), grace_seconds=0)
    assert done == [Compaction("uploads", OLD.date(), 3, 2, 12, 10, 4)]
    assert lake.query(view) == seen
    assert raw_count(lake) == 10 + 3 + 4
    assert store.list("lake/uploads/dt=2026-01-05/") == [
        key(OLD.date(), 0, 0, 9),
        key(OLD.date(), 1, 0, 2),
    ]
    assert len(store.list("lake/uploads/dt=2026-01-09/")) == 2  # not asked for
    assert compact(store, before=NEW.date(), grace_seconds=0) == []
    # a replay from the earliest offset after compaction finds every row durable
    assert LakeWriter(store).write(UPLOADS, UPLOADED, 0, old) == []


def test_compaction_merges_a_day_without_duplicates(tmp_path: Path) -> None:
    check_compaction(LocalStore(tmp_path / "bucket"))


def test_compaction_on_s3(s3_store: S3Store) -> None:
    check_compaction(s3_store)


def test_compacting_an_empty_lake_does_nothing(tmp_path: Path) -> None:
    assert compact(LocalStore(tmp_path / "empty")) == []


def test_merged_away_files_stay_for_the_grace_period(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "bucket")
    writer = LakeWriter(store)
    for first in range(0, 9, 3):
        writer.write(UPLOADS, UPLOADED, 0, rows(OLD, 0, range(first, first + 3)))
    [done] = compact(store, grace_seconds=600)
    assert (done.files_before, done.files_after, done.deleted) == (3, 1, 0)
    assert len(store.list("lake/uploads/")) == 4  # the originals are still there ...
    assert raw_count(Lake(store)) == 9  # ... but no reader reads them
    [done] = compact(store, grace_seconds=0)
    assert (done.files_before, done.files_after, done.deleted) == (1, 1, 3)
    assert store.list("lake/uploads/") == [key(OLD.date(), 0, 0, 8)]


def test_large_merges_are_cut_between_source_files(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "bucket")
    writer = LakeWriter(store)
    for first in range(0, 15, 3):
        writer.write(UPLOADS, UPLOADED, 0, rows(OLD, 0, range(first, first + 3)))
    compact(store, grace_seconds=0, target_rows=6)
    assert store.list("lake/uploads/") == [
        key(OLD.date(), 0, 0, 5),
        key(OLD.date(), 0, 6, 11),
        key(OLD.date(), 0, 12, 14),
    ]
    assert raw_count(Lake(store)) == 15


def test_only_the_tables_and_day_asked_for_are_compacted(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "bucket")
    messy_lake(store)
    assert compact(store, tables=["media_results"], grace_seconds=0) == []
    [done] = compact(store, day=NEW.date(), grace_seconds=0)
    assert (done.day, done.files_before, done.files_after) == (NEW.date(), 2, 1)
    assert len(store.list("lake/uploads/dt=2026-01-05/")) == 5  # untouched


def test_readers_during_compaction_never_see_a_row_missing_or_twice(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "bucket")
    writer = LakeWriter(store)
    for partition in range(2):
        for brand in ("acme", "beta"):
            for first in range(0, 120, 4):  # 30 small flushes per folder and partition
                batch = rows(OLD, partition, range(first, first + 4), brand)
                writer.write(UPLOADS, UPLOADED, partition, batch)
    expected = {"n": 480, "distinct": 480}
    sql = (
        'SELECT count(*) AS n, count(DISTINCT (brand_id, "partition", "offset")) AS distinct '
        "FROM raw_uploads"
    )
    seen: list[dict[str, Any]] = []
    errors: list[Exception] = []
    stop = threading.Event()

    def read(staleness: float) -> None:
        # one reader lists before every query, one keeps a listing up to 0.3 s old
        lake = Lake(store, max_staleness_s=staleness)
        while not stop.is_set():
            try:
                seen.extend(lake.query(sql))
                seen.append({"view": lake.query("SELECT count(*) AS v FROM uploads")[0]["v"]})
            except Exception as e:  # a file gone between listing and reading
                errors.append(e)

    readers = [threading.Thread(target=read, args=(s,)) for s in (0, 0.3)]
    for r in readers:
        r.start()
    try:
        time.sleep(0.3)
        [merged] = compact(store, grace_seconds=2)
        time.sleep(2.1)
        [cleaned] = compact(store, grace_seconds=2)
        time.sleep(0.3)
    finally:
        stop.set()
        for r in readers:
            r.join()
    assert errors == []
    assert (merged.files_before, merged.files_after, merged.deleted) == (120, 4, 0)
    assert (cleaned.files_before, cleaned.files_after, cleaned.deleted) == (4, 4, 120)
    assert len(store.list("lake/uploads/")) == 4
    counts = [s for s in seen if "n" in s]
    views = [s["view"] for s in seen if "view" in s]
    assert len(counts) > 20 and len(views) > 20  # the readers really ran throughout
    assert all(c == expected for c in counts), [c for c in counts if c != expected][:3]
    assert set(views) == {480}


@pytest.mark.parametrize("cut", [3, 5])
def test_a_compacted_day_reads_the_same_through_media(tmp_path: Path, cut: int) -> None:
    store = LocalStore(tmp_path / "bucket")
    life = syn.life(OLD, verdict="warn")
    writer = LakeWriter(store)
    ups = rows(OLD, 0, range(6))
    ups[2] = to_row(life.uploaded, UPLOADED, 0, 2)
    writer.write(UPLOADS, UPLOADED, 0, ups[:cut])
    writer.write(UPLOADS, UPLOADED, 0, ups[cut:])
    writer.write(
        TABLES["media_results"],
        topics.MEDIA_RESULTS,
        0,
        [to_row(life.result, topics.MEDIA_RESULTS, 0, 0)],
    )
    before = Lake(store).media(life.uploaded.media_id)
    compact(store, grace_seconds=0)
    assert len(store.list("lake/uploads/")) == 1
    assert Lake(store).media(life.uploaded.media_id) == before
    assert before is not None and before["verdict"] == "warn"
