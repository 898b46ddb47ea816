"""API keys with scopes: `Authorization: Bearer <key>` or `X-API-Key: <key>`.

Keys are configured as sha256 hex only; a presented key is hashed and compared in constant
time against every configured hash. No key -> 401, a key without the scope -> 403. With no
keys configured (development only; Settings refuses that in production) the API is open.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass

import structlog
from fastapi import Request

from api.errors import ApiError
from api.settings import ApiKey, Scope, hash_key

log = structlog.get_logger("reelscope.api.auth")

OPEN = "anonymous"


@dataclass(frozen=True)
class Principal:
    """Who called: the configured key's name (never the key) and its scopes."""

    name: str
    scopes: frozenset[str]


def presented_key(request: Request) -> str | None:
    """Return the key from `Authorization: Bearer` or `X-API-Key`, if any."""
    auth = request.headers.get("authorization", "")
    scheme, _, token = auth.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return request.headers.get("x-api-key") or None


class KeyRing:
    """The configured keys; `check` turns a request into a Principal or raises 401/403."""

    def __init__(self, keys: list[ApiKey]) -> None:
        self.keys = list(keys)
        if not self.keys:
            log.warning("api_open", reason="no API keys configured; every request is allowed")

    @property
    def open(self) -> bool:
        return not self.keys

    def identify(self, key: str) -> Principal | None:
        digest = hash_key(key)
        found: ApiKey | None = None
        for candidate in self.keys:  # compare with every key: timing does not tell which matched
            if hmac.compare_digest(digest, candidate.sha256):
                found = candidate
        return Principal(found.name, frozenset(found.scopes)) if found else None

    def check(self, request: Request, scopes: tuple[Scope, ...]) -> Principal:
        """Authenticate the request and require any one of `scopes`."""
        if self.open:
            return Principal(OPEN, frozenset(scopes))
        key = presented_key(request)
        principal = self.identify(key) if key else None
        if principal is None:
            raise ApiError(
                401,
                "unauthorized",
                "a valid API key is required",
                "send 'Authorization: Bearer <key>' or 'X-API-Key: <key>'",
                headers={"WWW-Authenticate": "Bearer"},
            )
        if not principal.scopes.intersection(scopes):
            raise ApiError(
                403,
                "forbidden",
                f"this key lacks the scope {' or '.join(scopes)}",
                "use a key that has the scope, or ask an operator to grant it",
            )
        return principal
