"""Synthetic lakes for the lake benchmarks: rows cloned from real events, written like the sink.

Rows come from `processors.synthetic.lake` lives (real `schemas.events` models through
`schemas.lake.to_row`) with new ids, days and offsets, and go through `LakeWriter` in batches
per topic-partition, exactly as the sink writes them. One day is generated at a time, so a
lake of millions of rows never sits in memory.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from processors.lake.writer import LakeWriter
from processors.storage import Store
from processors.synthetic import lake as syn
from schemas import topics
from schemas.lake import TABLES, to_row

FEEDS = (
    ("uploads", topics.MEDIA_UPLOADED, "uploaded"),
    ("brand_checks", topics.BRAND_CHECKS, "brand_check"),
    ("analyses", topics.MEDIA_ANALYSES, "analysis"),
    ("media_results", topics.MEDIA_RESULTS, "result"),
)
Row = dict[str, Any]


def templates(brands: int, k: int = 48) -> list[dict[str, Row]]:
    """Rows of k varied media lives (verdicts, brands, violations, latencies)."""
    out = []
    for i in range(k):
        life = syn.life(
            syn.day(2026, 1, 1),
            brand_id=f"brand{i % brands}",
            verdict=("pass", "warn", "fail")[i % 3],
            violations=("logo.missing", "palette.off")[: i % 3],
            latency=timedelta(milliseconds=400 + 173 * i),
            counter=i,
        )
        out.append({t: to_row(getattr(life, a), topic, 0, 0) for t, topic, a in FEEDS})
    return out


@dataclass
class Spec:
    """What lake to build: `media` media over `days` days ending `last_day`."""

    media: int
    days: int
    last_day: date
    partitions: int = 3
    brands: int = 8
    batch: int = 10_000  # rows per sink flush and topic-partition
    rotate_seconds: int = 3600
    sample_every: int = 997  # keep every n-th media id for lookups

    @property
    def first_day(self) -> date:
        return self.last_day - timedelta(days=self.days - 1)


@dataclass
class Built:
    rows: int = 0
    files: int = 0
    seconds: float = 0.0
    ids: list[uuid.UUID] = field(default_factory=list)


def day_rows(spec: Spec, day: int, tpl: list[dict[str, Row]]) -> Iterator[tuple[int, str, Row]]:
    """(partition, table, row) of one day's media, in media order; offsets unset."""
    per_day = spec.media // spec.days
    start = datetime.combine(spec.first_day + timedelta(days=day), datetime.min.time(), UTC)
    step = 86_400 / per_day
    for j in range(per_day):
        i = day * per_day + j
        when = start + timedelta(seconds=j * step)
        mid = syn.uuid7_at(when, i)
        smid = str(mid)
        for table, base in tpl[i % len(tpl)].items():
            row = base | {"media_id": smid, "dt": when.date(), "occurred_at": when}
            row["payload"] = base["payload"].replace(base["media_id"], smid)
            yield i % spec.partitions, table, row


def build(store: Store, spec: Spec) -> Built:
    """Write the lake the way the sink would; return what it took."""
    tpl = templates(spec.brands)
    writer = LakeWriter(store, rotate_seconds=spec.rotate_seconds)
    offsets = {(t, p): 0 for t, _, _ in FEEDS for p in range(spec.partitions)}
    pending: dict[tuple[str, int], list[Row]] = {k: [] for k in offsets}
    topic_of = {t: topic for t, topic, _ in FEEDS}
    built, started = Built(), time.perf_counter()

    def flush(key: tuple[str, int]) -> None:
        table, p = key
        built.files += len(writer.write(TABLES[table], topic_of[table], p, pending[key]))
        built.rows += len(pending[key])
        pending[key] = []

    for day in range(spec.days):
        for p, table, row in day_rows(spec, day, tpl):
            key = (table, p)
            row |= {"partition": p, "offset": offsets[key]}
            offsets[key] += 1
            pending[key].append(row)
            if table == "uploads" and offsets[key] % spec.sample_every == 0:
                built.ids.append(uuid.UUID(row["media_id"]))
            if len(pending[key]) >= spec.batch:
                flush(key)
    for key in pending:
        if pending[key]:
            flush(key)
    built.seconds = time.perf_counter() - started
    return built
