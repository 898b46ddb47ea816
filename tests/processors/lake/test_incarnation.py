"""Offsets that start again (a broker that lost its data, a topic re-created) are a new epoch:
the writer never takes new records for old ones; rows the schema cannot hold are refused alone."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from processors.keys import lake_marker_key as marker_key
from processors.keys import lake_object_key as object_key
from processors.lake.compact import compact
from processors.lake.layout import parse
from processors.lake.query import Lake
from processors.lake.writer import LakeWriter, Refused
from processors.storage import LocalStore, S3Store, Store
from processors.synthetic import lake as syn
from schemas import topics
from schemas.lake import TABLES, to_row

UPLOADS = TABLES["uploads"]
UPLOADED = topics.MEDIA_UPLOADED
DAY = datetime(2026, 2, 3, 10, tzinfo=UTC)


def fresh_rows(offsets: range, partition: int = 0) -> list[dict[str, Any]]:
    """New events (new media and event ids) at these offsets."""
    return [to_row(syn.uploaded(DAY, counter=o), UPLOADED, partition, o) for o in offsets]


def media_in_lake(store: Store) -> list[str]:
    lake = Lake(store, max_staleness_s=0)
    return sorted(r["media_id"] for r in lake.query("SELECT media_id FROM uploads"))


def ids(rows: list[dict[str, Any]]) -> list[str]:
    return [r["media_id"] for r in rows]


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    if request.param == "local":
        return LocalStore(tmp_path / "bucket")
    s3: S3Store = request.getfixturevalue("s3_store")
    return s3


def test_offsets_starting_again_with_other_records_begin_a_new_epoch(store: Store) -> None:
    before, after = fresh_rows(range(5)), fresh_rows(range(7))
    LakeWriter(store).write(UPLOADS, UPLOADED, 0, before)
    # the broker lost its data: the same offsets now hold other records, seen by a new process
    writer = LakeWriter(store)
    keys = writer.write(UPLOADS, UPLOADED, 0, after)

    assert [(f.epoch, f.first, f.last) for f in map(parse, keys) if f] == [(1, 0, 6)]
    assert "+e0001+" in keys[0]
    assert media_in_lake(store) == sorted(ids(before) + ids(after))
    marker = json.loads(store.get_bytes(marker_key(UPLOADED, 0)))
    assert marker["epoch"] == 1
    assert "offset 0" in marker["history"][0]["reason"]


def test_a_replay_of_the_new_epoch_writes_nothing_in_any_process(store: Store) -> None:
    LakeWriter(store).write(UPLOADS, UPLOADED, 0, fresh_rows(range(5)))
    after = fresh_rows(range(7))
    LakeWriter(store).write(UPLOADS, UPLOADED, 0, after)
    listed = store.list("lake/uploads/")

    assert LakeWriter(store).write(UPLOADS, UPLOADED, 0, after) == []  # a restarted sink
    assert LakeWriter(store).write(UPLOADS, UPLOADED, 0, after[3:]) == []
    assert store.list("lake/uploads/") == listed
    assert json.loads(store.get_bytes(marker_key(UPLOADED, 0)))["epoch"] == 1


def test_a_true_replay_keeps_epoch_zero_and_writes_no_marker(store: Store) -> None:
    rows = fresh_rows(range(6))
    LakeWriter(store).write(UPLOADS, UPLOADED, 0, rows[:4])
    keys = LakeWriter(store).write(UPLOADS, UPLOADED, 0, rows)  # rewind to earliest, restart

    assert [(f.epoch, f.first, f.last) for f in map(parse, keys) if f] == [(0, 4, 5)]
    assert not store.exists(marker_key(UPLOADED, 0))
    assert media_in_lake(store) == sorted(ids(rows))


def test_a_record_in_another_folder_at_a_covered_offset_is_a_new_epoch(store: Store) -> None:
    """Offset 3 was an `acme` row; now it is a `zeta` row: acme's file covers 3 but lacks it."""
    LakeWriter(store).write(UPLOADS, UPLOADED, 0, fresh_rows(range(5)))
    moved = [
        to_row(syn.uploaded(DAY, counter=o, brand_id="zeta" if o == 3 else "acme"), UPLOADED, 0, o)
        for o in range(5)
    ]
    writer = LakeWriter(store)
    writer.write(UPLOADS, UPLOADED, 0, moved)
    assert writer.incarnations.epoch(UPLOADED, 0) == 1
    assert len(media_in_lake(store)) == 10


