"""The fleet's budget ledger: limits bind fleet-wide, restarts keep the spend, racing writers
lose nothing, and two processes overshoot by no more than their calls in flight."""

from __future__ import annotations

import json
import multiprocessing
import random
import threading
import time
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from processors.analyzers.gemini.options import GeminiOptions
from processors.budget import PRUNE_AFTER_S, RELIST_S, BudgetLedger, Reservation
from processors.keys import budget_prefix
from processors.storage import Store, open_store
from processors.storage.local import LocalStore
from processors.storage.s3 import S3Store

DAY = date(2026, 12, 3)
MONTH = "2026-12"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def store(tmp_path: Path) -> LocalStore:
    return LocalStore(tmp_path / "bucket")


def ledger(store: Store, clock: Clock | None = None, **limits: Any) -> BudgetLedger:
    return BudgetLedger(store, GeminiOptions(**limits), clock or Clock())


def spent(book: BudgetLedger, period: str = "daily", brand: str | None = None) -> float:
    return book.snapshot(DAY).spent(period, DAY, brand)  # type: ignore[arg-type]


def test_reserve_then_settle_books_the_actual_cost(store: LocalStore) -> None:
    book = ledger(store)
    booked = book.reserve(DAY, "acme", 0.5)
    assert booked == Reservation(DAY, "acme", 0.5) and spent(book, brand="acme") == 0.5
    book.settle(booked, 0.2)
    assert spent(book) == spent(book, "monthly") == spent(book, brand="acme") == 0.2
    assert spent(book, brand="zeta") == 0.0


@pytest.mark.parametrize(
    ("limits", "brand", "words"),
    [
        ({"daily_budget_usd": 1.0}, None, "daily Gemini budget reached: $0.8000 spent of $1.00"),
        ({"monthly_budget_usd": 1.0}, "acme", "monthly Gemini budget reached"),
        ({"brand_daily_budget_usd": {"acme": 1.0}}, "acme", "daily Gemini budget of brand acme"),
        ({"default_brand_monthly_budget_usd": 1.0}, "acme", "monthly Gemini budget of brand acme"),
    ],
)
def test_each_limit_refuses_in_words(
    store: LocalStore, limits: dict[str, Any], brand: str | None, words: str
) -> None:
    book = ledger(store, **limits)
    assert isinstance(book.reserve(DAY, brand, 0.8), Reservation)
    refused = book.reserve(DAY, brand, 0.3)
    assert isinstance(refused, str) and words in refused and "needs ~$0.3000" in refused
    assert spent(book) == 0.8, "a refusal books nothing"
    assert isinstance(book.reserve(DAY, brand, 0.2), Reservation), "what still fits is booked"


def test_a_brand_limit_leaves_other_brands_alone(store: LocalStore) -> None:
    book = ledger(store, brand_daily_budget_usd={"acme": 1.0})
    book.reserve(DAY, "acme", 1.0)
    assert isinstance(book.reserve(DAY, "acme", 0.1), str)
    assert isinstance(book.reserve(DAY, "zeta", 5.0), Reservation)


def test_a_new_day_resets_the_daily_limit_but_not_the_month(store: LocalStore) -> None:
    book = ledger(store, daily_budget_usd=1.0, monthly_budget_usd=1.5)
    book.reserve(DAY, None, 1.0)
    tomorrow = date(2026, 12, 4)
    assert isinstance(book.reserve(tomorrow, None, 0.5), Reservation)
    refused = book.reserve(tomorrow, None, 0.1)
    assert isinstance(refused, str) and refused.startswith("monthly") and "in 2026-12" in refused
    assert isinstance(book.reserve(date(2027, 1, 1), None, 1.0), Reservation), "a new month"
    assert store.list(budget_prefix("2027-01")) and store.list(budget_prefix(MONTH))


def test_a_restarted_worker_sees_the_spend(store: LocalStore) -> None:
    ledger(store, daily_budget_usd=1.0).reserve(DAY, None, 0.9)
    again = ledger(store, daily_budget_usd=1.0)
    assert isinstance(again.reserve(DAY, None, 0.2), str) and spent(again) == 0.9


