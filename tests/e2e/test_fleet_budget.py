"""Two worker processes, one Gemini budget: the fleet spends its daily budget once, not once per
worker, and passes it by no more than its calls in flight cost beyond their estimates.

Each call is estimated without output tokens (`expected_output_tokens=0`), so every call costs
more than it reserved: the overshoot the ledger allows is real here, and bounded by
(calls in flight: 2 workers x `analyzer.concurrency`) x (largest actual - estimate).
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from processors.analyzers.base import AnalysisRequest
from processors.analyzers.gemini.analyzer import GeminiAnalyzer
from processors.analyzers.gemini.fake_server import FakeGemini
from processors.analyzers.gemini.options import GeminiOptions
from processors.budget import BudgetLedger
from processors.storage import open_store
from processors.synthetic import events
from processors.synthetic.samples import make_image
from streams.admin import ensure_topics
from streams.broker import EmbeddedBroker, free_port
from tests.e2e.conftest import Deployment
from tests.e2e.helpers import upload, wait_final

pytestmark = pytest.mark.slow

WORKERS, CONCURRENCY, IMAGES = 2, 2, 24
CALLS_IN_BUDGET = 8.5  # the daily budget, in calls of the calibrated cost
OPTIONS: dict[str, Any] = {"expected_output_tokens": 0}


@pytest.fixture(scope="module")
def gemini() -> Iterator[FakeGemini]:
    fake = FakeGemini(latency_s=0.3).start()  # slow enough that calls overlap
    yield fake
    fake.stop()


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    folder = tmp_path_factory.mktemp("fleet_budget")
    return [make_image(folder / f"{i}.jpg", width=200 + 8 * i, height=200) for i in range(IMAGES)]


def one_call_cost(fake: FakeGemini, image: Path) -> float:
    """What one image analysis costs on the fake, measured in this process (the prompt
    depends only on the kind and the platforms, none here, as in the uploads)."""
    event = events.uploaded(media_kind="image", content_type="image/jpeg")
    analyzer = GeminiAnalyzer(
        api_key=fake.api_key,
        model="gemini-2.5-flash",
        base_url=fake.url,
        options=GeminiOptions(**OPTIONS),
    )

    async def run() -> float:
        try:
            result = await analyzer.analyze(AnalysisRequest(image, event, None, producer="t"))
        finally:
            await analyzer.aclose()
        assert result.status == "done" and result.usage.cost_usd
        return result.usage.cost_usd

    cost = asyncio.run(run())
    fake.reset()
    return cost


@pytest.fixture(scope="module")
def fleet(
    gemini: FakeGemini, images: list[Path], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Deployment, float, list[int]]]:
    """The API and two workers on a two-partition broker, one folder bucket, a daily budget of
    CALLS_IN_BUDGET calls; each worker's metrics port."""
    budget = CALLS_IN_BUDGET * one_call_cost(gemini, images[0])
    bucket = tmp_path_factory.mktemp("bucket")
    with EmbeddedBroker() as broker:
        ensure_topics(broker.bootstrap, partitions=WORKERS)
        stack = Deployment(
            broker.bootstrap,
            f"file://{bucket}",
            tmp_path_factory.mktemp("logs"),
            extra_env={
                "REELSCOPE_KAFKA__PARTITIONS": str(WORKERS),
                "REELSCOPE_ANALYZER__NAME": "gemini",
                "REELSCOPE_ANALYZER__CONCURRENCY": str(CONCURRENCY),
                "REELSCOPE_GEMINI__API_KEY": gemini.api_key,
                "REELSCOPE_GEMINI__BASE_URL": gemini.url,
                "REELSCOPE_GEMINI__EXPECTED_OUTPUT_TOKENS": "0",
                "REELSCOPE_GEMINI__DAILY_BUDGET_USD": repr(budget),
            },
        )
        ports = [free_port() for _ in range(WORKERS)]
        workers = []
        try:
            for port in ports:
                stack.worker_env = {"REELSCOPE_WORKER__WEB_PORT": str(port)}
                workers.append(stack.spawn_worker())
            stack.worker = workers[0]
            stack.api = stack._spawn("api")  # noqa: SLF001 (the workers are started above)
            wait_ready(stack, ports)
            yield stack, budget, ports
        finally:
            for proc in [*workers, stack.api]:
                if proc is not None and proc.poll() is None:
                    stack.stop_process(proc)


