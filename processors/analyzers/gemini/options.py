"""Options of the Gemini analyzer: media, cost, faults (`GeminiSettings` extends them).

Prices are USD per million tokens and change with Google's price list: keep them in
configuration. An unknown model id is charged at `fallback_price` (deliberately high) so a
budget still binds.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

from processors.budget import Period

Resolution = Literal["default", "low", "medium", "high"]


class ModelPrice(BaseModel):
    model_config = ConfigDict(frozen=True)

    input_per_mtok: float = Field(ge=0)
    output_per_mtok: float = Field(ge=0)


DEFAULT_PRICES: dict[str, ModelPrice] = {
    "gemini-2.5-flash": ModelPrice(input_per_mtok=0.30, output_per_mtok=2.50),
    "gemini-2.5-flash-lite": ModelPrice(input_per_mtok=0.10, output_per_mtok=0.40),
    "gemini-2.5-pro": ModelPrice(input_per_mtok=1.25, output_per_mtok=10.00),
}


class GeminiOptions(BaseModel):
    """Per-deployment options; the media ones change the answer and so the cache key."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    # media sent to the model
    fps: float | None = Field(default=None, gt=0, le=24, description="None: Gemini's 1 fps")
    media_resolution: Resolution = Field(
        default="low",
        description="low: 66 tokens a frame, ~5.9k tokens per video-minute with audio at 1 fps; "
        "'default' (Gemini's: 258 a frame, ~17k per minute) reads small on-screen text better: "
        "the detail setting for text-heavy assets",
    )
    clip_start_s: float | None = Field(default=None, ge=0)
    clip_end_s: float | None = Field(default=None, gt=0)
    inline_limit_bytes: int = Field(default=20 * 1024 * 1024, ge=0)
    temperature: float = Field(default=0.0, ge=0, le=2)
    max_output_tokens: int = Field(default=4096, ge=256)
    # Files API
    file_active_timeout_s: float = Field(default=300.0, gt=0)
    file_poll_interval_s: float = Field(default=2.0, gt=0)
    # faults
    max_attempts: int = Field(default=4, ge=1)
    backoff_base_s: float = Field(default=1.0, ge=0)
    backoff_max_s: float = Field(default=30.0, ge=0)
    max_retry_delay_s: float = Field(default=120.0, ge=0, description="longer 429 hints: give up")
    breaker_failures: int = Field(default=5, ge=1)
    breaker_open_s: float = Field(default=30.0, gt=0)
    rpm: int = Field(default=1000, ge=0, description="requests per minute; 0: unlimited")
    rpm_burst: int = Field(default=10, ge=1)
    tpm: int = Field(default=0, ge=0, description="input + output tokens per minute; 0: unlimited")
    # cost
    prices: dict[str, ModelPrice] = Field(default_factory=lambda: dict(DEFAULT_PRICES))
    fallback_price: ModelPrice = ModelPrice(input_per_mtok=1.25, output_per_mtok=10.0)
    expected_output_tokens: int = Field(default=800, ge=0)
    unknown_duration_s: float = Field(default=60.0, gt=0, description="when the probe gave none")
    # budgets in USD, held in the fleet's ledger (processors.budget); None: unlimited
    daily_budget_usd: float | None = Field(default=None, ge=0)
    monthly_budget_usd: float | None = Field(default=None, ge=0)
    brand_daily_budget_usd: dict[str, float] = Field(default_factory=dict)
    brand_monthly_budget_usd: dict[str, float] = Field(default_factory=dict)
    default_brand_daily_budget_usd: float | None = Field(default=None, ge=0)
    default_brand_monthly_budget_usd: float | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _clip_in_order(self) -> GeminiOptions:
        if self.clip_start_s is not None and self.clip_end_s is not None:
            if self.clip_end_s <= self.clip_start_s:
                msg = f"clip_end_s ({self.clip_end_s}) must be after clip_start_s"
                raise ValueError(msg)
        return self

    def price(self, model: str) -> ModelPrice:
        return self.prices.get(model, self.fallback_price)

    def answer_params(self) -> dict[str, Any]:
        """The options that change what the model sees or says (part of the cache key)."""
        return self.model_dump(
            include={
                "fps",
                "media_resolution",
                "clip_start_s",
                "clip_end_s",
                "temperature",
                "max_output_tokens",
            }
        )

    def limit(self, period: Period, brand_id: str | None) -> float | None:
        """The budget of the fleet (brand None) or of one brand for a day or a month."""
        daily = period == "daily"
        if brand_id is None:
            return self.daily_budget_usd if daily else self.monthly_budget_usd
        brands = self.brand_daily_budget_usd if daily else self.brand_monthly_budget_usd
        default = (
            self.default_brand_daily_budget_usd if daily else self.default_brand_monthly_budget_usd
        )
        return brands.get(brand_id, default)


class GeminiSettings(GeminiOptions):
    """The key and model, plus every option of the analyzer (media, faults, cost, budgets)."""

    api_key: SecretStr | None = None
    base_url: str | None = Field(default=None, description="override for tests or a proxy")
    model: str = "gemini-2.5-flash"
    timeout_s: float = Field(default=120, gt=0)
