"""Review sessions: signed, HttpOnly, SameSite=Strict, expiring, and ended with their key."""

from __future__ import annotations

import time
from http.cookies import SimpleCookie

import pytest
from fastapi import Request, Response

from api.auth import KeyRing
from api.review.session import CSRF_COOKIE, SESSION_COOKIE, Sessions
from processors.apikeys import ApiKey, hash_key

REVIEWER = ApiKey(name="lead", sha256=hash_key("k1"), scopes=["review"], brands=["acme"])
READER = ApiKey(name="reader", sha256=hash_key("k2"), scopes=["results:read"], brands=["acme"])


def request_with(cookies: dict[str, str]) -> Request:
    header = "; ".join(f"{k}={v}" for k, v in cookies.items()).encode()
    return Request({"type": "http", "headers": [(b"cookie", header)], "method": "GET"})


def issued(sessions: Sessions, entry: ApiKey) -> tuple[dict[str, str], list[str]]:
    response = Response()
    sessions.issue(response, entry)
    raw = [v.decode() for k, v in response.raw_headers if k == b"set-cookie"]
    jar: SimpleCookie = SimpleCookie()
    for line in raw:
        jar.load(line)
    return {k: m.value for k, m in jar.items()}, raw


def test_a_session_names_its_key_and_its_brands() -> None:
    sessions = Sessions(b"s" * 32, 60, secure=True)
    cookies, raw = issued(sessions, REVIEWER)
    for line in raw:
        assert "HttpOnly" in line and "SameSite=strict" in line and "Secure" in line
        assert "Max-Age=60" in line and "Path=/review" in line
    who = sessions.signed_in(request_with(cookies), KeyRing([REVIEWER]))
    assert who is not None and who.name == "lead" and who.brands == frozenset({"acme"})


@pytest.mark.parametrize("spoil", ["tamper", "other_secret", "expired", "revoked", "no_scope"])
def test_a_spoiled_session_signs_nobody_in(spoil: str, monkeypatch: pytest.MonkeyPatch) -> None:
    sessions = Sessions(b"s" * 32, 60, secure=False)
    entry = READER if spoil == "no_scope" else REVIEWER
    cookies, _ = issued(sessions, entry)
    ring = KeyRing([READER] if spoil == "revoked" else [entry])
    if spoil == "tamper":
        data, _, mac = cookies[SESSION_COOKIE].partition(".")
        cookies[SESSION_COOKIE] = data[:-2] + ("AA" if data[-2:] != "AA" else "BB") + "." + mac
    if spoil == "other_secret":
        sessions = Sessions(b"t" * 32, 60, secure=False)
    if spoil == "expired":
        monkeypatch.setattr(time, "time", lambda: 10**10)
    assert sessions.signed_in(request_with(cookies), ring) is None


def test_the_csrf_token_is_bound_to_its_nonce_and_secret() -> None:
    sessions = Sessions(b"s" * 32, 60, secure=False)
    cookies, _ = issued(sessions, REVIEWER)
    token, new = sessions.csrf_for(request_with(cookies))
    assert new is None
    assert sessions.csrf_ok(request_with(cookies), token)
    assert not sessions.csrf_ok(request_with({CSRF_COOKIE: "another"}), token)
    assert not sessions.csrf_ok(request_with({}), token)
    assert not Sessions(b"t" * 32, 60, secure=False).csrf_ok(request_with(cookies), token)
