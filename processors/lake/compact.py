"""Compaction: rewrite a closed day of a table as one file per topic-partition, duplicates gone.

The sink writes one file per flush, so quiet topics leave many small files, and replays cut
differently leave overlapping ones. Compaction merges each topic-partition's files of a day in
offset order, keeps every offset once, and writes the result under the key of the first file.

Readers are safe: the merged file replaces the first file in one atomic write and only then
are the others deleted, so every record stays visible at least once (at most twice, which the
views hide). A sink still writing that day is not: compact only days the sink has closed, i.e.
older than any offset that might still be replayed (e.g. `before=today - 1 day`).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Final

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.fs as pafs

from processors.lake.sources import LakeFiles, day_of_path
from processors.lake.writer import encode, put_durably
from processors.storage import Store
from schemas.lake import TABLES, Table

_NAME: Final = re.compile(
    r"^(?P<topic>[A-Za-z0-9._-]+)\+(?P<partition>\d+)\+(?P<offset>\d+)\.parquet$"
)


@dataclass(frozen=True)
class Compaction:
    """What compacting one table-day did."""

    table: str
    day: dt.date
    files_before: int
    files_after: int
    rows_before: int
    rows_after: int


def compact(store: Store, *, before: dt.date) -> list[Compaction]:
    """Compact every table-day older than `before` that has more than one file per partition."""
    lake = LakeFiles.of(store)
    done = []
    for table in TABLES.values():
        days = sorted({day_of_path(i.path) for i in lake.files(table)})
        done += [compact_day(store, table, day, lake) for day in days if day < before]
    return [c for c in done if c.files_before != c.files_after]


def compact_day(
    store: Store, table: Table, day: dt.date, lake: LakeFiles | None = None
) -> Compaction:
    """Merge each topic-partition's files of one day into one file without duplicate offsets."""
    lake = lake or LakeFiles.of(store)
    groups: dict[tuple[str, int], list[tuple[int, pafs.FileInfo]]] = {}
    for info in lake.files(table, day):
        if m := _NAME.match(info.base_name):
            tp = (m["topic"], int(m["partition"]))
            groups.setdefault(tp, []).append((int(m["offset"]), info))
    files_before = rows_before = rows_after = 0
    for members in groups.values():
        files = [info for _, info in sorted(members, key=lambda member: member[0])]
        read, kept = _rewrite(store, lake, table, files)
        files_before, rows_before, rows_after = (
            files_before + len(files),
            rows_before + read,
            rows_after + kept,
        )
    return Compaction(table.name, day, files_before, len(groups), rows_before, rows_after)


def _rewrite(
    store: Store, lake: LakeFiles, table: Table, files: list[pafs.FileInfo]
) -> tuple[int, int]:
    """Replace one topic-partition's files by their merge; return rows read and kept."""
    merged, read = _merge(lake.fs, table, files)
    if len(files) > 1:
        put_durably(store, lake.key_of(files[0]), encode(merged))
        for info in files[1:]:
            store.delete(lake.key_of(info))
    return read, merged.num_rows


def _merge(fs: pafs.FileSystem, table: Table, files: list[pafs.FileInfo]) -> tuple[pa.Table, int]:
    """Rows of files in first-offset order, each offset once; also the rows read in total."""
    parts, last, read = [], -1, 0
    for info in files:
        part = ds.dataset(info.path, schema=table.schema, format="parquet", filesystem=fs)
        rows = part.to_table().sort_by("offset")
        read += rows.num_rows
        fresh = rows.filter(pc.greater(rows["offset"], pa.scalar(last, pa.int64())))
        if fresh.num_rows:
            last = pc.max(fresh["offset"]).as_py()
            parts.append(fresh)
    return pa.concat_tables(parts) if parts else table.schema.empty_table(), read