def test_racing_writers_lose_no_update(store: LocalStore) -> None:
    """Two ledgers whose newest snapshot went stale: each write lands on the true newest."""
    a, b = ledger(store), ledger(store)
    for i in range(20):
        first, second = (a, b) if i % 3 else (b, a)
        first.settle(Reservation(DAY, "acme", 0.0), 0.01)
        second.settle(Reservation(DAY, None, 0.0), 0.1)
    assert spent(a) == pytest.approx(2.2) and spent(b, brand="acme") == pytest.approx(0.2)
    seqs = sorted(json.loads(store.get_bytes(k))["seq"] for k in store.list(budget_prefix(MONTH)))
    assert seqs == list(range(1, 41)), "one snapshot per change, no number written twice"


def test_old_snapshots_are_pruned_and_a_stale_reader_relists(store: LocalStore) -> None:
    clock = Clock()
    writer, idle = ledger(store, clock), ledger(store, clock)
    idle.settle(Reservation(DAY, None, 0.0), 1.0)
    for _ in range(5):
        writer.settle(Reservation(DAY, None, 0.0), 1.0)
    clock.now += PRUNE_AFTER_S + 1
    writer.settle(Reservation(DAY, None, 0.0), 1.0)  # deletes what was older than the mark
    kept = store.list(budget_prefix(MONTH))
    assert len(kept) == 6, f"seq 1 (older than the writer's mark, seq 2) is kept: {kept}"
    assert clock.now - 1000.0 > RELIST_S  # the idle ledger's snapshot is too old to follow
    idle.settle(Reservation(DAY, None, 0.0), 1.0)
    assert spent(idle) == spent(writer) == 8.0


# --- two processes ----------------------------------------------------------------------------

ESTIMATE = 0.01
LIMIT = 0.5
THREADS = 4  # calls in flight per process


def _spend_until_refused(url: str, endpoint: str | None, out: str, start: Any) -> None:
    """One 'worker': THREADS calls at a time, each reserving ESTIMATE and costing up to 1.5x it,
    until the ledger refuses; writes what it really spent and how many calls it made."""
    store = open_store(url, endpoint_url=endpoint)
    book = BudgetLedger(store, GeminiOptions(daily_budget_usd=LIMIT))
    costs: list[float] = []
    lock = threading.Lock()

    def calls() -> None:
        rng = random.Random()
        while isinstance(booked := book.reserve(DAY, "acme", ESTIMATE), Reservation):
            time.sleep(rng.uniform(0.0, 0.02))  # the call
            actual = round(ESTIMATE * rng.uniform(1.0, 1.5), 6)
            book.settle(booked, actual)
            with lock:
                costs.append(actual)

    threads = [threading.Thread(target=calls) for _ in range(THREADS)]
    start.wait(60)  # both processes spend at once
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    Path(out).write_text(json.dumps(costs))


def two_workers(url: str, tmp_path: Path, endpoint: str | None = None) -> list[list[float]]:
    spawn = multiprocessing.get_context("spawn")
    outs = [tmp_path / f"worker{i}.json" for i in range(2)]
    start = spawn.Barrier(len(outs))
    procs = [
        spawn.Process(target=_spend_until_refused, args=(url, endpoint, str(o), start))
        for o in outs
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    return [json.loads(o.read_text()) for o in outs]


def check_fleet_bound(store: Store, costs: list[list[float]]) -> None:
    total = sum(map(sum, costs))
    booked = ledger(store).snapshot(DAY)
    assert all(costs), f"one worker made no call: {[len(c) for c in costs]}"
    assert booked.spent("daily", DAY, None) == pytest.approx(total, abs=1e-6), "an update was lost"
    assert booked.spent("daily", DAY, "acme") == pytest.approx(total, abs=1e-6)
    in_flight = 2 * THREADS
    overshoot = in_flight * 0.5 * ESTIMATE  # each call in flight costs at most 1.5x its estimate
    assert LIMIT - ESTIMATE < total <= LIMIT + overshoot, (
        f"spent ${total:.4f} of ${LIMIT} in {sum(map(len, costs))} calls (bound ${overshoot:.3f})"
    )


def test_two_processes_share_one_budget_on_a_folder(tmp_path: Path) -> None:
    url = f"file://{tmp_path / 'bucket'}"
    check_fleet_bound(open_store(url), two_workers(url, tmp_path))


def test_two_processes_share_one_budget_on_s3(s3_store: S3Store, tmp_path: Path) -> None:
    costs = two_workers(f"s3://{s3_store.bucket}", tmp_path, s3_store.endpoint_url)
    check_fleet_bound(s3_store, costs)
