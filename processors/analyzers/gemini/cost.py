"""Token and cost arithmetic, and daily spend budgets (global and per brand).

Gemini bills video at ~258 tokens per sampled frame (66 at low resolution) plus 32 tokens per
second of audio, sampling 1 frame/s unless `fps` says otherwise: ~300 tokens/s by default, ~100
at low resolution. An image costs one frame. Budgets are in-memory counters keyed by UTC day:
they reset with the process, which bounds a runaway loop, not a month's invoice.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import date

from processors.analyzers.gemini.options import GeminiOptions, ModelPrice
from schemas.fields import MediaKind

FRAME_TOKENS = {"default": 258, "low": 66, "medium": 258, "high": 258}
AUDIO_TOKENS_PER_S = 32
CHARS_PER_TOKEN = 4


def clipped_seconds(duration_s: float, options: GeminiOptions) -> float:
    """Seconds of video the model will see after the clip offsets."""
    start = options.clip_start_s or 0.0
    end = min(duration_s, options.clip_end_s) if options.clip_end_s else duration_s
    return max(0.0, end - start)


def media_tokens(
    kind: MediaKind, duration_s: float | None, has_audio: bool, options: GeminiOptions
) -> int:
    """Estimate the input tokens one media part costs."""
    per_frame = FRAME_TOKENS[options.media_resolution]
    if kind == "image":
        return per_frame
    seconds = clipped_seconds(duration_s or options.unknown_duration_s, options)
    per_s = per_frame * (options.fps or 1.0) + (AUDIO_TOKENS_PER_S if has_audio else 0)
    return round(seconds * per_s)


def cost_usd(input_tokens: int, output_tokens: int, price: ModelPrice) -> float:
    return (input_tokens * price.input_per_mtok + output_tokens * price.output_per_mtok) / 1e6


def estimate_usd(media: int, prompt_chars: int, options: GeminiOptions, model: str) -> float:
    """Pre-call estimate: media + prompt tokens in, the expected answer out."""
    tokens_in = media + prompt_chars // CHARS_PER_TOKEN
    return cost_usd(tokens_in, options.expected_output_tokens, options.price(model))


@dataclass(frozen=True)
class Reservation:
    day: date
    brand_id: str | None
    amount: float


@dataclass
class DailyBudget:
    """Spend counters per UTC day; a call reserves its estimate first and settles its cost after."""

    options: GeminiOptions
    _spent: dict[tuple[date, str | None], float] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def spent(self, day: date, brand_id: str | None = None) -> float:
        with self._lock:
            return self._spent.get((day, brand_id), 0.0)

    def reserve(self, day: date, brand_id: str | None, amount: float) -> Reservation | str:
        """Reserve `amount` or return why not (a readable refusal)."""
        with self._lock:
            self._forget_before(day)
            total = self._spent.get((day, None), 0.0)
            limit = self.options.daily_budget_usd
            if limit is not None and total + amount > limit:
                return (
                    f"daily Gemini budget reached: ${total:.4f} spent of ${limit:.2f} on "
                    f"{day}, this call needs ~${amount:.4f}"
                )
            brand_limit = self.options.brand_budget(brand_id)
            used = self._spent.get((day, brand_id), 0.0)
            if brand_id is not None and brand_limit is not None and used + amount > brand_limit:
                return (
                    f"daily Gemini budget of brand {brand_id} reached: ${used:.4f} spent of "
                    f"${brand_limit:.2f} on {day}, this call needs ~${amount:.4f}"
                )
            self._add(day, brand_id, amount)
            return Reservation(day, brand_id, amount)

    def settle(self, reservation: Reservation, actual: float) -> None:
        """Replace the reserved estimate by what the call really cost (0 to release it)."""
        with self._lock:
            self._add(reservation.day, reservation.brand_id, actual - reservation.amount)

    def _forget_before(self, day: date) -> None:
        for key in [k for k in self._spent if k[0] < day]:
            del self._spent[key]

    def _add(self, day: date, brand_id: str | None, amount: float) -> None:
        self._spent[(day, None)] = self._spent.get((day, None), 0.0) + amount
        if brand_id is not None:
            self._spent[(day, brand_id)] = self._spent.get((day, brand_id), 0.0) + amount
