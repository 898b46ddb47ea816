"""Run one stream worker: connect to the broker, build the stages, start the faust worker."""

from __future__ import annotations

import asyncio

import faust
import structlog

from processors.config import Settings
from processors.errors import ReelscopeError
from processors.pipeline import Stages
from streams.admin import ensure_topics
from streams.app import StagesFactory, create_app
from streams.health import Health, serve

log = structlog.get_logger(__name__)


def stages_factory(settings: Settings) -> StagesFactory:
    """Build the stages once, on first use inside the worker's event loop."""
    made: list[Stages] = []
    lock = asyncio.Lock()

    async def get() -> Stages:
        async with lock:
            if not made:
                made.append(await Stages.build(settings))
            return made[0]

    return get


def metrics_host(settings: Settings) -> str:
    """Where the worker's /metrics listens: loopback unless set, or in production (a pod is
    scraped on its own address there)."""
    if settings.worker.web_host:
        return settings.worker.web_host
    return "0.0.0.0" if settings.environment == "production" else "127.0.0.1"  # noqa: S104


def run_worker(settings: Settings) -> None:
    """Block running the worker until SIGINT/SIGTERM."""
    bootstrap = settings.kafka.bootstrap
    if bootstrap == "embedded":
        msg = (
            "the worker needs a broker address: run `reelscope up` for the embedded broker, "
            "or set REELSCOPE_KAFKA__BOOTSTRAP=host:port"
        )
        raise ReelscopeError(msg)
    ensure_topics(
        bootstrap,
        partitions=settings.kafka.partitions,
        replication=settings.kafka.replication_factor,
        security=settings.kafka.security.client_options(),
    )
    health = Health(settings.worker.stall_s)
    if settings.worker.web_port:
        serve(health, metrics_host(settings), settings.worker.web_port)
    app = create_app(settings, bootstrap, stages_factory(settings), health=health)
    log.info(
        "worker_starting",
        metrics=f"{metrics_host(settings)}:{settings.worker.web_port}"
        if settings.worker.web_port
        else None,
        bootstrap=bootstrap,
        store=settings.store.url,
        analyzer=settings.analyzer_name,
    )
    worker = faust.Worker(app, loglevel=settings.log_level, override_logging=False, quiet=True)
    worker.execute_from_commandline()