def test_other_partitions_keep_their_epoch(store: Store) -> None:
    LakeWriter(store).write(UPLOADS, UPLOADED, 0, fresh_rows(range(3)))
    LakeWriter(store).write(UPLOADS, UPLOADED, 1, fresh_rows(range(3), partition=1))
    writer = LakeWriter(store)
    writer.write(UPLOADS, UPLOADED, 0, fresh_rows(range(3)))
    assert (writer.incarnations.epoch(UPLOADED, 0), writer.incarnations.epoch(UPLOADED, 1)) == (
        1,
        0,
    )


def test_compaction_keeps_epochs_apart(store: Store) -> None:
    writer = LakeWriter(store)
    first = fresh_rows(range(6))
    writer.write(UPLOADS, UPLOADED, 0, first[:3])
    writer.write(UPLOADS, UPLOADED, 0, first[3:])
    second = fresh_rows(range(6))
    writer = LakeWriter(store)
    writer.write(UPLOADS, UPLOADED, 0, second[:2])
    writer.write(UPLOADS, UPLOADED, 0, second[2:])

    compact(store, grace_seconds=0)
    compact(store, grace_seconds=0)  # deletes the superseded originals

    names = [(f.epoch, f.first, f.last) for f in map(parse, store.list("lake/uploads/")) if f]
    assert sorted(names) == [(0, 0, 5), (1, 0, 5)]
    assert media_in_lake(store) == sorted(ids(first) + ids(second))
    # and a replay of either epoch's records after compaction writes nothing
    assert LakeWriter(store).write(UPLOADS, UPLOADED, 0, second) == []


def test_old_names_read_as_epoch_zero() -> None:
    day = DAY.date()
    old = object_key("uploads", day, "acme", UPLOADED, 2, 10, 20)
    assert "+e" not in old
    parsed = parse(old)
    assert parsed is not None and parsed.epoch == 0
    newer = parse(object_key("uploads", day, "acme", UPLOADED, 2, 10, 20, epoch=12))
    assert newer is not None and (newer.epoch, newer.first, newer.last) == (12, 10, 20)
    assert not parsed.covers(newer) and not newer.covers(parsed)


def test_an_unwritable_row_is_refused_alone_and_no_file_claims_it(store: Store) -> None:
    rows = fresh_rows(range(6))
    rows[2] = rows[2] | {"size_bytes": 2**63}  # valid JSON, too big for int64
    refused: list[Refused] = []
    keys = LakeWriter(store).write(UPLOADS, UPLOADED, 0, rows, on_refused=refused.append)

    assert [r.offset for r in refused] == [2]
    assert "uploads schema" in refused[0].reason
    assert [(f.first, f.last) for f in map(parse, keys) if f] == [(0, 1), (3, 5)]
    assert media_in_lake(store) == sorted(ids(rows[:2] + rows[3:]))
    # a replay refuses it again (never takes it for written) and writes nothing else
    again: list[Refused] = []
    assert LakeWriter(store).write(UPLOADS, UPLOADED, 0, rows, on_refused=again.append) == []
    assert [r.offset for r in again] == [2]


def test_without_a_handler_an_unwritable_row_writes_nothing(store: Store) -> None:
    rows = fresh_rows(range(3))
    rows[1] = rows[1] | {"size_bytes": 2**63}
    with pytest.raises(ValueError, match="uploads schema"):
        LakeWriter(store).write(UPLOADS, UPLOADED, 0, rows)
    assert store.list("lake/") == []
