"""Sign-in for people: a key with the `review` scope, exchanged for a signed session cookie.

The session cookie holds the key's name, its sha256 and an expiry, signed with HMAC-SHA256; it
is HttpOnly, SameSite=Strict (Secure in production) and is checked on every request against the
keys the API knows now, so a key revoked, or replaced under the same name, ends its sessions at
once. The key itself never leaves the login form.

CSRF: a signed double-submit token. A random nonce lives in its own HttpOnly, SameSite=Strict
cookie; every state-changing form carries HMAC(secret, nonce), which only this server can
compute and only a page of this origin can have read. A post without both is refused.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass
from typing import Any

from fastapi import Request, Response

from api.auth import OPEN, KeyRing, Principal
from processors.apikeys import SCOPES, ApiKey

SESSION_COOKIE = "reelscope_session"
CSRF_COOKIE = "reelscope_csrf"
PAGE_SCOPES = frozenset({"review", "admin"})


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class Sessions:
    """Sign and read the review page's cookies."""

    secret: bytes
    ttl_s: float
    secure: bool

    def _mac(self, purpose: str, data: str) -> str:
        digest = hmac.new(self.secret, f"{purpose}:{data}".encode(), hashlib.sha256).digest()
        return _b64(digest)

    def issue(self, response: Response, entry: ApiKey) -> None:
        """Sign `entry` in: set the session cookie and a fresh CSRF nonce."""
        body = {"n": entry.name, "h": entry.sha256, "e": int(time.time() + self.ttl_s)}
        data = _b64(json.dumps(body, separators=(",", ":")).encode())
        self._set(response, SESSION_COOKIE, f"{data}.{self._mac('session', data)}", self.ttl_s)
        self._set(response, CSRF_COOKIE, secrets.token_urlsafe(24), self.ttl_s)

    def end(self, response: Response) -> None:
        for name in (SESSION_COOKIE, CSRF_COOKIE):
            response.delete_cookie(name, path="/review", httponly=True, samesite="strict")

    def signed_in(self, request: Request, ring: KeyRing) -> Principal | None:
        """The person signed in by a valid, unexpired session of a key the ring knows now."""
        body = self._read(request.cookies.get(SESSION_COOKIE, ""))
        if body is None or body.get("e", 0) < time.time():
            return None
        for entry in ring.keys():
            if entry.name == body.get("n") and hmac.compare_digest(entry.sha256, body.get("h", "")):
                if not PAGE_SCOPES.intersection(entry.scopes):
                    return None
                brands = frozenset(entry.brands) if entry.brands else None
                return Principal(entry.name, frozenset(entry.scopes), brands, entry)
        return None

    def csrf_for(self, request: Request) -> tuple[str, str | None]:
        """The token a page's forms carry, and the new nonce to set when the request had none."""
        nonce = request.cookies.get(CSRF_COOKIE)
        if nonce:
            return self.csrf_token(nonce), None
        fresh = secrets.token_urlsafe(24)
        return self.csrf_token(fresh), fresh

    def keep_nonce(self, response: Response, nonce: str) -> None:
        self._set(response, CSRF_COOKIE, nonce, self.ttl_s)

    def csrf_token(self, nonce: str) -> str:
        return self._mac("csrf", nonce)

    def csrf_ok(self, request: Request, submitted: str | None) -> bool:
        nonce = request.cookies.get(CSRF_COOKIE)
        if not nonce or not submitted:
            return False
        return hmac.compare_digest(self.csrf_token(nonce), submitted)

    def _read(self, cookie: str) -> dict[str, Any] | None:
        data, _, mac = cookie.partition(".")
        if not data or not hmac.compare_digest(self._mac("session", data), mac):
            return None
        try:
            body = json.loads(_unb64(data))
        except ValueError:
            return None
        return body if isinstance(body, dict) else None

    def _set(self, response: Response, name: str, value: str, max_age: float) -> None:
        response.set_cookie(
            name,
            value,
            max_age=int(max_age),
            path="/review",
            httponly=True,
            samesite="strict",
            secure=self.secure,
        )


def page_caller(request: Request, ring: KeyRing, sessions: Sessions) -> Principal | None:
    """Who is looking at the page: anyone when the API is open, else the signed-in person."""
    if ring.open:
        return Principal(OPEN, frozenset(SCOPES))
    return sessions.signed_in(request, ring)
