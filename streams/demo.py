"""`reelscope demo`: make sample media, push them through the whole stack over HTTP, show results.

Everything runs for real: the embedded broker, the worker, the API and the lake in the
configured bucket (a local folder by default). Nothing is downloaded.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from processors.config import Settings
from processors.synthetic.samples import demo_set
from streams.supervisor import Stack

BRAND = "acme-demo"
RULES: dict[str, Any] = {
    "name": "ACME (demo)",
    "palette": [
        {"hex": "#E4002B", "role": "primary"},
        {"hex": "#FFFFFF", "role": "secondary"},
        {"hex": "#1A1A1A", "role": "accent"},
    ],
    "tolerance_de": 12,
    "min_logo_area_pct": 1.0,
    "logo_zones": ["top_left", "top_right", "bottom_left", "bottom_right"],
    "platforms": ["instagram_reels"],
}
UPLOADS = {  # sample name -> target platforms
    "on_brand_vertical": "instagram_reels,tiktok",
    "off_brand_landscape": "youtube",
    "image": "instagram_feed",
    "corrupt": "instagram_reels",
}


def run_demo(settings: Settings, *, keep_serving: bool, timeout: float = 90.0) -> int:
    """Return the process exit code: 0 when every sample reached a final status."""
    os.environ.setdefault("REELSCOPE_LOG_LEVEL", "WARNING")
    started = time.monotonic()
    with Stack(settings) as stack, httpx.Client(base_url=stack.api_url, timeout=30) as http:
        print(
            f"reelscope demo — API {stack.api_url}/docs · review page {stack.api_url}/review · "
            f"broker {stack.bootstrap}"
        )
        wait_ready(http, stack, deadline=time.monotonic() + 60)
        samples = demo_set(Path(tempfile.mkdtemp(prefix="reelscope-demo-")))
        _register_brand(http, samples["logo"])
        ids = {name: _upload(http, samples[name], UPLOADS[name]) for name in UPLOADS}
        results = _wait_results(http, ids, deadline=time.monotonic() + timeout)
        _print_table(results)
        _print_evidence(stack.api_url, ids, results)
        print(f"\nall results in {time.monotonic() - started:.1f} s (since start-up)")
        _print_lake_summary(settings, stack.bootstrap)
        done = all(r["status"] != "processing" for r in results.values())
        if keep_serving and done:
            print(
                f"\nstill serving: {stack.api_url}/docs and {stack.api_url}/review — Ctrl-C to stop"
            )
            stack.wait()
        return 0 if done else 1


def wait_ready(http: httpx.Client, stack: Stack, deadline: float) -> None:
    """Wait for the stack's API to answer /readyz 200; exit if a process died or time ran out."""
    while time.monotonic() < deadline:
        stack.check()
        try:
            if http.get("/readyz").status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    msg = "the API did not become ready within 60 s"
    raise SystemExit(msg)


def _register_brand(http: httpx.Client, logo: Path) -> None:
    http.put(f"/v1/brands/{BRAND}", json=RULES).raise_for_status()
    r = http.put(
        f"/v1/brands/{BRAND}/logo", content=logo.read_bytes(), headers={"content-type": "image/png"}
    )
    r.raise_for_status()
    print(
        f"brand {BRAND!r}: palette {[c['hex'] for c in RULES['palette']]}, "
        f"logo v{r.json()['version']}"
    )


def _upload(http: httpx.Client, path: Path, platforms: str) -> str:
    with path.open("rb") as fh:
        r = http.post(
            "/v1/media",
            files={"file": (path.name, fh)},
            data={"brand_id": BRAND, "platforms": platforms},
        )
    r.raise_for_status()
    media_id: str = r.json()["media_id"]
    print(f"uploaded {path.name:<28} -> {media_id}")
    return media_id


def _wait_results(
    http: httpx.Client, ids: dict[str, str], deadline: float
) -> dict[str, dict[str, Any]]:
    results: dict[str, dict[str, Any]] = {}
    pending = dict(ids)
    while pending and time.monotonic() < deadline:
        for name, media_id in list(pending.items()):
            r = http.get(f"/v1/media/{media_id}")
            if r.status_code == 200 and r.json()["status"] != "processing":
                results[name] = r.json()
                del pending[name]
                print(f"  {name:<22} {results[name]['status']}")
        time.sleep(0.5)
    for name, media_id in pending.items():
        results[name] = {"media_id": media_id, "status": "processing"}
    return results


def _print_table(results: dict[str, dict[str, Any]]) -> None:
    print(
        f"\n{'sample':<22} {'status':<10} {'verdict':<7} {'score':>5}  {'logo':<5} "
        f"{'palette':>7}  violations / error"
    )
    for name, r in results.items():
        check = r.get("brand_check") or {}
        logo = (check.get("logo") or {}).get("found")
        ratio = (check.get("palette") or {}).get("on_palette_ratio")
        codes = ", ".join(dict.fromkeys(v["code"] for v in check.get("violations", [])))
        score = r.get("score") if r.get("score") is not None else check.get("score")
        print(
            f"{name:<22} {r['status']:<10} {r.get('verdict') or '-':<7} "
            f"{score if score is None else f'{score:.2f}'!s:>5}  {str(logo):<5} "
            f"{'-' if ratio is None else f'{ratio:.0%}':>7}  {r.get('error') or codes or '-'}"
        )


def _print_evidence(api: str, ids: dict[str, str], results: dict[str, dict[str, Any]]) -> None:
    """Where to look at each done sample's evidence image (rendered on first request)."""
    done = [name for name, r in results.items() if r["status"] == "done"]
    if done:
        print("\nevidence images:")
    for name in done:
        print(f"  {name:<22} {api}/v1/media/{ids[name]}/evidence.png")


def _print_lake_summary(settings: Settings, bootstrap: str, wait: float = 30.0) -> None:
    """Print what the lake holds once the lake sink has written everything published so far:
    a demo that exits earlier would leave rows in a memory broker that dies with it."""
    from processors.lake.query import Lake
    from schemas.lake import TABLE_OF_TOPIC
    from streams.admin import wait_caught_up
    from streams.lake_sink import lake_group

    if not wait_caught_up(bootstrap, lake_group(settings), TABLE_OF_TOPIC, wait):
        print(f"\n(the lake sink had not written everything after {wait:.0f} s)")
    store = settings.store.open()
    sql = (
        "select status, coalesce(verdict, '-') as verdict, count(*) as n "
        "from media_results group by all order by all"
    )
    rows: list[Any] = Lake(store).connection().execute(sql).fetchall()
    print(f"\nDuckDB over the lake ({settings.store.url}):\n  {sql}")
    for status, verdict, n in rows:
        print(f"  {status:<8} {verdict:<6} {n}")
