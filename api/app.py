"""Build the FastAPI app: `create_app(settings)`; with no arguments it reads the environment.

    uvicorn api.app:create_app --factory --host 0.0.0.0 --port 8080

The Kafka producer and the results follower start in the lifespan; a broker that is down at
start does not stop the app (it answers 503 and /readyz says why until the broker is back).
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from wsgiref.simple_server import WSGIServer

import structlog
from fastapi import FastAPI, Request
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from prometheus_client import start_http_server
from pydantic import ValidationError

from api import errors, logs
from api.auth import KeyRing
from api.heavy import HeavyWork
from api.metrics import Metrics
from api.models import GenerationRequest, error_responses
from api.publisher import Publisher
from api.quotas import Quotas
from api.results import RecentDecisions, RecentResults, ResultsFollower
from api.review.session import Sessions
from api.routers import analytics, evidence, generations, health, media, profiles, review
from api.runtime import LakeReader, Runtime
from api.settings import Settings
from api.unread import CloseUnreadBodies
from processors.apikeys import SCOPES
from processors.logs import configure
from processors.storage import Store
from schemas.profiles import BrandRules

log = structlog.get_logger("reelscope.api")


def _default_lake(store: Store) -> LakeReader:
    from processors.lake.query import Lake

    lake: LakeReader = Lake(store)
    return lake


def build_runtime(
    settings: Settings,
    *,
    store: Store | None = None,
    lake: LakeReader | None = None,
    upload_dir: Path | None = None,
    publisher: Publisher | None = None,
) -> Runtime:
    """Assemble the process's parts from settings; injected parts win (tests, embedding)."""
    if settings.kafka.bootstrap == "embedded":
        msg = (
            "the API needs a broker address (REELSCOPE_KAFKA__BOOTSTRAP=host:port); "
            "`reelscope up` starts the embedded broker and passes its address"
        )
        raise ValueError(msg)
    store = store or settings.store.open()
    return Runtime(
        settings=settings,
        store=store,
        publisher=publisher
        or Publisher(
            settings.kafka.bootstrap,
            client_id=settings.producer_id,
            security=settings.kafka.security.client_options(),
        ),
        lake=lake or _default_lake(store),
        recent=RecentResults(settings.api.recent_results),
        decisions=RecentDecisions(settings.api.recent_results),
        keys=KeyRing(settings.api.keys, store, refresh_s=settings.api.keys_refresh_s),
        quotas=Quotas(
            rate_per_s=settings.api.default_rate_per_s,
            burst=settings.api.default_burst,
            concurrent_uploads=settings.api.default_concurrent_uploads,
            bytes_per_day=settings.api.default_bytes_per_day,
        ),
        metrics=Metrics(),
        upload_dir=upload_dir or Path(tempfile.gettempdir()) / "reelscope-uploads",
        heavy=HeavyWork(settings.api.heavy_threads, settings.api.heavy_queue),
        sessions=Sessions(
            _session_secret(settings),
            settings.api.session_ttl_s,
            settings.environment == "production",
        ),
    )


def _session_secret(settings: Settings) -> bytes:
    """The configured secret, or a random one: sessions then last as long as the process."""
    secret = settings.api.session_secret
    return secret.get_secret_value().encode() if secret else secrets.token_bytes(32)


def _lifespan(rt: Runtime) -> Any:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        rt.upload_dir.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(*errors.STORE_ERRORS):  # a bucket down at start: follow retries
            await asyncio.to_thread(rt.keys.refresh)
        keys = asyncio.create_task(rt.keys.follow())
        exporter = _serve_metrics(rt)
        await rt.publisher.start()
        follower = None
        if rt.recent.capacity > 0:
            follower = ResultsFollower(
                rt.settings.kafka.bootstrap,
                rt.recent,
                rt.decisions,
                security=rt.settings.kafka.security.client_options(),
                fetch_wait_ms=rt.settings.kafka.fetch_wait_ms,
            )
            follower.start()
        app.state.follower = follower
        log.info("api_started", store=rt.store.url, open=rt.keys.open)
        if rt.keys.open:
            log.warning(
                "api_without_keys",
                detail="no API keys: every caller gets every scope, so the API listens on "
                "loopback only; set REELSCOPE_API__KEYS to serve other hosts",
            )
        try:
            yield
        finally:
            keys.cancel()
            if exporter is not None:
                exporter.shutdown()
            if follower is not None:
                await follower.stop()
            await rt.publisher.stop()
            rt.heavy.shutdown()

    return lifespan


