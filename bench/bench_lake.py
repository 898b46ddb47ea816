"""Lake benchmark: sink throughput vs plain pyarrow, and query latency on a local and an S3 lake.

    .venv/bin/python bench/bench_lake.py                 # 100k media (400k rows over 4 tables)
    .venv/bin/python bench/bench_lake.py --media 1000000 # scale up (≈10x the time and disk)

Rows are cloned from real events (`processors.lake.synthetic` + `schemas.lake.to_row`) with new
ids, days and offsets, then written the way the sink writes them: per topic-partition, in
batches of `--batch` rows (the worker's `lake_max_rows`). The S3 lake is a moto server on
loopback, so its figures show request overhead, not real S3 latency. Timings are ratios to
baselines measured in the same run (the machine is shared).
"""

from __future__ import annotations

import argparse
import logging
import os
import random
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from processors.lake import synthetic as syn
from processors.lake.query import Lake
from processors.lake.writer import LakeWriter
from processors.storage import LocalStore, S3Store, Store
from schemas import topics
from schemas.lake import TABLES, to_row

FEEDS = (
    ("uploads", topics.MEDIA_UPLOADED, "uploaded"),
    ("brand_checks", topics.BRAND_CHECKS, "brand_check"),
    ("analyses", topics.MEDIA_ANALYSES, "analysis"),
    ("media_results", topics.MEDIA_RESULTS, "result"),
)
Batches = dict[str, list[list[dict[str, Any]]]]  # table -> partition -> rows in offset order


def templates(k: int = 48) -> list[dict[str, dict[str, Any]]]:
    """Rows of k varied media lives (verdicts, brands, violations, latencies)."""
    out = []
    for i in range(k):
        life = syn.life(
            syn.day(2026, 1, 1),
            brand_id=f"brand{i % 8}",
            verdict=("pass", "warn", "fail")[i % 3],
            violations=("logo.missing", "palette.off")[: i % 3],
            latency=timedelta(milliseconds=400 + 173 * i),
            counter=i,
        )
        out.append({t: to_row(getattr(life, a), topic, 0, 0) for t, topic, a in FEEDS})
    return out


def synth(media: int, days: int, partitions: int) -> tuple[Batches, list[uuid.UUID]]:
    """Rows for `media` media spread evenly over `days`, keyed to partitions like Kafka keys."""
    tpl = templates()
    start, step = syn.day(2026, 1, 1, 0), days * 86_400 / media
    per: Batches = {t: [[] for _ in range(partitions)] for t, _, _ in FEEDS}
    ids = []
    for i in range(media):
        when = start + timedelta(seconds=i * step)
        mid, p = syn.uuid7_at(when, i), i % partitions
        ids.append(mid)
        for table, base in tpl[i % len(tpl)].items():
            part = per[table][p]
            row = base | {"media_id": str(mid), "dt": when.date(), "occurred_at": when}
            row |= {"partition": p, "offset": len(part)}
            row["payload"] = base["payload"].replace(base["media_id"], str(mid))
            part.append(row)
    return per, ids


def sink(store: Store, per: Batches, batch: int) -> tuple[int, float]:
    """Write every table like the stream sink; return rows written and seconds."""
    writer, n, started = LakeWriter(store), 0, time.perf_counter()
    for table, topic, _ in FEEDS:
        for p, rows in enumerate(per[table]):
            for i in range(0, len(rows), batch):
                chunk = rows[i : i + batch]
                writer.write(TABLES[table], topic, p, chunk)
                n += len(chunk)
    return n, time.perf_counter() - started


def plain_pyarrow(folder: Path, per: Batches, batch: int) -> tuple[int, float]:
    """The floor: the same batches straight through from_pylist + write_table, no layout."""
    n, started = 0, time.perf_counter()
    for table, _, _ in FEEDS:
        for p, rows in enumerate(per[table]):
            for i in range(0, len(rows), batch):
                arrow = pa.Table.from_pylist(rows[i : i + batch], schema=TABLES[table].schema)
                pq.write_table(arrow, folder / f"{table}-{p}-{i}.parquet", compression="zstd")
                n += arrow.num_rows
    return n, time.perf_counter() - started


def timings(fn: Callable[[int], object], runs: int) -> tuple[float, float]:
    """p50 and p95 in milliseconds of `runs` calls."""
    ts = []
    for i in range(runs):
        started = time.perf_counter()
        fn(i)
        ts.append((time.perf_counter() - started) * 1000)
    ts.sort()
    return statistics.median(ts), ts[min(len(ts) - 1, round(0.95 * (len(ts) - 1)))]


