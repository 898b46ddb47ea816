"""The fleet's Gemini budget: one ledger in the bucket that every worker and every restart sees.

Spend is kept per calendar month (UTC) as a chain of snapshots, `budget/<yyyy>-<mm>/<seq>.json`
(`processors.keys.budget_key`), each holding the month's and each day's spend, for the fleet
and per brand. A change (a reservation before a call, its settlement after) reads the newest
snapshot, applies itself and writes it under the next sequence number with `create_bytes`
(create-if-absent): of two workers writing the same number one wins, the loser reads the
winner's snapshot and applies itself again. That is a compare-and-swap on any store with a
create-if-absent (S3's `If-None-Match: *`, a hard link in a folder), with no lock service.

The bound: a call is made only once its estimate is reserved under every limit (fleet and
brand, day and month), so reservations never pass a limit. Settling replaces an estimate by
the call's actual cost, so spend passes a limit by at most what the calls in flight cost beyond
their estimates: (calls in flight in the fleet) x (largest actual cost - its estimate). A worker
killed between reserve and settle leaves its estimate booked: the ledger errs towards spending
less, never more.

Old snapshots are deleted once no reader can still need them: a reader that has not confirmed
its newest snapshot for `RELIST_S` lists the folder again, and a process deletes only the
snapshots older than one it saw newest `PRUNE_AFTER_S` ago (each on its own monotonic clock).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Literal, Protocol

from pydantic import BaseModel, Field

from processors.errors import ObjectNotFound, StorageError
from processors.keys import budget_key, budget_prefix, budget_seq
from processors.storage import Store

Period = Literal["daily", "monthly"]
PERIODS: tuple[Period, ...] = ("daily", "monthly")
FLEET = ""  # the brand key of the fleet-wide total
RELIST_S = 60.0
PRUNE_AFTER_S = 600.0
MAX_RACES = 64  # writers that may win in a row before a change gives up (a storage fault)


class Limits(Protocol):
    def limit(self, period: Period, brand_id: str | None) -> float | None:
        """The limit in USD for the fleet (brand None) or one brand; None: unlimited."""
        ...


class Snapshot(BaseModel):
    """One month's spend after `seq` changes: USD by brand ("" the fleet), month and days."""

    month: str
    seq: int = 0
    monthly: dict[str, float] = Field(default_factory=dict)
    daily: dict[str, dict[str, float]] = Field(default_factory=dict)

    def spent(self, period: Period, day: date, brand_id: str | None) -> float:
        totals = self.monthly if period == "monthly" else self.daily.get(day.isoformat(), {})
        return totals.get(brand_id or FLEET, 0.0)

    def plus(self, day: date, brand_id: str | None, amount: float) -> Snapshot:
        """This spend with `amount` added to the fleet (and brand) totals of `day` and its month."""
        monthly, daily = dict(self.monthly), dict(self.daily.get(day.isoformat(), {}))
        for brand in {FLEET, brand_id or FLEET}:
            monthly[brand] = _usd(monthly.get(brand, 0.0) + amount)
            daily[brand] = _usd(daily.get(brand, 0.0) + amount)
        days = {**self.daily, day.isoformat(): daily}
        return self.model_copy(update={"monthly": monthly, "daily": days})


@dataclass(frozen=True)
class Reservation:
    day: date
    brand_id: str | None
    amount: float


@dataclass
class _Newest:
    snapshot: Snapshot
    confirmed: float  # monotonic time it was last known to be the newest


