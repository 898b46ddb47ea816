"""Lake benchmark: sink throughput vs plain pyarrow, and the read API over a large lake.

    .venv/bin/python -m bench.bench_lake                       # 1 M media (4 M rows), 10 k files
    .venv/bin/python -m bench.bench_lake --media 100000 --s3   # smaller, plus the moto S3 lake

1. Sink: rows/s of `LakeWriter` on one core vs `from_pylist` + `write_table` of the same batches.
2. Read API: the lake is built the way the sink writes it, in small flushes (`--batch` rows per
   topic-partition, files cut per day of record time: with 8 brands and 3 partitions that leaves
   ~10 k files at 1 M media), then
   the real API (uvicorn on loopback, the embedded broker for its producer) answers
   `GET /v1/media/{id}`, `GET /v1/media` and the four analytics endpoints over HTTP; then
   `compact` runs and the same requests are timed again. With `--s3` the same is done on a
   moto S3 server and reported as a ratio to the local folder (moto is on loopback, so this is
   request overhead, not real S3 latency). Timings are p50/p95 over `--runs` requests.
"""

from __future__ import annotations

import argparse
import logging
import os
import random
import statistics
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pyarrow as pa
import pyarrow.parquet as pq
import uvicorn

from api.app import create_app
from bench.lake_data import FEEDS, Built, Spec, build, templates
from processors.config import Settings
from processors.lake.compact import compact
from processors.storage import LocalStore, S3Store, Store
from schemas.lake import TABLES
from streams.admin import ensure_topics
from streams.broker import EmbeddedBroker, free_port

Figures = dict[str, tuple[float, float]]  # request -> (p50 ms, p95 ms)


def throughput(tmp: Path, rows_n: int, batch: int) -> None:
    """Rows/s of the sink's writer vs plain pyarrow on one core (one day, one brand)."""
    tpl = templates(brands=1)
    rows = [tpl[i % len(tpl)]["media_results"] | {"offset": i} for i in range(rows_n)]
    batches = [rows[i : i + batch] for i in range(0, rows_n, batch)]
    schema = TABLES["media_results"].schema
    pa.set_cpu_count(1)
    pa.set_io_thread_count(1)
    started = time.perf_counter()
    for i, b in enumerate(batches):
        pq.write_table(
            pa.Table.from_pylist(b, schema=schema), tmp / f"{i}.parquet", compression="zstd"
        )
    plain_s = time.perf_counter() - started
    from processors.lake.writer import LakeWriter

    writer = LakeWriter(LocalStore(tmp / "sink"))
    started = time.perf_counter()
    for b in batches:
        writer.write(TABLES["media_results"], FEEDS[3][1], 0, b)
    sink_s = time.perf_counter() - started
    pa.set_cpu_count(os.cpu_count() or 1)
    pa.set_io_thread_count(8)
    print(f"\nsink: {rows_n:,} media_results rows in batches of {batch:,}, one core")
    print(f"  plain pyarrow (no fsync)   {rows_n / plain_s:>9,.0f} rows/s")
    print(f"  LakeWriter file:// (fsync) {rows_n / sink_s:>9,.0f} rows/s   {plain_s / sink_s:.2f}x")


@contextmanager
def api_on(store: Store, bootstrap: str) -> Iterator[str]:
    """The real API app serving `store` on a loopback port; yields its base URL."""
    settings = Settings.model_validate(
        {"kafka": {"bootstrap": bootstrap}, "api": {"recent_results": 0}, "log_level": "WARNING"}
    )
    app = create_app(settings, store=store, configure_logging=False)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    while not server.started:
        time.sleep(0.05)
    try:
        yield url
    finally:
        server.should_exit = True
        thread.join()


def timed(client: httpx.Client, paths: list[str]) -> tuple[float, float]:
    ts = []
    for path in paths:
        started = time.perf_counter()
        r = client.get(path)
        ts.append((time.perf_counter() - started) * 1000)
        assert r.status_code == 200, (path, r.status_code, r.text[:300])
    ts.sort()
    return statistics.median(ts), ts[min(len(ts) - 1, round(0.95 * (len(ts) - 1)))]


