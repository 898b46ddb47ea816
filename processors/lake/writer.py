"""Write batches of lake rows as zstd Parquet files, named so that a replay writes nothing twice.

Layout and naming: `processors.lake.layout`. A batch of one topic-partition is split by folder
(`dt` from the media id, `brand_id`) and then into files by record time (`occurred_at` in
windows of `rotate_seconds`), keeping offset order, so a file never spans more than one window.
Before writing, the writer drops rows whose offsets a file of their folder already covers:
after a restart or a reset to the earliest offset, replayed records find their files and
nothing is written again (Kafka Connect's HDFS sink recovers the same way, from file names).

Guarantee: when `write` returns, every object it names is durable and complete; no reader ever
sees a partial object (`Store.put_bytes`: locally temp file + fsync + rename + directory fsync;
on S3 one PUT).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final, Literal

import pyarrow as pa
import pyarrow.parquet as pq

from processors import keys
from processors.errors import StorageError
from processors.lake import layout
from processors.lake.incarnation import Incarnations, event_ids_by_offset
from processors.storage import Store
from schemas.lake import Table

ROW_GROUP_ROWS: Final = 100_000
Compression = Literal["zstd", "snappy", "gzip", "lz4", "brotli", "none"]
Row = dict[str, Any]
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)


def to_arrow(table: Table, rows: list[Row]) -> pa.Table:
    """Rows as an Arrow table with the table's explicit schema (never inferred)."""
    try:
        return pa.Table.from_pylist(rows, schema=table.schema)
    except (pa.ArrowInvalid, pa.ArrowTypeError, KeyError, OverflowError, UnicodeError) as e:
        msg = f"rows do not fit the {table.name} schema: {e}"
        raise ValueError(msg) from e


def to_parquet(table: Table, rows: list[Row], compression: Compression = "zstd") -> bytes:
    """Encode rows with the table's explicit schema as one Parquet file."""
    return encode(to_arrow(table, rows), compression)


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
        key = keys.lake_folder(table.name, row["dt"], row["brand_id"])
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
    """Offset ranges already durable per (folder, topic, partition, epoch), read from file names.

    Loaded with one listing per folder and topic-partition, then kept up to date by the writer.
    A stale view can only miss files (compaction replaces ranges by wider ones), so at worst a
    replay writes a row again, which the views hide; it never skips a row that is not durable.
    Call `forget` when a partition may have been written by another worker (a rebalance).
    """

    def __init__(self, store: Store) -> None:
        self.store = store
        self._files: dict[tuple[str, str, int], list[layout.LakeFile]] = {}

    def covering(
        self, folder: str, topic: str, partition: int, epoch: int, offset: int
    ) -> str | None:
        """The key of a file of `folder` and `epoch` whose range holds this offset, if any."""
        for f in self._load(folder, topic, partition):
            if f.epoch == epoch and f.first <= offset <= f.last:
                return f.path
        return None

    def add(self, key: str) -> None:
        found = layout.parse(key)
        if found is None:
            msg = f"{key} is not a lake file name"
            raise ValueError(msg)
        self._load(found.path.rsplit("/", 1)[0] + "/", found.topic, found.partition).append(found)

    def forget(self, topic: str, partition: int) -> None:
        """Drop what is known of a topic-partition; the next write lists its folders again."""
        for key in list(self._files):  # a copy: `write` may run in another thread
            if key[1:] == (topic, partition):
                self._files.pop(key, None)

    def _load(self, folder: str, topic: str, partition: int) -> list[layout.LakeFile]:
        key = (folder, topic, partition)
        if key not in self._files:
            prefix = folder + keys.lake_file_prefix(topic, partition)
            try:
                found = [layout.parse(k) for k in self.store.list(prefix)]
            except OSError as e:
                msg = f"listing {prefix} failed: {e}"
                raise StorageError(msg) from e
            self._files[key] = [f for f in found if f is not None]
        return self._files[key]