class BudgetLedger:
    """Reserve before a call, settle after; thread-safe, and shared through `store`.

    Every method blocks on the store (call it from a thread in async code) and raises
    `StorageError` when the store fails.
    """

    def __init__(
        self, store: Store, limits: Limits, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._store, self._limits, self._clock = store, limits, clock
        self._lock = threading.Lock()
        self._newest: dict[str, _Newest] = {}
        self._marks: dict[str, tuple[float, int]] = {}  # month -> (when, seq seen newest then)

    def reserve(self, day: date, brand_id: str | None, amount: float) -> Reservation | str:
        """Book `amount` against every limit on `day`, or say which limit refuses it."""

        def book(spend: Snapshot) -> Snapshot | str:
            return refusal(spend, self._limits, day, brand_id, amount) or spend.plus(
                day, brand_id, amount
            )

        booked = self._change(day, book)
        return booked if isinstance(booked, str) else Reservation(day, brand_id, amount)

    def settle(self, reservation: Reservation, actual: float) -> None:
        """Replace the reserved estimate by what the call really cost (0 releases it)."""
        delta = actual - reservation.amount
        if delta:
            self._change(
                reservation.day, lambda s: s.plus(reservation.day, reservation.brand_id, delta)
            )

    def snapshot(self, day: date) -> Snapshot:
        """The newest spend of `day`'s month (for the metrics and for tests)."""
        with self._lock:
            return self._read_newest(day.strftime("%Y-%m"))

    def _change(self, day: date, apply: Callable[[Snapshot], Snapshot | str]) -> Snapshot | str:
        month = day.strftime("%Y-%m")
        with self._lock:
            for _ in range(MAX_RACES):
                newest = self._read_newest(month)
                changed = apply(newest)
                if isinstance(changed, str):
                    return changed
                changed = changed.model_copy(update={"seq": newest.seq + 1})
                data = changed.model_dump_json().encode()
                if self._store.create_bytes(budget_key(month, changed.seq), data):
                    self._newest[month] = _Newest(changed, self._clock())
                    self._prune(month, changed.seq)
                    return changed
                # another worker wrote that number first: read its snapshot and apply again
        msg = f"the budget ledger of {month}: {MAX_RACES} other writers won in a row"
        raise StorageError(msg)

    def _read_newest(self, month: str) -> Snapshot:
        known = self._newest.get(month)
        now = self._clock()
        if known is None or now - known.confirmed > RELIST_S:
            seqs = [s for k in self._store.list(budget_prefix(month)) if (s := budget_seq(k))]
            snapshot = self._load(month, max(seqs)) if seqs else Snapshot(month=month)
        else:
            snapshot = known.snapshot
        while True:  # newer snapshots written since: follow the chain to its end
            try:
                snapshot = self._load(month, snapshot.seq + 1)
            except ObjectNotFound:
                break
        self._newest[month] = _Newest(snapshot, now)
        return snapshot

    def _load(self, month: str, seq: int) -> Snapshot:
        return Snapshot.model_validate_json(self._store.get_bytes(budget_key(month, seq)))

    def _prune(self, month: str, seq: int) -> None:
        """Delete the snapshots older than one this process saw newest PRUNE_AFTER_S ago."""
        now = self._clock()
        when, marked = self._marks.setdefault(month, (now, seq))
        if now - when < PRUNE_AFTER_S:
            return
        self._marks[month] = (now, seq)
        for key in self._store.list(budget_prefix(month)):
            if (s := budget_seq(key)) is not None and s < marked:
                self._store.delete(key)


def refusal(
    spend: Snapshot, limits: Limits, day: date, brand_id: str | None, amount: float
) -> str | None:
    """Why `amount` more on `day` would pass a limit, in words; None if it fits them all."""
    for period in PERIODS:
        for brand in (None, brand_id) if brand_id else (None,):
            limit = limits.limit(period, brand)
            used = spend.spent(period, day, brand)
            if limit is not None and used + amount > limit:
                whose = f" of brand {brand}" if brand else ""
                when = f"on {day}" if period == "daily" else f"in {day:%Y-%m}"
                return (
                    f"{period} Gemini budget{whose} reached: ${used:.4f} spent of ${limit:.2f} "
                    f"{when}, this call needs ~${amount:.4f}"
                )
    return None


def _usd(amount: float) -> float:
    """Rounded to a nano-dollar, and never below zero (float dust from settling)."""
    return max(0.0, round(amount, 9))