def query_figures(store: Store, ids: list[uuid.UUID], runs: int) -> dict[str, tuple[float, float]]:
    """Time the calls the API makes and the analytics views on one lake."""
    lake = Lake(store, max_staleness_s=3600)
    sample = random.Random(7).sample(ids, runs)
    few = max(3, runs // 5)
    out = {"Lake.media(id)": timings(lambda i: lake.media(sample[i]), runs)}
    out["list_media(limit=50)"] = timings(lambda i: lake.list_media(limit=50), few)
    for view in ("compliance_daily", "violation_counts", "latency_daily"):
        out[view] = timings(partial(_select_all, lake, view), few)
    return out


def _select_all(lake: Lake, view: str, _run: int) -> None:
    lake.query(f"SELECT * FROM {view}")


def s3_server() -> tuple[S3Store, Callable[[], None]]:
    """A moto S3 server on loopback; returns a store on it (no bucket yet) and its stop."""
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one access-log line per request
    for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        os.environ.setdefault(k, "bench")
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    return S3Store("unused", endpoint_url=f"http://{host}:{port}"), server.stop


def bucket(s3: S3Store, name: str) -> S3Store:
    """A new bucket on the same endpoint."""
    store = S3Store(name, endpoint_url=s3.endpoint_url)
    store.client.create_bucket(Bucket=name)
    return store


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--media", type=int, default=100_000)
    ap.add_argument("--days", type=int, default=10)
    ap.add_argument("--partitions", type=int, default=6)
    ap.add_argument("--batch", type=int, default=10_000)
    ap.add_argument("--runs", type=int, default=40)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        s3, stop = s3_server()
        try:
            throughput(Path(tmp), s3, args)
            queries(Path(tmp), s3, args)
        finally:
            stop()


def throughput(tmp: Path, s3: S3Store, args: argparse.Namespace) -> None:
    """Rows/s of the sink vs plain pyarrow on one core; one day, so one file per batch."""
    per, _ = synth(args.media, 1, args.partitions)
    pa.set_cpu_count(1)
    pa.set_io_thread_count(1)
    (tmp / "plain").mkdir()
    n, plain_s = plain_pyarrow(tmp / "plain", per, args.batch)
    results = {
        "plain pyarrow (no fsync)": plain_s,
        "LakeWriter file:// (fsync)": sink(LocalStore(tmp / "tput"), per, args.batch)[1],
        "LakeWriter moto S3": sink(bucket(s3, "tput"), per, args.batch)[1],
    }
    pa.set_cpu_count(os.cpu_count() or 1)
    pa.set_io_thread_count(8)
    files = len(list((tmp / "tput").rglob("*.parquet")))
    print(f"\nsink, {n:,} rows in {files} files of <= {args.batch:,} rows, one core")
    print(f"  {'writer':<28} {'rows/s':>9}   vs plain")
    for name, secs in results.items():
        print(f"  {name:<28} {n / secs:>9,.0f}   {plain_s / secs:>6.2f}x")


def queries(tmp: Path, s3: S3Store, args: argparse.Namespace) -> None:
    """p50/p95 of the API's lake calls and the analytics views, local and on moto S3."""
    per, ids = synth(args.media, args.days, args.partitions)
    local, remote = LocalStore(tmp / "lake"), bucket(s3, "lake")
    n, local_s = sink(local, per, args.batch)
    sink(remote, per, args.batch)
    del per
    days = f"{args.media:,} media over {args.days} days"
    print(f"\nlake of {n:,} rows ({days}; built in {local_s:.1f} s locally)")
    local_q, s3_q = query_figures(local, ids, args.runs), query_figures(remote, ids, args.runs)
    print(f"  {'query':<22} {'local p50':>10} {'p95':>8} {'S3 p50':>9} {'p95':>8} {'S3/local':>9}")
    for name, (lp50, lp95) in local_q.items():
        sp50, sp95 = s3_q[name]
        print(f"  {name:<22} {lp50:>8.1f}ms {lp95:>6.1f}ms {sp50:>7.1f}ms {sp95:>6.1f}ms "
              f"{sp95 / lp95:>8.1f}x")  # fmt: skip


if __name__ == "__main__":
    main()