def wait_ready(stack: Deployment, ports: list[int]) -> None:
    """The API answers and each worker owns one partition of the uploads."""
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        log = (stack.logs / "worker.log").read_text(errors="replace")
        owners = re.findall(r'"partitions": \[([^\]]*)\]', log)[-WORKERS:]
        split = len(owners) == WORKERS and all(o.count("media.uploaded.v1/") == 1 for o in owners)
        try:
            ready = httpx.get(f"{stack.url}/readyz", timeout=2).status_code == 200
        except httpx.TransportError:
            ready = False
        if split and ready and all(metric(p, "reelscope_budget_limit_usd") for p in ports):
            return
        time.sleep(0.5)
    raise AssertionError("the fleet did not come up:\n" + log[-3000:])


def metric(port: int, name: str, **labels: str) -> float | None:
    """The sum of a worker's /metrics samples of `name` whose labels include `labels` (None
    when there is none, or no worker)."""
    try:
        text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    except httpx.TransportError:
        return None
    values = []
    for line in text.splitlines():
        found = re.fullmatch(r"(\w+)(?:\{(.*)\})? (\S+)", line)
        if found is None or found[1] != name:
            continue
        have = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', found[2] or ""))
        if labels.items() <= have.items():
            values.append(float(found[3]))
    return sum(values) if values else None


def test_two_workers_spend_one_budget(
    fleet: tuple[Deployment, float, list[int]], images: list[Path]
) -> None:
    stack, budget, ports = fleet
    ids = [upload(stack, image) for image in images]
    results = [wait_final(stack, media_id, 120) for media_id in ids]
    analyses = [r["analysis"] for r in results]
    done = [a for a in analyses if a["status"] == "done"]
    deferred = [a for a in analyses if a["status"] == "deferred"]
    assert len(done) + len(deferred) == IMAGES, [a["status"] for a in analyses]
    assert done and deferred, "the budget binds, and not before the first call"
    spent = sum(a["usage"]["cost_usd"] for a in done)
    beyond = max(a["usage"]["cost_usd"] - a["usage"]["estimated_cost_usd"] for a in done)
    in_flight = WORKERS * CONCURRENCY
    bound = in_flight * beyond
    figures = (
        f"budget ${budget:.6f}, spent ${spent:.6f} in {len(done)} calls, "
        f"{len(deferred)} deferred, overshoot ${max(0.0, spent - budget):.6f}, bound ${bound:.6f}"
    )
    assert spent <= budget + bound, figures
    assert spent > budget - max(a["usage"]["estimated_cost_usd"] for a in done), figures
    print(figures)  # the closing note's figures

    ledger = BudgetLedger(open_store(stack.store_url), GeminiOptions())
    today = datetime.now(UTC).date()
    assert ledger.snapshot(today).spent("daily", today, None) == pytest.approx(spent, abs=1e-9)
    deadline = time.monotonic() + 30  # each worker reads the ledger every 10 s
    seen: list[float | None] = []
    while time.monotonic() < deadline:
        seen = [metric(p, "reelscope_budget_spent_usd", period="daily", brand="") for p in ports]
        if all(v == pytest.approx(spent, abs=1e-9) for v in seen):
            break
        time.sleep(1)
    assert all(v == pytest.approx(spent, abs=1e-9) for v in seen), f"workers report {seen}"
    # each worker decided on its share of the media: calls, or deferrals that only the other's
    # spend can explain when it made none itself
    decided = [metric(p, "reelscope_analyses_total", analyzer="gemini") for p in ports]
    assert all(d and d > 0 for d in decided), f"analyses per worker: {decided}"
