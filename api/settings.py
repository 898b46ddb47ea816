"""The API process's settings: the shared root (`processors.config`) plus the API's own options.

Keys are stored as sha256 hashes (`hash_key`), never in clear; production refuses to start an
API without them, and without them an API listens on loopback only (every caller would get
every scope).
"""

from __future__ import annotations

from pydantic import Field, SecretStr, model_validator

from processors import config
from processors.apikeys import ApiKey, Scope, hash_key

__all__ = ["LOOPBACK", "ApiKey", "ApiSettings", "Scope", "Settings", "hash_key"]
LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})
PRODUCTION_METRICS_PORT = 9464  # Prometheus exporters' customary range; not the API's port


class ApiSettings(config.ApiListen):
    keys: list[ApiKey] = Field(default_factory=list)
    metrics_port: int | None = Field(
        default=None,
        ge=1,
        le=65535,
        description="serve /metrics on this port of api.host, not on the API's "
        f"(default: the API's port in development, {PRODUCTION_METRICS_PORT} in production)",
    )
    keys_refresh_s: float = Field(
        default=2.0, gt=0, description="how often stored keys (`reelscope keys`) are listed"
    )
    recent_results: int = Field(default=10_000, ge=0, description="results kept in memory")
    heavy_threads: int = Field(default=2, ge=1, description="threads for renders and scans")
    heavy_queue: int = Field(default=16, ge=0, description="renders and scans that may wait")
    body_idle_timeout_s: float = Field(
        default=30, gt=0, description="a request body that pauses this long is refused (408)"
    )
    body_timeout_s: float = Field(
        default=900, gt=0, description="a request body still arriving after this is refused"
    )
    not_found_floor_s: float = Field(
        default=0.2,
        ge=0,
        description="a media 404 is answered no sooner than this, so its timing does not tell "
        "an unknown id from another tenant's media (found sooner, in the recent results)",
    )
    session_secret: SecretStr | None = Field(
        default=None,
        min_length=32,
        description="signs the review page's session and CSRF cookies: one shared value on "
        "every replica, at least 32 characters (development default: random per process, so "
        "sessions end with a restart; production refuses to start without it)",
    )
    session_ttl_s: float = Field(
        default=8 * 3600, gt=0, le=7 * 86400, description="a review session's lifetime"
    )
    # quotas of a key that sets none of its own (per replica: see api.quotas)
    default_rate_per_s: float = Field(default=20.0, gt=0, description="requests per second")
    default_burst: int = Field(default=40, ge=1, description="requests above the rate at once")
    default_concurrent_uploads: int | None = Field(default=8, ge=1)
    default_bytes_per_day: int | None = Field(
        default=None, ge=1, description="upload bytes per UTC day (None: unlimited)"
    )


class Settings(config.Settings):
    api: ApiSettings = Field(default_factory=ApiSettings)

    @property
    def metrics_port(self) -> int | None:
        """Where /metrics is served apart from the API (None: on the API's own port)."""
        if self.api.metrics_port is None and self.environment == "production":
            return PRODUCTION_METRICS_PORT
        return self.api.metrics_port

    @property
    def public_docs(self) -> bool:
        """Whether /docs and /openapi.json answer without a key (development only)."""
        return self.environment != "production"

    @model_validator(mode="after")
    def _production_needs_keys(self) -> Settings:
        if self.environment == "production" and not self.api.keys:
            msg = "production needs API keys: set REELSCOPE_API__KEYS (sha256 of each key)"
            raise ValueError(msg)
        if self.environment == "production" and self.api.session_secret is None:
            msg = (
                "production needs REELSCOPE_API__SESSION_SECRET (32+ characters, the same on "
                "every API replica): without it each replica signs the review page's sessions "
                "with its own key, and a person signed in on one is signed out on the next"
            )
            raise ValueError(msg)
        if not self.api.keys and self.api.host not in LOOPBACK:
            msg = (
                f"REELSCOPE_API__HOST={self.api.host} without API keys would give every caller "
                "on the network every scope: set REELSCOPE_API__KEYS, or listen on 127.0.0.1"
            )
            raise ValueError(msg)
        return self
