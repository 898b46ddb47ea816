"""Where lake files live and what their names promise.

`lake/<table>/dt=<YYYY-MM-DD>/brand_id=<brand>/<topic>+<partition>[+e<epoch>]+<first>+<last>.parquet`
(partition 3 digits, epoch 4, offsets 20, zero-padded)

A file holds the rows of one topic-partition *incarnation* that belong to its folder, from
offset `first` to `last`: every record of that incarnation in [first, last] that belongs to the
folder is in this file or in another file of the same folder and epoch (the sink consumes a
partition in offset order and finishes a batch before the next). So the names alone tell which
offsets are durable: the sink skips covered records on a replay, and a file whose range lies
inside another's (the originals of a compaction) is superseded.

Offsets alone are no identity: a broker that lost its data, or a topic deleted and re-created,
starts again at offset 0. The epoch (`+e0001`; absent for epoch 0, so lakes written before
epochs existed read as epoch 0) says which incarnation of the topic-partition a file holds, and
files of different epochs never cover each other (`processors.lake.incarnation` decides when a
new epoch begins).

`brand_id=__HIVE_DEFAULT_PARTITION__` holds rows without a brand; DuckDB reads that folder name
as NULL, the Hive convention.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final, TypeVar

LAKE_PREFIX: Final = "lake"
NO_BRAND: Final = "__HIVE_DEFAULT_PARTITION__"
_TOPIC: Final = re.compile(r"^[A-Za-z0-9._-]+$")
_NAME: Final = re.compile(
    r"^(?P<topic>[A-Za-z0-9._-]+)\+(?P<partition>\d+)(?:\+e(?P<epoch>\d+))?"
    r"\+(?P<first>\d+)\+(?P<last>\d+)\.parquet$"
)
_FOLDER: Final = re.compile(r"/dt=(?P<day>\d{4}-\d{2}-\d{2})/brand_id=(?P<brand>[^/]+)/[^/]+$")
T = TypeVar("T")


def table_prefix(table_name: str) -> str:
    """Key prefix of one table's files (ends with `/`)."""
    return f"{LAKE_PREFIX}/{table_name}/"


def folder(table_name: str, day: dt.date, brand_id: str | None) -> str:
    """Key prefix of one partition folder (ends with `/`)."""
    return f"{table_prefix(table_name)}dt={day.isoformat()}/brand_id={brand_id or NO_BRAND}/"


def file_prefix(topic: str, partition: int) -> str:
    """Start of the names of one topic-partition's files in a folder."""
    if not _TOPIC.match(topic) or partition < 0:
        msg = f"cannot name a lake file for {topic!r}/{partition}"
        raise ValueError(msg)
    return f"{topic}+{partition:03d}+"


def file_name(topic: str, partition: int, first: int, last: int, epoch: int = 0) -> str:
    """Name of the file holding a topic-partition incarnation's rows of a folder from `first`
    to `last`."""
    if not 0 <= first <= last or epoch < 0:
        msg = f"cannot name a lake file for offsets {first}..{last} of epoch {epoch}"
        raise ValueError(msg)
    tag = f"e{epoch:04d}+" if epoch else ""
    return f"{file_prefix(topic, partition)}{tag}{first:020d}+{last:020d}.parquet"


def object_key(
    table_name: str,
    day: dt.date,
    brand_id: str | None,
    topic: str,
    partition: int,
    first: int,
    last: int,
    epoch: int = 0,
) -> str:
    """Full key of a data file."""
    return folder(table_name, day, brand_id) + file_name(topic, partition, first, last, epoch)


@dataclass(frozen=True)
class LakeFile:
    """What a data file's path says: its partition folder and its offset range."""

    path: str
    day: dt.date
    brand_id: str | None
    topic: str
    partition: int
    first: int
    last: int
    epoch: int = 0

    @property
    def stream(self) -> tuple[str, str, int, int]:
        """Folder, topic-partition and epoch: the files that can supersede each other."""
        return self.path.rsplit("/", 1)[0], self.topic, self.partition, self.epoch

    def covers(self, other: LakeFile) -> bool:
        """Whether this file's range holds every row `other` holds (same folder and stream)."""
        return self.stream == other.stream and self.first <= other.first <= other.last <= self.last


def parse(path: str) -> LakeFile | None:
    """Read a data file's path; None for anything else (temp files, stray objects)."""
    name = path.rsplit("/", 1)[-1]
    m, f = _NAME.match(name), _FOLDER.search(path)
    if m is None or f is None:
        return None
    brand = f["brand"]
    return LakeFile(
        path=path,
        day=dt.date.fromisoformat(f["day"]),
        brand_id=None if brand == NO_BRAND else brand,
        topic=m["topic"],
        partition=int(m["partition"]),
        first=int(m["first"]),
        last=int(m["last"]),
        epoch=int(m["epoch"] or 0),
    )


def live(files: Iterable[tuple[LakeFile, T]]) -> list[tuple[LakeFile, T]]:
    """Drop files whose range another file of the same stream covers (compaction originals).

    Equal ranges (a replay that rewrote the same batch) are the same object, so never both here.
    """
    streams: dict[tuple[str, str, int, int], list[tuple[LakeFile, T]]] = defaultdict(list)
    for entry in files:
        streams[entry[0].stream].append(entry)
    kept = []
    for members in streams.values():
        # widest first: a file can only be covered by one that starts no later and is wider
        members.sort(key=lambda e: (e[0].first, -e[0].last))
        reach = -1
        for entry in members:
            if entry[0].last > reach:
                kept.append(entry)
                reach = entry[0].last
    return sorted(kept, key=lambda e: e[0].path)


def superseded(files: Iterable[LakeFile]) -> list[tuple[LakeFile, LakeFile]]:
    """Pairs (covered file, a file covering it) among `files`."""
    listed = list(files)
    kept = {f.path for f, _ in live((f, None) for f in listed)}
    widest = [f for f in listed if f.path in kept]
    return [(f, next(w for w in widest if w.covers(f))) for f in listed if f.path not in kept]
