"""Compaction: merge each partition folder's small files into large ones, duplicates dropped.

The sink writes one file per flush, so quiet topics leave many small files, and a replay with
a stale view of the lake may leave overlapping ones. Compaction merges the live files of each
folder and topic-partition epoch (see `layout`) in offset order, keeps every offset once, and
writes files named for the whole range they cover, cutting only between source files (so each
source file lies inside one new file).

Readers never miss a row nor see one twice: a snapshot ignores files that another file's range
covers (`layout.live`), so it sees either the originals or the merged file, never both; the
originals stay in place for `grace_seconds` after the merged file appeared, so a reader still
holding an older snapshot can open them. They are deleted by the first run after that. The
sink may keep writing while this runs: its new files lie outside the merged ranges.
"""

from __future__ import annotations

import datetime as dt
import time
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Final

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.fs as pafs

from processors import keys
from processors.lake import layout
from processors.lake.sources import LakeFiles, Listed
from processors.lake.writer import encode
from processors.storage import Store
from schemas.lake import TABLES, Table

TARGET_ROWS: Final = 1_000_000


@dataclass(frozen=True)
class Compaction:
    """What compacting one table-day did."""

    table: str
    day: dt.date
    files_before: int  # live files
    files_after: int
    rows_before: int
    rows_after: int
    deleted: int  # superseded files removed after their grace period


def compact(
    store: Store,
    *,
    tables: Iterable[str] | None = None,
    day: dt.date | None = None,
    before: dt.date | None = None,
    grace_seconds: float = 600.0,
    target_rows: int = TARGET_ROWS,
) -> list[Compaction]:
    """Compact table-days (all, one `day`, or those `before` a date); report those that changed."""
    lake = LakeFiles.of(store)
    done = []
    for name in tables or TABLES:
        table = TABLES[name]
        days = {day} if day else {f.day for f, _ in lake.listing(table)}
        for d in sorted(days):
            if before is None or d < before:
                done.append(compact_day(store, table, d, lake, grace_seconds, target_rows))
    return [c for c in done if c.files_before != c.files_after or c.deleted]


def compact_day(
    store: Store,
    table: Table,
    day: dt.date,
    lake: LakeFiles | None = None,
    grace_seconds: float = 600.0,
    target_rows: int = TARGET_ROWS,
) -> Compaction:
    """Merge each folder and topic-partition epoch's live files of a day; delete expired ones."""
    lake = lake or LakeFiles.of(store)
    streams: dict[tuple[str, str, int, int], list[Listed]] = defaultdict(list)
    for entry in lake.files(table, day):
        streams[entry[0].stream].append(entry)
    files_before = sum(len(m) for m in streams.values())
    rows_before = rows_after = 0
    for members in streams.values():
        if len(members) > 1:
            for chunk, merged, read in _merged_chunks(lake.fs, table, members, target_rows):
                _write_chunk(store, lake, chunk, merged)
                rows_before, rows_after = rows_before + read, rows_after + merged.num_rows
    listed = lake.listing(table, day)
    deleted = _delete_expired(store, lake, listed, grace_seconds)
    files_after = len(layout.live(listed))
    return Compaction(table.name, day, files_before, files_after, rows_before, rows_after, deleted)


def _merged_chunks(
    fs: pafs.FileSystem, table: Table, members: list[Listed], target_rows: int
) -> Iterator[tuple[list[Listed], pa.Table, int]]:
    """(files, their rows each offset once, rows read) for runs of consecutive files holding
    about `target_rows` rows; cut only between files, and runs of one file are left alone."""
    chunk: list[Listed] = []
    parts: list[pa.Table] = []
    last, read, kept = -1, 0, 0
    for entry in sorted(members, key=lambda e: (e[0].first, e[0].last)):
        rows = ds.dataset(entry[1].path, schema=table.schema, format="parquet", filesystem=fs)
        part = rows.to_table().sort_by("offset")
        fresh = part.filter(pc.greater(part["offset"], pa.scalar(last, pa.int64())))
        chunk.append(entry)
        read += part.num_rows
        if fresh.num_rows:
            last = pc.max(fresh["offset"]).as_py()
            parts.append(fresh)
            kept += fresh.num_rows
        if kept >= target_rows:
            if len(chunk) > 1:
                yield chunk, pa.concat_tables(parts), read
            chunk, parts, read, kept = [], [], 0, 0
    if len(chunk) > 1:
        yield chunk, pa.concat_tables(parts) if parts else table.schema.empty_table(), read


def _write_chunk(store: Store, lake: LakeFiles, chunk: list[Listed], merged: pa.Table) -> None:
    """Write a merged run under the name of the whole range its files cover."""
    first = chunk[0][0]
    last = max(f.last for f, _ in chunk)
    folder = lake.key_of(chunk[0][1]).rsplit("/", 1)[0]
    name = keys.lake_file_name(first.topic, first.partition, first.first, last, first.epoch)
    store.put_bytes(f"{folder}/{name}", encode(merged))


def _delete_expired(
    store: Store, lake: LakeFiles, listed: list[Listed], grace_seconds: float
) -> int:
    """Delete superseded files whose covering file is older than the grace period."""
    info_of = {f.path: info for f, info in listed}
    now = time.time()
    deleted = 0
    for covered, cover in layout.superseded(f for f, _ in listed):
        mtime = info_of[cover.path].mtime
        age = now - mtime.timestamp() if mtime is not None else 0.0
        if age >= grace_seconds:
            store.delete(lake.key_of(info_of[covered.path]))
            deleted += 1
    return deleted
