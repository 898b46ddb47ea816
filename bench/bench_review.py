"""The review page's load time for a list of 50 assets on the embedded stack.

Run: `python -m bench.bench_review` (`--assets N --repeat R`). It starts the stack `reelscope up`
runs (embedded broker, one worker, the API; folder bucket in a temporary directory, local
analyzer, no keys: the page is open on loopback), registers the demo brand, uploads N distinct
640x640 JPEGs (half on-brand, half off), waits until every one has its decision from the gate
and the lake lists them all, then times R sequential `GET /review` (the whole HTML page of the
50 newest, server side plus transfer on loopback; the thumbnails are separate requests, timed
apart as one more figure) and prints a table: p50, p95 and max in ms.
"""

from __future__ import annotations

import argparse
import re
import shlex
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import httpx

from bench.bench_e2e import BRAND, register_brand, stack_settings
from processors.synthetic.samples import BRAND_COLOURS, OFF_BRAND_COLOURS, make_image, make_logo
from streams.demo import wait_ready
from streams.supervisor import Stack


def make_assets(folder: Path, n: int, logo: Path) -> list[Path]:
    """N distinct stills: a shifted logo makes every file's bytes (and sha256) its own."""
    paths = []
    for i in range(n):
        on = i % 2 == 0
        paths.append(
            make_image(
                folder / f"asset-{i:03d}.jpg",
                width=640,
                height=640,
                background=BRAND_COLOURS if on else OFF_BRAND_COLOURS,
                logo=logo if on else None,
                logo_pos=(0.05 + 0.005 * i, 0.05),
            )
        )
    return paths


def upload_all(http: httpx.Client, paths: list[Path]) -> list[str]:
    ids = []
    for path in paths:
        with path.open("rb") as fh:
            form = {"brand_id": BRAND, "platforms": "instagram_feed"}
            r = http.post("/v1/media", files={"file": (path.name, fh)}, data=form)
        r.raise_for_status()
        ids.append(r.json()["media_id"])
    return ids


def wait_listed(http: httpx.Client, ids: list[str], timeout: float = 300) -> None:
    """Until every media has a decision and the page lists all of them."""
    deadline = time.monotonic() + timeout
    pending = set(ids)
    while pending:
        if time.monotonic() > deadline:
            msg = f"{len(pending)} media without a decision after {timeout:g} s"
            raise SystemExit(msg)
        pending = {i for i in pending if http.get(f"/v1/media/{i}").json().get("decision") is None}
        time.sleep(0.5)
    while len(set(re.findall(r'data-media-id="([^"]+)"', http.get("/review").text))) < len(ids):
        if time.monotonic() > deadline:
            raise SystemExit("the lake never listed every media")
        time.sleep(0.5)


def timed(http: httpx.Client, path: str, repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        r = http.get(path)
        r.raise_for_status()
        times.append((time.perf_counter() - started) * 1000)
    return times


def row(what: str, ms: list[float]) -> str:
    q = statistics.quantiles(ms, n=20) if len(ms) > 1 else ms * 19
    return f"{what:<34} | {statistics.median(ms):7.1f} | {q[18]:7.1f} | {max(ms):7.1f}"


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="bench_review", description=__doc__)
    parser.add_argument("--assets", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="reelscope-bench-review-"))
    stack = Stack(stack_settings(work / "bucket"))
    try:
        logo = make_logo(work / "logo.png")
        assets = make_assets(work, args.assets, logo)
        stack.start()
        with httpx.Client(base_url=stack.api_url, timeout=60) as http:
            wait_ready(http, stack, deadline=time.monotonic() + 60)
            register_brand(http, logo)
            ids = upload_all(http, assets)
            wait_listed(http, ids)
            timed(http, "/review", 3)  # warm: the lake's listing and DuckDB's views
            page = timed(http, "/review", args.repeat)
            rows = timed(http, "/review/rows", args.repeat)
            thumbs = [timed(http, f"/review/media/{i}/thumb.jpg", 1)[0] for i in ids]
    finally:
        stack.stop()
        shutil.rmtree(work, ignore_errors=True)
    command = [Path(sys.executable).name, "-m", "bench.bench_review", *sys.argv[1:]]
    print(f"command: {shlex.join(command)}")
    print(
        f"settings: {args.assets} assets (640x640 JPEG, half on-brand), {args.repeat} sequential "
        "requests each, embedded stack, folder bucket, local analyzer, no keys; loopback\n"
    )
    print(f"{'what':<34} | {'p50 ms':>7} | {'p95 ms':>7} | {'max ms':>7}")
    print("-" * 35 + "+" + "-" * 9 + "+" + "-" * 9 + "+" + "-" * 8)
    print(row(f"GET /review ({args.assets} assets)", page))
    print(row("GET /review/rows (live refresh)", rows))
    print(row("GET thumb.jpg (one each)", thumbs))


if __name__ == "__main__":
    main()
