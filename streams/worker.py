"""Run one stream worker: connect to the broker, build the stages, start the faust worker."""

from __future__ import annotations

import asyncio
from uuid import UUID

import faust
import structlog
from prometheus_client import start_http_server

from processors.analyzers.local import ThumbnailSink
from processors.analyzers.registry import create_analyzer
from processors.brand.profiles import BrandCache
from processors.config import Settings
from processors.errors import ReelscopeError
from processors.storage import Store, open_store
from streams.admin import ensure_topics
from streams.app import StagesFactory, create_app
from streams.stages import MediaFiles, RenewingPool, Stages

log = structlog.get_logger(__name__)


def _warm(_: int) -> None:
    """Import the heavy modules in a pool process before the first event needs them."""
    import processors.brand  # noqa: F401


def thumbnail_sink(store: Store) -> ThumbnailSink:
    """Store thumbnails next to the media: `thumbs/<media_id>.jpg`."""

    async def put(media_id: UUID, jpeg: bytes) -> str:
        key = f"thumbs/{media_id}.jpg"
        await asyncio.to_thread(store.put_bytes, key, jpeg)
        return key

    return put


def stages_factory(settings: Settings) -> StagesFactory:
    """Build the stages once, on first use inside the worker's event loop."""
    made: list[Stages] = []
    lock = asyncio.Lock()

    async def get() -> Stages:
        async with lock:
            if not made:
                pool = RenewingPool(settings.worker.check_processes)
                loop = asyncio.get_running_loop()
                await asyncio.gather(
                    *(
                        loop.run_in_executor(pool, _warm, i)
                        for i in range(settings.worker.check_processes)
                    )
                )
                store = open_store(
                    settings.store.url,
                    endpoint_url=settings.store.endpoint_url,
                    region=settings.store.region,
                )
                made.append(
                    Stages(
                        settings=settings,
                        store=store,
                        analyzer=create_analyzer(
                            settings, executor=pool, thumbnails=thumbnail_sink(store)
                        ),
                        pool=pool,
                        files=MediaFiles(store),
                        brands=BrandCache(store),
                    )
                )
            return made[0]

    return get


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
    )
    if settings.worker.web_port:
        start_http_server(settings.worker.web_port, addr="0.0.0.0")  # noqa: S104
    app = create_app(settings, bootstrap, stages_factory(settings))
    log.info(
        "worker_starting",
        bootstrap=bootstrap,
        store=settings.store.url,
        analyzer=settings.analyzer_name,
    )
    worker = faust.Worker(app, loglevel=settings.log_level, override_logging=False, quiet=True)
    worker.execute_from_commandline()