@dataclass(frozen=True)
class Refused:
    """A row the table's schema cannot hold, and why: it is dead-lettered, never retried."""

    offset: int
    reason: str


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
        self.incarnations = Incarnations(store)
        self.bytes_written = 0  # a running total, for the sink's metrics

    def write(
        self,
        table: Table,
        topic: str,
        partition: int,
        rows: list[Row],
        on_refused: Callable[[Refused], None] | None = None,
    ) -> list[str]:
        """Write rows (all from one topic-partition, in offset order) and return the new keys.

        Rows that a file of the current epoch already holds are skipped (a replay); a batch
        that replays offsets with other records starts a new epoch (`incarnation`). Rows the
        schema cannot hold go to `on_refused` and are never written; files are cut around them
        so that no file's range claims them. Without `on_refused` such a row is a `ValueError`
        and nothing is written. Raises `StorageError` when the store fails (retry the batch:
        what was written is skipped, the rest is written) and `ValueError` for a batch that
        breaks the writer's contract (wrong topic, out of order: a bug).
        """
        if topic not in table.topics:
            msg = f"topic {topic!r} does not feed lake table {table.name!r}"
            raise ValueError(msg)
        self._check_provenance(topic, partition, rows)
        runs = list(segments(table, rows, self.rotate_seconds))
        epoch = self.incarnations.epoch(topic, partition)
        if (changed := self._other_incarnation(runs, topic, partition, epoch)) is not None:
            epoch = self.incarnations.begin_next(topic, partition, changed)
        files, refused = self._plan(table, runs, topic, partition, epoch)
        if refused:
            if on_refused is None:
                raise ValueError(refused[0].reason)
            for r in refused:
                on_refused(r)
        for key, part in files:
            data = encode(part, self.compression)
            self.store.put_bytes(key, data)  # durable when it returns
            self.bytes_written += len(data)
            self.coverage.add(key)
        return [key for key, _ in files]

    def _plan(
        self,
        table: Table,
        runs: list[tuple[str, list[Row]]],
        topic: str,
        partition: int,
        epoch: int,
    ) -> tuple[list[tuple[str, pa.Table]], list[Refused]]:
        """The files to write (key, rows) and the rows refused, for rows no file holds yet."""
        files: list[tuple[str, pa.Table]] = []
        refused: list[Refused] = []
        for folder, run in runs:
            fresh = [
                r
                for r in run
                if self.coverage.covering(folder, topic, partition, epoch, r["offset"]) is None
            ]
            for part, bad in _writable_parts(table, fresh):
                refused += bad
                if part is not None:
                    offsets = part.column("offset")
                    first, last = offsets[0].as_py(), offsets[-1].as_py()
                    key = folder + keys.lake_file_name(topic, partition, first, last, epoch)
                    files.append((key, part))
        return files, refused

    def forget(self, topic: str, partition: int) -> None:
        """Another worker may have written this partition: re-read its files and epoch."""
        self.coverage.forget(topic, partition)
        self.incarnations.forget(topic, partition)

    def _other_incarnation(
        self, runs: list[tuple[str, list[Row]]], topic: str, partition: int, epoch: int
    ) -> str | None:
        """Why these rows are not a replay of the current epoch, or None if they are (or are
        new): every covered row must be in its covering file with the same event id."""
        held: dict[str, dict[int, str]] = {}
        for folder, run in runs:
            for row in run:
                key = self.coverage.covering(folder, topic, partition, epoch, row["offset"])
                if key is None:
                    continue
                if key not in held:
                    held[key] = event_ids_by_offset(self.store, key)
                if held[key].get(row["offset"]) != row["event_id"]:
                    return (
                        f"offset {row['offset']} of {topic}/{partition} holds event "
                        f"{row['event_id']}, but {key} holds {held[key].get(row['offset'])}"
                    )
        return None

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


def _writable_parts(
    table: Table, rows: list[Row]
) -> Iterator[tuple[pa.Table | None, list[Refused]]]:
    """Arrow tables of consecutive writable rows, each with the rows refused just after it.

    The whole run is tried first; only a run that does not fit is tried row by row (rare: the
    event schemas bound every field, so this catches what they still let through).
    """
    if not rows:
        return
    try:
        yield to_arrow(table, rows), []
        return
    except ValueError:
        pass
    good: list[Row] = []
    for row in rows:
        try:
            to_arrow(table, [row])
        except ValueError as e:
            yield (to_arrow(table, good) if good else None), [Refused(row["offset"], str(e))]
            good = []
        else:
            good.append(row)
    if good:
        yield to_arrow(table, good), []
