"""Liveness, readiness and metrics: what Kubernetes and Prometheus poll."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse

from api.deps import RuntimeDep
from api.errors import ApiError
from processors.errors import StorageError

router = APIRouter(tags=["health"])

PROBE_KEY = "healthz/probe"


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is alive and its event loop answers."""
    return {"status": "ok"}


async def _bucket_ok(rt: RuntimeDep) -> bool:
    try:
        await asyncio.wait_for(asyncio.to_thread(rt.store.exists, PROBE_KEY), 5)
    except (StorageError, OSError, TimeoutError):
        return False
    return True


@router.get("/readyz", responses={503: {"description": "a dependency is unreachable"}})
async def readyz(rt: RuntimeDep) -> JSONResponse:
    """Ready when the producer is connected and the bucket answers; 503 otherwise."""
    checks = {"broker": await rt.publisher.ping(), "bucket": await _bucket_ok(rt)}
    ok = all(checks.values())
    body = {"status": "ready" if ok else "not_ready", "checks": checks}
    return JSONResponse(body, status_code=200 if ok else 503)


@router.get("/metrics", include_in_schema=False)
async def metrics(rt: RuntimeDep) -> Response:
    """Prometheus text exposition of this process's metrics (if they have no port of their own)."""
    port = rt.settings.metrics_port
    if port is not None:
        msg = f"metrics are served on port {port}, not here"
        raise ApiError(404, "not_found", msg, f"scrape http://<host>:{port}/metrics")
    return Response(rt.metrics.render(), media_type=rt.metrics.content_type)
