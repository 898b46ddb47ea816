"""Write batches of lake rows as zstd Parquet files, one per day partition, named for replay.

Layout: `lake/<table>/dt=<YYYY-MM-DD>/<topic>+<partition:03d>+<first_offset:020d>.parquet`.
A replay of the same batch rewrites the same object (the Kafka Connect S3 sink scheme); a replay
cut differently adds overlapping files, which the shipped views de-duplicate on
(topic, partition, offset). `dt` is kept inside each file as well as in the folder name, so a file
is self-describing; DuckDB and pyarrow read both and agree because the writer derives the folder
from the column.

Guarantee: when `write` returns, every object it names is durable and complete; no reader ever
sees a partial object (local: temp file + fsync + atomic rename + directory fsync; S3: one PUT).
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Iterable
from datetime import date
from pathlib import Path
from typing import Any, Final, Literal

import pyarrow as pa
import pyarrow.parquet as pq

from processors.errors import StorageError
from processors.storage import LocalStore, Store
from schemas.lake import Table

LAKE_PREFIX: Final = "lake"
ROW_GROUP_ROWS: Final = 100_000
_TOPIC_RE: Final = re.compile(r"^[A-Za-z0-9._-]+$")
Compression = Literal["zstd", "snappy", "gzip", "lz4", "brotli", "none"]


def table_prefix(table_name: str) -> str:
    """Key prefix of one table's files (ends with `/`)."""
    return f"{LAKE_PREFIX}/{table_name}/"


def object_key(table: Table | str, dt: date, topic: str, partition: int, first_offset: int) -> str:
    """Key of the file that holds a batch: stable across replays of the same batch."""
    name = table if isinstance(table, str) else table.name
    if not _TOPIC_RE.match(topic) or partition < 0 or first_offset < 0:
        msg = f"cannot name a lake file for {topic!r}/{partition}/{first_offset}"
        raise ValueError(msg)
    return (
        f"{table_prefix(name)}dt={dt.isoformat()}/"
        f"{topic}+{partition:03d}+{first_offset:020d}.parquet"
    )


def split_by_day(rows: Iterable[dict[str, Any]]) -> dict[date, list[dict[str, Any]]]:
    """Group rows by their `dt`, keeping offset order inside each group."""
    groups: dict[date, list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(row["dt"], []).append(row)
    return groups


def to_parquet(
    table: Table, rows: list[dict[str, Any]], compression: Compression = "zstd"
) -> bytes:
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


class LakeWriter:
    """Turns one topic-partition batch into durable Parquet objects in a store."""

    def __init__(self, store: Store, *, compression: Compression = "zstd") -> None:
        self.store = store
        self.compression = compression

    def write(
        self, table: Table, topic: str, partition: int, rows: list[dict[str, Any]]
    ) -> list[str]:
        """Write rows (all from one topic-partition, in offset order) and return the object keys.

        Raises `StorageError` when the store fails (retry: the same batch rewrites the same keys)
        and `ValueError` for rows that cannot be written at all (wrong topic or schema: a bug).
        """
        if topic not in table.topics:
            msg = f"topic {topic!r} does not feed lake table {table.name!r}"
            raise ValueError(msg)
        keys = []
        for dt, group in split_by_day(rows).items():
            self._check_provenance(topic, partition, group)
            key = object_key(table, dt, topic, partition, min(r["offset"] for r in group))
            self._put(key, to_parquet(table, group, self.compression))
            keys.append(key)
        return keys

    @staticmethod
    def _check_provenance(topic: str, partition: int, rows: list[dict[str, Any]]) -> None:
        for row in rows:
            if row["topic"] != topic or row["partition"] != partition:
                msg = f"row from {row['topic']}/{row['partition']} in a {topic}/{partition} batch"
                raise ValueError(msg)

    def _put(self, key: str, data: bytes) -> None:
        put_durably(self.store, key, data)


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
