"""Dependencies, so route signatures read like prose: `rt: RuntimeDep, caller: Writer`."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import Depends, Header, Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from api.auth import Principal
from api.errors import BROKER, unavailable
from api.runtime import Runtime
from api.settings import Scope

# Declared for OpenAPI (the "Authorize" button in /docs); KeyRing does the actual checking.
_bearer = HTTPBearer(auto_error=False, description="Authorization: Bearer <API key>")
_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="the API key")


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


def require(*scopes: Scope) -> Any:
    """Build a dependency that authenticates the caller and requires one of `scopes`."""

    def check(
        request: Request,
        rt: RuntimeDep,
        _b: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)] = None,
        _k: Annotated[str | None, Security(_header)] = None,
    ) -> Principal:
        caller = rt.keys.check(request, scopes)
        rt.quotas.admit(caller)
        return caller

    return Depends(check)


Writer = Annotated[Principal, require("media:write")]
Reader = Annotated[Principal, require("results:read")]
BrandReader = Annotated[Principal, require("results:read", "admin")]
Admin = Annotated[Principal, require("admin")]


def upload_slot(rt: RuntimeDep, caller: Writer) -> Iterator[Principal]:
    """A writer holding one of its concurrent-upload slots for the whole request (429 if none)."""
    with rt.quotas.uploading(caller):
        yield caller


Uploader = Annotated[Principal, Depends(upload_slot)]


def require_broker(rt: RuntimeDep) -> None:
    """Refuse (503) before reading a body when the broker is not connected."""
    if not rt.publisher.connected:
        raise unavailable(BROKER)


BrokerReady = Depends(require_broker)


IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        max_length=255,
        description="retries with the same key and bytes map to the same media_id",
    ),
]
