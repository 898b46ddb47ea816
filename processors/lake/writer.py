"""Write batches of lake rows as zstd Parquet files, named so that a replay writes nothing twice.

Layout and naming: `processors.lake.layout`. A batch of one topic-partition is split by folder
(`dt` from the media id, `brand_id`) and then into files by record time (`occurred_at` in
windows of `rotate_seconds`), keeping offset order, so a file never spans more than one window.
Before writing, the writer drops rows whose offsets a file of their folder already covers:
after a restart or a reset to the earliest offset, replayed records find their files and
nothing is written again (Kafka Connect's HDFS sink recovers the same way, from file names).

Guarantee: when `write` returns, every object it names is durable and complete; no reader ever
sees a partial object (local: temp file + fsync + atomic rename + directory fsync; S3: one PUT).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final, Literal

import pyarrow as pa
import pyarrow.parquet as pq

from processors.errors import StorageError
from processors.lake import layout
from processors.storage import LocalStore, Store
from schemas.lake import Table

ROW_GROUP_ROWS: Final = 100_000
Compression = Literal["zstd", "snappy", "gzip", "lz4", "brotli", "none"]
Row = dict[str, Any]
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)


def to_parquet(table: Table, rows: list[Row], compression: Compression = "zstd") -> bytes:
    """Encode rows with the table's explicit schema (never inferred) as one Parquet file."""
    try:
        arrow = pa.Table.from_pylist(rows, schema=table.schema)
    except (pa.ArrowInvalid, pa.ArrowTypeError, KeyError) as e:
        msg = f"rows do not fit the {table.name} schema: {e}"
        raise ValueError(msg) from e
    return encode(arrow, compression)


def encode(arrow: pa.Table, compression: Compression = "zstd") -> bytes:
    """One Parquet file in memory, row groups of `ROW_GROUP_ROWS`."""
    sink = pa.BufferOutputStream()
    pq.write_table(arrow, sink, compression=compression, row_group_size=ROW_GROUP_ROWS)
    return sink.getvalue().to_pybytes()


def segments(table: Table, rows: list[Row], rotate_seconds: int) -> Iterator[tuple[str, list[Row]]]:
    """(folder, rows) per file: rows grouped by folder, cut where the record-time window
    changes. Cuts keep offset order, so each file is a contiguous run of its folder's rows."""
    by_folder: dict[str, list[Row]] = {}
    for row in rows:
        key = layout.folder(table.name, row["dt"], row["brand_id"])
        by_folder.setdefault(key, []).append(row)
    for key, group in by_folder.items():
        run: list[Row] = []
        window = None
        for row in group:
            w = (row["occurred_at"] - _EPOCH).total_seconds() // rotate_seconds
            if run and w != window:
                yield key, run
                run = []
            run.append(row)
            window = w
        yield key, run


class Coverage:
    """Offset ranges already durable per (folder, topic, partition), read from file names.

    Loaded with one listing per folder and topic-partition, then kept up to date by the writer.
    A stale view can only miss files (compaction replaces ranges by wider ones), so at worst a
    replay writes a row again, which the views hide; it never skips a row that is not durable.
    Call `forget` when a partition may have been written by another worker (a rebalance).
    """

    def __init__(self, store: Store) -> None:
        self.store = store
        self._ranges: dict[tuple[str, str, int], list[tuple[int, int]]] = {}

    def covered(self, folder: str, topic: str, partition: int, offset: int) -> bool:
        """Whether a file of `folder` already holds this record."""
        return any(a <= offset <= b for a, b in self._load(folder, topic, partition))

    def add(self, folder: str, topic: str, partition: int, first: int, last: int) -> None:
        self._load(folder, topic, partition).append((first, last))

    def forget(self, topic: str, partition: int) -> None:
        """Drop what is known of a topic-partition; the next write lists its folders again."""
        for key in list(self._ranges):  # a copy: `write` may run in another thread
            if key[1:] == (topic, partition):
                self._ranges.pop(key, None)

    def _load(self, folder: str, topic: str, partition: int) -> list[tuple[int, int]]:
        key = (folder, topic, partition)
        if key not in self._ranges:
            prefix = folder + layout.file_prefix(topic, partition)
            try:
                found = [layout.parse(k) for k in self.store.list(prefix)]
            except OSError as e:
                msg = f"listing {prefix} failed: {e}"
                raise StorageError(msg) from e
            self._ranges[key] = [(f.first, f.last) for f in found if f is not None]
        return self._ranges[key]


class LakeWriter:
    """Turns one topic-partition batch into durable Parquet objects in a store."""

    def __init__(
        self,
        store: Store,
        *,
        compression: Compression = "zstd",
        rotate_seconds: int = 3600,
    ) -> None:
        if rotate_seconds < 1:
            msg = f"rotate_seconds must be at least 1, not {rotate_seconds}"
            raise ValueError(msg)
        self.store = store
        self.compression = compression
        self.rotate_seconds = rotate_seconds
        self.coverage = Coverage(store)

    def write(self, table: Table, topic: str, partition: int, rows: list[Row]) -> list[str]:
        """Write rows (all from one topic-partition, in offset order) and return the new keys.

        Rows that a file already holds are skipped (a replay). Raises `StorageError` when the
        store fails (retry the batch: what was written is skipped, the rest is written) and
        `ValueError` for rows that cannot be written at all (wrong topic or schema: a bug).
        """
        if topic not in table.topics:
            msg = f"topic {topic!r} does not feed lake table {table.name!r}"
            raise ValueError(msg)
        self._check_provenance(topic, partition, rows)
        keys = []
        for folder, run in segments(table, rows, self.rotate_seconds):
            fresh = [
                r for r in run if not self.coverage.covered(folder, topic, partition, r["offset"])
            ]
            if not fresh:
                continue
            first, last = fresh[0]["offset"], fresh[-1]["offset"]
            key = folder + layout.file_name(topic, partition, first, last)
            put_durably(self.store, key, to_parquet(table, fresh, self.compression))
            self.coverage.add(folder, topic, partition, first, last)
            keys.append(key)
        return keys

    @staticmethod
    def _check_provenance(topic: str, partition: int, rows: list[Row]) -> None:
        offsets = [r["offset"] for r in rows]
        if offsets != sorted(offsets):
            msg = f"rows of {topic}/{partition} are not in offset order"
            raise ValueError(msg)
        for row in rows:
            if row["topic"] != topic or row["partition"] != partition:
                msg = f"row from {row['topic']}/{row['partition']} in a {topic}/{partition} batch"
                raise ValueError(msg)


def put_durably(store: Store, key: str, data: bytes) -> None:
    """Store an object so that it is absent or complete, and on disk when this returns."""
    if isinstance(store, LocalStore):
        _durable_local_write(store.root / key, data)
        return
    store.put_bytes(key, data)  # one PUT: S3 never shows a partial object


def _durable_local_write(target: Path, data: bytes) -> None:
    """Write a file so that it is either absent or complete and on disk, even after a crash."""
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-", suffix=".partial")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        _fsync_dir(target.parent)
    except OSError as e:
        msg = f"writing {target} failed: {e}"
        raise StorageError(msg) from e


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
