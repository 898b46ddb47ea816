"""Compaction on a real folder and a real S3 endpoint: fewer files, no duplicates, same view."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest

from processors.lake import synthetic as syn
from processors.lake.compact import Compaction, compact
from processors.lake.query import Lake
from processors.lake.writer import LakeWriter, object_key
from processors.storage import LocalStore, S3Store, Store
from schemas import topics
from schemas.lake import TABLES, to_row

UPLOADS = TABLES["uploads"]
OLD, NEW = syn.day(2026, 1, 5), syn.day(2026, 1, 9)


def rows(when: Any, partition: int, offsets: range) -> list[dict[str, Any]]:
    return [
        to_row(syn.uploaded(when, counter=o), topics.MEDIA_UPLOADED, partition, o) for o in offsets
    ]


def messy_lake(store: Store) -> None:
    """Small flushes, a replay cut differently, a second partition and a newer day."""
    writer, old = LakeWriter(store), rows(OLD, 0, range(10))
    for batch in (old[:4], old[4:7], old[7:], old):  # the last one replays everything
        writer.write(UPLOADS, topics.MEDIA_UPLOADED, 0, batch)
    writer.write(UPLOADS, topics.MEDIA_UPLOADED, 1, rows(OLD, 1, range(3)))
    new = rows(NEW, 0, range(10, 14))
    writer.write(UPLOADS, topics.MEDIA_UPLOADED, 0, new[:2])
    writer.write(UPLOADS, topics.MEDIA_UPLOADED, 0, new[2:])


def check_compaction(store: Store) -> None:
    messy_lake(store)
    lake = Lake(store, max_staleness_s=0)
    view = 'SELECT "partition", "offset", media_id FROM uploads ORDER BY ALL'
    seen = lake.query(view)
    # +0 holds 0-9 after the replay, +4 and +7 still hold 4-6 and 7-9
    assert lake.query("SELECT count(*) AS n FROM raw_uploads") == [{"n": 10 + 3 + 3 + 3 + 4}]
    done = compact(store, before=NEW.date())
    assert done == [Compaction("uploads", OLD.date(), 3 + 1, 2, 16 + 3, 10 + 3)]
    assert lake.query(view) == seen
    assert lake.query("SELECT count(*) AS n FROM raw_uploads") == [{"n": 13 + 4}]
    keys = store.list("lake/uploads/dt=2026-01-05/")
    assert keys == [
        object_key(UPLOADS, OLD.date(), topics.MEDIA_UPLOADED, 0, 0),
        object_key(UPLOADS, OLD.date(), topics.MEDIA_UPLOADED, 1, 0),
    ]
    assert len(store.list("lake/uploads/dt=2026-01-09/")) == 2  # the open day is left alone
    assert compact(store, before=NEW.date()) == []


def test_compaction_merges_a_closed_day_without_duplicates(tmp_path: Path) -> None:
    check_compaction(LocalStore(tmp_path / "bucket"))


def test_compaction_on_s3(s3_store: S3Store) -> None:
    check_compaction(s3_store)


def test_compacting_an_empty_lake_does_nothing(tmp_path: Path) -> None:
    assert compact(LocalStore(tmp_path / "empty"), before=date(2030, 1, 1)) == []


@pytest.mark.parametrize("cut", [3, 5])
def test_a_compacted_day_reads_the_same_through_media(tmp_path: Path, cut: int) -> None:
    store = LocalStore(tmp_path / "bucket")
    life = syn.life(OLD, verdict="warn")
    writer = LakeWriter(store)
    ups = rows(OLD, 0, range(6))
    ups[2] = to_row(life.uploaded, topics.MEDIA_UPLOADED, 0, 2)
    writer.write(UPLOADS, topics.MEDIA_UPLOADED, 0, ups[:cut])
    writer.write(UPLOADS, topics.MEDIA_UPLOADED, 0, ups[cut:])
    writer.write(
        TABLES["media_results"],
        topics.MEDIA_RESULTS,
        0,
        [to_row(life.result, topics.MEDIA_RESULTS, 0, 0)],
    )
    before = Lake(store).media(life.uploaded.media_id)
    compact(store, before=NEW.date())
    assert len(store.list("lake/uploads/")) == 1
    assert Lake(store).media(life.uploaded.media_id) == before
    assert before is not None and before["verdict"] == "warn"
