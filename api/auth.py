"""API keys with scopes and brands: `Authorization: Bearer <key>` or `X-API-Key: <key>`.

A presented key is hashed and compared in constant time against every known hash: the keys
configured in settings and the keys stored in the bucket (`reelscope keys`), which `KeyRing`
lists again every `keys_refresh_s`, so a revoked key stops working within seconds on every
replica. No key -> 401, a key without the scope -> 403, another brand -> 403 (or 404 for a
media id: a tenant does not learn that another's media exists). With no key anywhere
(development on loopback; Settings refuses that elsewhere) the API is open.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import time
from dataclasses import dataclass

import structlog
from fastapi import Request

from api.errors import STORE_ERRORS, ApiError, invalid
from processors.apikeys import ApiKey, Scope, hash_key, stored_keys
from processors.storage import Store

log = structlog.get_logger("reelscope.api.auth")

OPEN = "anonymous"


def forbidden_brand(brand_id: str) -> ApiError:
    return ApiError(
        403,
        "forbidden",
        f"this key is not for brand {brand_id!r}",
        "use a key bound to that brand, or leave brand_id out to see your own brands",
    )


@dataclass(frozen=True)
class Principal:
    """Who called: the key's name (never the key), scopes, brands (None: every brand), entry."""

    name: str
    scopes: frozenset[str]
    brands: frozenset[str] | None = None
    key: ApiKey | None = None  # None when the API is open

    def sees(self, brand_id: str | None) -> bool:
        return self.brands is None or brand_id in self.brands

    def require_brand(self, brand_id: str) -> None:
        if not self.sees(brand_id):
            raise forbidden_brand(brand_id)

    def brand_filter(self, asked: str | None) -> list[str] | None:
        """The brands a read covers: the one asked for (403 if not this key's), else every
        brand of the key (None: every brand there is)."""
        if asked is not None:
            self.require_brand(asked)
            return [asked]
        return None if self.brands is None else sorted(self.brands)

    def upload_brand(self, asked: str | None) -> str | None:
        """The brand an upload is for: the one asked for, or the key's only brand."""
        if self.brands is None:
            return asked
        if asked is None:
            if len(self.brands) == 1:
                return next(iter(self.brands))
            mine = ", ".join(sorted(self.brands))
            msg = "brand_id is required: this key uploads for several brands"
            raise invalid(msg, field="brand_id", hint=f"pass one of {mine}")
        self.require_brand(asked)
        return asked


def presented_key(request: Request) -> str | None:
    """Return the key from `Authorization: Bearer` or `X-API-Key`, if any."""
    auth = request.headers.get("authorization", "")
    scheme, _, token = auth.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return request.headers.get("x-api-key") or None


class KeyRing:
    """The configured and the stored keys; `check` turns a request into a Principal or refuses.

    Stored keys are trusted while their last listing is younger than `stale_s`: a bucket that
    stops answering cannot keep a revoked key alive for longer. Once any key was known, the ring
    never turns open again (a failed listing must not look like "no keys").
    """

    def __init__(
        self,
        configured: list[ApiKey],
        store: Store | None = None,
        *,
        refresh_s: float = 2.0,
        stale_s: float = 30.0,
    ) -> None:
        self.configured = list(configured)
        self.store = store
        self.refresh_s = refresh_s
        self.stale_s = stale_s
        self._stored: dict[str, ApiKey] = {}
        self._listed_at: float | None = None
        self._ever_keyed = bool(self.configured)

    @property
    def open(self) -> bool:
        return not self._ever_keyed

    def keys(self) -> list[ApiKey]:
        fresh = self._listed_at is not None and time.monotonic() - self._listed_at <= self.stale_s
        return self.configured + (list(self._stored.values()) if fresh else [])

    def refresh(self) -> None:
        """List the stored keys again (blocking; the bucket's errors propagate)."""
        if self.store is None:
            return
        entries = stored_keys(self.store)
        self._stored = {e.name: e for e in entries}
        self._listed_at = time.monotonic()
        if entries and not self._ever_keyed:
            self._ever_keyed = True
            log.info("api_keys_stored", keys=len(entries), detail="the API now needs a key")

    async def follow(self) -> None:
        """Refresh every `refresh_s` until cancelled; a failure keeps the last listing."""
        while True:
            with contextlib.suppress(*STORE_ERRORS):
                await asyncio.to_thread(self.refresh)
            await asyncio.sleep(self.refresh_s)

    def identify(self, key: str) -> ApiKey | None:
        digest = hash_key(key)
        found: ApiKey | None = None
        for candidate in self.keys():  # compare with every key: timing does not tell which
            if hmac.compare_digest(digest, candidate.sha256):
                found = candidate
        return found

    def check(self, request: Request, scopes: tuple[Scope, ...]) -> Principal:
        """Authenticate the request and require any one of `scopes`."""
        if self.open:
            return Principal(OPEN, frozenset(scopes))
        key = presented_key(request)
        entry = self.identify(key) if key else None
        if entry is None:
            raise ApiError(
                401,
                "unauthorized",
                "a valid API key is required",
                "send 'Authorization: Bearer <key>' or 'X-API-Key: <key>'",
                headers={"WWW-Authenticate": "Bearer"},
            )
        if not set(entry.scopes).intersection(scopes):
            raise ApiError(
                403,
                "forbidden",
                f"this key lacks the scope {' or '.join(scopes)}",
                "use a key that has the scope, or ask an operator to grant it",
            )
        brands = frozenset(entry.brands) if entry.brands else None
        return Principal(entry.name, frozenset(entry.scopes), brands, entry)
