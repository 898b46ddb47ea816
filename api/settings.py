"""The API process's settings: the shared root (`processors.config`) plus the API's own options.

Keys are stored as sha256 hashes (`hash_key`), never in clear; production refuses to start an
API without them, and without them an API listens on loopback only (every caller would get
every scope).
"""

from __future__ import annotations

from pydantic import Field, model_validator

from processors import config
from processors.apikeys import ApiKey, Scope, hash_key

__all__ = ["LOOPBACK", "ApiKey", "ApiSettings", "Scope", "Settings", "hash_key"]
LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})


class ApiSettings(config.ApiListen):
    keys: list[ApiKey] = Field(default_factory=list)
    keys_refresh_s: float = Field(
        default=2.0, gt=0, description="how often stored keys (`reelscope keys`) are listed"
    )
    recent_results: int = Field(default=10_000, ge=0, description="results kept in memory")


class Settings(config.Settings):
    api: ApiSettings = Field(default_factory=ApiSettings)

    @model_validator(mode="after")
    def _production_needs_keys(self) -> Settings:
        if self.environment == "production" and not self.api.keys:
            msg = "production needs API keys: set REELSCOPE_API__KEYS (sha256 of each key)"
            raise ValueError(msg)
        if not self.api.keys and self.api.host not in LOOPBACK:
            msg = (
                f"REELSCOPE_API__HOST={self.api.host} without API keys would give every caller "
                "on the network every scope: set REELSCOPE_API__KEYS, or listen on 127.0.0.1"
            )
            raise ValueError(msg)
        return self
