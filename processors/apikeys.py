"""API keys: what a key may do (scopes), for which brands, and how much (quotas).

Keys come from two places. Configured keys (`REELSCOPE_API__KEYS`) change with a redeploy;
stored keys are made and revoked with `reelscope keys` and live in the bucket as sha256 hashes
(`processors.keys.api_key_key`), so an operator manages them without one: every API replica
lists them again every few seconds. Neither place ever holds a key in clear.

A key without brands reaches every brand, so only an `admin` key may go without them.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from datetime import UTC, datetime
from typing import Literal

import structlog
from pydantic import AwareDatetime, BaseModel, Field, ValidationError, model_validator

from processors.errors import ObjectNotFound, ReelscopeError
from processors.keys import API_KEYS_PREFIX, api_key_key
from processors.storage import Store
from schemas.fields import BrandId

log = structlog.get_logger(__name__)

# review: sign in to the review page (`/review`) and approve or reject the key's brands' media
Scope = Literal["media:write", "results:read", "review", "admin"]
SCOPES: tuple[Scope, ...] = ("media:write", "results:read", "review", "admin")
KEY_NAME = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
SECRET_PREFIX = "rsk_"  # says what a leaked string is, for secret scanners and people


class ApiKey(BaseModel):
    """One key: its name (in logs, never the key), hash, scopes, brands and quotas."""

    name: str = Field(pattern=KEY_NAME)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$", description="sha256 hex of the key")
    scopes: list[Scope] = Field(min_length=1)
    brands: list[BrandId] = Field(
        default_factory=list, description="brands it may touch; empty: all (admin keys only)"
    )
    rate_per_s: float | None = Field(
        default=None, gt=0, description="requests per second (default: the API's)"
    )
    burst: int | None = Field(default=None, ge=1, description="requests above the rate at once")
    concurrent_uploads: int | None = Field(default=None, ge=1)
    bytes_per_day: int | None = Field(default=None, ge=1, description="upload bytes, UTC day")

    @model_validator(mode="after")
    def _all_brands_needs_admin(self) -> ApiKey:
        if not self.brands and "admin" not in self.scopes:
            msg = (
                f"key {self.name!r} has no brands, so it would reach every brand's media: "
                "list its brands, or give it the admin scope"
            )
            raise ValueError(msg)
        return self


class StoredKey(ApiKey):
    created_at: AwareDatetime


class KeyExists(ReelscopeError):
    pass


def hash_key(key: str) -> str:
    """Hash an API key the way keys are stored and configured."""
    return hashlib.sha256(key.encode()).hexdigest()


def create_key(
    store: Store,
    name: str,
    scopes: list[Scope],
    brands: list[str],
    **quotas: float | int | None,
) -> tuple[str, StoredKey]:
    """Make a key, store its hash (never twice under one name) and return the key once."""
    secret = SECRET_PREFIX + secrets.token_urlsafe(32)
    entry = StoredKey.model_validate(
        {
            "name": name,
            "sha256": hash_key(secret),
            "scopes": scopes,
            "brands": brands,
            "created_at": datetime.now(UTC),
            **{k: v for k, v in quotas.items() if v is not None},
        }
    )
    if not store.create_bytes(api_key_key(name), entry.model_dump_json().encode()):
        msg = f"a stored key is named {name!r} already: revoke it first, or choose another name"
        raise KeyExists(msg)
    return secret, entry


def stored_keys(store: Store) -> list[StoredKey]:
    """Every stored key; an unreadable entry is logged and left out (it grants nothing)."""
    found: list[StoredKey] = []
    for key in sorted(store.list(API_KEYS_PREFIX)):
        try:
            found.append(StoredKey.model_validate_json(store.get_bytes(key)))
        except ObjectNotFound:
            continue  # revoked between the listing and the read
        except (ValidationError, json.JSONDecodeError) as e:
            log.warning("stored_key_unreadable", key=key, error=str(e)[:200])
    return found


def revoke_key(store: Store, name: str) -> bool:
    """Delete a stored key; False if there was none of that name."""
    key = api_key_key(name)
    if not store.exists(key):
        return False
    store.delete(key)
    return True