def _serve_metrics(rt: Runtime) -> WSGIServer | None:
    """/metrics on its own port (production's default), where no API client reaches it."""
    port = rt.settings.metrics_port
    if port is None:
        return None
    server, _ = start_http_server(port, addr=rt.settings.api.host, registry=rt.metrics.registry)
    log.info("metrics_listening", host=rt.settings.api.host, port=port)
    return server


def _keyed_openapi(app: FastAPI, rt: Runtime) -> None:
    """The schema for callers with a key (production): it maps every route an attacker could
    try, so it is not handed out to anyone; the interactive docs are development's."""

    @app.get("/openapi.json", include_in_schema=False, responses=error_responses(401))
    async def openapi(request: Request) -> JSONResponse:
        rt.keys.check(request, SCOPES)
        return JSONResponse(app.openapi())


def _openapi(app: FastAPI) -> dict[str, Any]:
    """The generated schema plus the models of bodies that routes parse themselves."""
    if app.openapi_schema is None:
        schema = get_openapi(
            title=app.title, version=app.version, routes=app.routes, description=app.description
        )
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        for model in (GenerationRequest, BrandRules):
            extra = model.model_json_schema(ref_template="#/components/schemas/{model}")
            components.update(extra.pop("$defs", {}))
            components[model.__name__] = extra
        app.openapi_schema = schema
    return app.openapi_schema


def settings_or_exit() -> Settings:
    """The API's settings, or exit with what is wrong in them (no traceback for a config)."""
    try:
        return Settings()
    except ValidationError as e:
        problems = "; ".join(err["msg"].removeprefix("Value error, ") for err in e.errors())
        msg = f"reelscope api: {problems}"
        raise SystemExit(msg) from None


def create_app(
    settings: Settings | None = None,
    *,
    store: Store | None = None,
    lake: LakeReader | None = None,
    upload_dir: Path | None = None,
    publisher: Publisher | None = None,
    configure_logging: bool = True,
) -> FastAPI:
    """Build the API; parts not injected are made from `settings` (default: the environment).

    `configure_logging=False` leaves logging to a host that embeds the app (tests, notebooks).
    """
    settings = settings or settings_or_exit()
    if configure_logging:
        configure(settings.log_level)
    rt = build_runtime(settings, store=store, lake=lake, upload_dir=upload_dir, publisher=publisher)
    public = settings.public_docs
    app = FastAPI(
        title="reelscope",
        version="1",
        lifespan=_lifespan(rt),
        description="Upload media and generation events; read brand checks and analyses.",
        docs_url="/docs" if public else None,
        redoc_url="/redoc" if public else None,
        openapi_url="/openapi.json" if public else None,
    )
    app.state.runtime = rt
    if not public:
        _keyed_openapi(app, rt)
    errors.install(app, pages=("/review", review.error_page))
    app.mount("/review/static", StaticFiles(directory=review.PAGES / "static"), name="static")
    routers = (media, evidence, generations, profiles, analytics, health, review)
    for module in routers:
        app.include_router(module.router)
    rt.metrics.expect_routes(
        (method, r.path)
        for module in routers
        for r in module.router.routes
        if isinstance(r, APIRoute)
        for method in r.methods or ()
    )
    app.add_middleware(CloseUnreadBodies)
    app.add_middleware(logs.RequestObserver, metrics=rt.metrics)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app