def requests(spec: Spec, built: Built, runs: int) -> dict[str, list[str]]:
    rng = random.Random(7)
    span = f"from={spec.first_day}&to={spec.last_day}"
    few = max(5, runs // 4)
    out = {"GET /v1/media/{id}": [f"/v1/media/{m}" for m in rng.choices(built.ids, k=runs)]}
    out["GET /v1/media?limit=50"] = ["/v1/media?limit=50"] * few
    out["GET /v1/media?brand_id&status"] = ["/v1/media?brand_id=brand3&status=done&limit=50"] * few
    for name in ("compliance", "violations", "costs", "latency"):
        out[f"analytics/{name}"] = [f"/v1/analytics/{name}?{span}"] * few
    out["analytics/compliance?brand"] = [f"/v1/analytics/compliance?{span}&brand_id=brand3"] * few
    out["analytics/compliance?platform"] = [
        f"/v1/analytics/compliance?{span}&platform=tiktok"
    ] * few
    return out


def measure(url: str, paths: dict[str, list[str]]) -> Figures:
    with httpx.Client(base_url=url, timeout=120) as client:
        for p in paths.values():  # warm: first listing, views, DuckDB caches
            client.get(p[0])
        return {name: timed(client, p) for name, p in paths.items()}


def lake_figures(store: Store, spec: Spec, bootstrap: str, runs: int) -> tuple[Figures, Figures]:
    """Build, measure, compact, measure again; print the table; return both figure sets."""
    built = build(store, spec)
    print(
        f"\n{store.url.split(':')[0]} lake: {built.rows:,} rows ({spec.media:,} media, "
        f"{spec.days} days, {spec.brands} brands, {spec.partitions} partitions) in "
        f"{built.files:,} files, written in {built.seconds:.0f} s"
    )
    paths = requests(spec, built, runs)
    with api_on(store, bootstrap) as url:
        small = measure(url, paths)
    started = time.perf_counter()
    done = compact(store, grace_seconds=0)
    after = sum(c.files_after for c in done)
    print(f"  compact: {sum(c.files_before for c in done):,} -> {after:,} files "
          f"in {time.perf_counter() - started:.0f} s")  # fmt: skip
    with api_on(store, bootstrap) as url:
        big = measure(url, paths)
    print(f"  {'request':<32} {'small files p50':>15} {'p95':>8} {'compacted p50':>14} {'p95':>8} "
          f"{'small/compacted p95':>20}")  # fmt: skip
    for name, (s50, s95) in small.items():
        c50, c95 = big[name]
        print(f"  {name:<32} {s50:>13.1f}ms {s95:>6.1f}ms {c50:>12.1f}ms {c95:>6.1f}ms "
              f"{s95 / c95:>19.2f}x")  # fmt: skip
    return small, big


def s3_store() -> tuple[S3Store, Callable[[], None]]:
    """A bucket on a moto S3 server on loopback, and the server's stop."""
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        os.environ.setdefault(k, "bench")
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    store = S3Store("lake-bench", endpoint_url=f"http://{host}:{port}")
    store.client.create_bucket(Bucket=store.bucket)
    return store, server.stop


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--media", type=int, default=1_000_000)
    ap.add_argument("--days", type=int, default=10)
    ap.add_argument("--brands", type=int, default=8)
    ap.add_argument("--partitions", type=int, default=3)
    ap.add_argument("--batch", type=int, default=3_200, help="rows per flush and partition")
    ap.add_argument("--rotate", type=int, default=86_400, help="record-time window of a file (s)")
    ap.add_argument("--runs", type=int, default=200)
    ap.add_argument("--s3", action="store_true", help="also on a moto S3 server")
    ap.add_argument("--skip-throughput", action="store_true")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    yesterday = datetime.now(tz=UTC).date() - timedelta(days=1)
    spec = Spec(
        args.media, args.days, yesterday, args.partitions, args.brands, args.batch, args.rotate
    )
    with tempfile.TemporaryDirectory() as tmp, EmbeddedBroker() as broker:
        ensure_topics(broker.bootstrap, partitions=args.partitions)
        if not args.skip_throughput:
            (Path(tmp) / "tput").mkdir()
            throughput(Path(tmp) / "tput", 200_000, 10_000)
        _, local = lake_figures(LocalStore(Path(tmp) / "lake"), spec, broker.bootstrap, args.runs)
        if args.s3:
            store, stop = s3_store()
            try:
                _, remote = lake_figures(store, spec, broker.bootstrap, max(20, args.runs // 5))
            finally:
                stop()
            print("\n  compacted, S3 / local p95:")
            for name, (_, l95) in local.items():
                print(f"  {name:<32} {remote[name][1] / l95:>6.1f}x")


if __name__ == "__main__":
    main()
