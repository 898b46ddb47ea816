"""What lake file names promise (the names themselves are `processors.keys`).

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
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TypeVar

from processors.keys import LAKE_FILE_NAME, LAKE_FOLDER, NO_BRAND

T = TypeVar("T")


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
    m, f = LAKE_FILE_NAME.match(name), LAKE_FOLDER.search(path)
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
