"""Configuration: one settings model for every reelscope process, read once at start.

Environment variables use the prefix `REELSCOPE_` and `__` for nesting, e.g.
`REELSCOPE_KAFKA__BOOTSTRAP=kafka:9092`, `REELSCOPE_STORE__URL=s3://media-bucket`,
`REELSCOPE_GEMINI__API_KEY=…`. Nothing reads the environment at import time.
"""

from __future__ import annotations

import hashlib
from typing import Literal

from pydantic import BaseModel, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from processors.analyzers.gemini.options import GeminiOptions
from processors.storage import StoreSettings

Scope = Literal["media:write", "results:read", "admin"]


class KafkaSettings(BaseModel):
    bootstrap: str = Field(
        default="embedded",
        description="host:port[,host:port]; 'embedded' starts the bundled Tansu broker",
    )
    partitions: int = Field(default=6, ge=1)
    replication_factor: int = Field(default=1, ge=1)
    consumer_group: str = "reelscope-worker"
    rebalance_timeout_s: float = Field(default=3, gt=0, description="short for fast local joins")
    session_timeout_s: float = Field(default=6, gt=0)
    heartbeat_s: float = Field(default=1, gt=0)


class LimitSettings(BaseModel):
    """Hard limits on untrusted media; anything beyond them is refused, not attempted."""

    max_upload_bytes: int = Field(default=512 * 1024 * 1024, ge=1)
    max_duration_s: float = Field(default=15 * 60, gt=0)
    max_pixels: int = Field(default=8192 * 8192, gt=0)
    decode_timeout_s: float = Field(default=120, gt=0)
    decoder_memory_mb: int = Field(default=2048, ge=64)


class GeminiSettings(GeminiOptions):
    """The key and model, plus every option of the analyzer (media, faults, cost, budgets)."""

    api_key: SecretStr | None = None
    base_url: str | None = Field(default=None, description="override for tests or a proxy")
    model: str = "gemini-2.5-flash"
    timeout_s: float = Field(default=120, gt=0)


class AnalyzerSettings(BaseModel):
    name: Literal["auto", "local", "gemini"] = Field(
        default="auto", description="'auto' picks gemini when an API key is configured"
    )
    concurrency: int = Field(default=8, ge=1)


class WorkerSettings(BaseModel):
    check_processes: int = Field(default=2, ge=1, description="OpenCV/ffmpeg worker processes")
    lake_flush_seconds: float = Field(default=2.0, gt=0)
    lake_max_rows: int = Field(default=10_000, ge=1)
    lake_rotate_seconds: int = Field(
        default=3600, ge=1, description="a lake file holds at most this much record time"
    )
    sample_frames: int = Field(default=8, ge=1, le=120)
    web_port: int = Field(default=6066, ge=0, description="worker /metrics port (0: off)")
    join_ttl_s: float = Field(
        default=3600,
        gt=0,
        description="a brand check or analysis waits this long for its other half, then is "
        "dead-lettered (longer than the worst backlog between the two stages)",
    )


class ReconcileSettings(BaseModel):
    """The reconciler: re-emits ledger media with neither a result nor a dead letter."""

    enabled: bool = Field(default=True, description="run it on the leader worker")
    interval_s: float = Field(default=60, gt=0, description="seconds between runs")
    older_than_s: float = Field(
        default=300,
        ge=0,
        description="grace period: longer than a media's way through the pipeline + lake flush",
    )
    lookback_days: int = Field(default=7, ge=1, description="ledger days listed by each run")


class ApiKey(BaseModel):
    name: str
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$", description="sha256 hex of the key")
    scopes: list[Scope]


class ApiSettings(BaseModel):
    host: str = "127.0.0.1"
    port: int = 8080
    keys: list[ApiKey] = Field(default_factory=list)
    recent_results: int = Field(default=10_000, ge=0, description="results kept in memory")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="REELSCOPE_", env_nested_delimiter="__", extra="ignore"
    )

    environment: Literal["development", "production"] = "development"
    producer_id: str = "reelscope"
    log_level: str = "INFO"
    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
    store: StoreSettings = Field(default_factory=StoreSettings)
    limits: LimitSettings = Field(default_factory=LimitSettings)
    gemini: GeminiSettings = Field(default_factory=GeminiSettings)
    analyzer: AnalyzerSettings = Field(default_factory=AnalyzerSettings)
    worker: WorkerSettings = Field(default_factory=WorkerSettings)
    reconcile: ReconcileSettings = Field(default_factory=ReconcileSettings)
    api: ApiSettings = Field(default_factory=ApiSettings)

    @model_validator(mode="after")
    def _production_needs_keys(self) -> Settings:
        if self.environment == "production" and not self.api.keys:
            msg = "production needs API keys: set REELSCOPE_API__KEYS (sha256 of each key)"
            raise ValueError(msg)
        return self

    @property
    def analyzer_name(self) -> Literal["local", "gemini"]:
        if self.analyzer.name == "auto":
            return "gemini" if self.gemini.api_key else "local"
        return self.analyzer.name


def hash_key(key: str) -> str:
    """Hash an API key the way settings store it."""
    return hashlib.sha256(key.encode()).hexdigest()
