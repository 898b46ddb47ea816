"""The lake on a real S3 endpoint (moto server): the same writer and views over `s3://`."""

from __future__ import annotations

from datetime import date

import pyarrow.parquet as pq
import pytest

from processors.errors import StorageError
from processors.keys import lake_object_key as object_key
from processors.lake.query import Lake
from processors.lake.views import VIEWS
from processors.lake.writer import LakeWriter
from processors.storage import S3Store, arrow_filesystem
from processors.synthetic import lake as syn
from schemas import topics
from schemas.lake import TABLES, to_row
from tests.processors.lake.test_query import check_schema_drift

UPLOADS, RESULTS = TABLES["uploads"], TABLES["media_results"]


def test_an_empty_bucket_is_an_empty_lake(s3_store: S3Store) -> None:
    lake = Lake(s3_store)
    for view in VIEWS:
        assert lake.query(f"SELECT * FROM {view}") == [], view
    assert lake.media(syn.uuid7_at(syn.day(2026, 1, 1))) is None
    assert lake.list_media(limit=5) == []


def test_write_replay_and_read_back_on_s3(s3_store: S3Store) -> None:
    lives = [syn.life(syn.day(2026, 1, 5 + i // 2), counter=i) for i in range(4)]
    rows = [to_row(life.uploaded, topics.MEDIA_UPLOADED, 4, 10 + i) for i, life in enumerate(lives)]
    writer = LakeWriter(s3_store)
    keys = writer.write(UPLOADS, topics.MEDIA_UPLOADED, 4, rows)
    assert keys == [
        object_key("uploads", date(2026, 1, 5), "acme", topics.MEDIA_UPLOADED, 4, 10, 11),
        object_key("uploads", date(2026, 1, 6), "acme", topics.MEDIA_UPLOADED, 4, 12, 13),
    ]
    # a restarted worker replaying the batch, cut differently, writes nothing
    assert LakeWriter(s3_store).write(UPLOADS, topics.MEDIA_UPLOADED, 4, rows[1:]) == []
    assert s3_store.list("lake/") == keys
    fs, root = arrow_filesystem(s3_store)
    assert pq.read_schema(f"{root}/{keys[0]}", filesystem=fs).equals(
        UPLOADS.schema, check_metadata=False
    )
    lake = Lake(s3_store)
    got = lake.query('SELECT media_id, dt, "offset", occurred_at FROM uploads ORDER BY "offset"')
    assert [r["offset"] for r in got] == [10, 11, 12, 13]
    assert got[0]["media_id"] == str(lives[0].uploaded.media_id)
    assert got[2]["dt"] == date(2026, 1, 6)
    assert got[0]["occurred_at"] == lives[0].uploaded.occurred_at


def test_media_status_and_listing_on_s3(s3_store: S3Store) -> None:
    done = syn.life(syn.day(2026, 1, 5), verdict="warn", violations=("logo.small",))
    waiting = syn.uploaded(syn.day(2026, 1, 6), counter=1)
    writer = LakeWriter(s3_store)
    ups = [done.uploaded, waiting]
    writer.write(
        UPLOADS,
        topics.MEDIA_UPLOADED,
        0,
        [to_row(e, topics.MEDIA_UPLOADED, 0, i) for i, e in enumerate(ups)],
    )
    lake = Lake(s3_store, max_staleness_s=0)
    before = lake.media(done.uploaded.media_id)
    assert before is not None and before["status"] == "processing"
    writer.write(
        RESULTS, topics.MEDIA_RESULTS, 2, [to_row(done.result, topics.MEDIA_RESULTS, 2, 0)]
    )
    after = lake.media(done.uploaded.media_id)
    assert after is not None
    assert (after["status"], after["verdict"], after["violation_codes"]) == (
        "done",
        "warn",
        ["logo.small"],
    )
    assert after["brand_check"]["verdict"] == "warn"
    listed = lake.list_media(status="processing", limit=10)
    assert [r["media_id"] for r in listed] == [str(waiting.media_id)]
    page = lake.list_media(limit=1, after=done.uploaded.media_id)
    assert [r["media_id"] for r in page] == [str(waiting.media_id)]
    assert lake.query("SELECT warn_count FROM compliance_daily") == [{"warn_count": 1}]


def test_a_missing_bucket_is_a_storage_error(s3_store: S3Store) -> None:
    gone = S3Store(f"{s3_store.bucket}-missing", endpoint_url=s3_store.endpoint_url)
    row = to_row(syn.uploaded(syn.day(2026, 1, 5)), topics.MEDIA_UPLOADED, 0, 0)
    with pytest.raises(StorageError):
        LakeWriter(gone).write(UPLOADS, topics.MEDIA_UPLOADED, 0, [row])


def test_files_of_older_and_newer_writers_read_the_same_on_s3(s3_store: S3Store) -> None:
    check_schema_drift(s3_store)
