"""The API process's settings: the shared root (`processors.config`) plus the API's own options.

Keys are stored as sha256 hashes (`hash_key`), never in clear; production refuses to start an
API without them, and without them an API listens on loopback only (every caller would get
every scope).
"""

from __future__ import annotations

import hashlib
from typing import Literal

from pydantic import BaseModel, Field, model_validator

from processors import config

Scope = Literal["media:write", "results:read", "admin"]
LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})


class ApiKey(BaseModel):
    name: str
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$", description="sha256 hex of the key")
    scopes: list[Scope]


class ApiSettings(config.ApiListen):
    keys: list[ApiKey] = Field(default_factory=list)
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


def hash_key(key: str) -> str:
    """Hash an API key the way settings store it."""
    return hashlib.sha256(key.encode()).hexdigest()
