"""The API's Kafka producer: acks from all in-sync replicas, reconnects in the background.

The producer is neither idempotent nor transactional (Tansu supports neither); delivery is
at-least-once and every consumer de-duplicates on media_id. `publish` returns only after the
broker acknowledged the record, and raises `BrokerUnavailable` otherwise, never hangs longer
than `timeout_s`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping
from typing import Any

import structlog
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from processors.errors import ReelscopeError
from processors.logs import trace_headers

log = structlog.get_logger("reelscope.api.publisher")
MAX_RETRY_S = 10.0


class BrokerUnavailable(ReelscopeError):
    """The broker did not acknowledge a record (down, unreachable or too slow)."""


class Publisher:
    """Own one AIOKafkaProducer; start it lazily and keep trying while the broker is down."""

    def __init__(
        self,
        bootstrap: str,
        *,
        client_id: str = "reelscope-api",
        timeout_s: float = 10.0,
        retry_s: float = 2.0,
        security: Mapping[str, Any] | None = None,
    ) -> None:
        self.bootstrap = bootstrap
        self.security = dict(security or {})
        self.client_id = client_id
        self.timeout_s = timeout_s
        self.retry_s = retry_s
        self._producer: AIOKafkaProducer | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def connected(self) -> bool:
        return self._producer is not None

    async def start(self) -> None:
        """Try to connect once now, then keep trying in the background until it works."""
        if not await self._connect_once():
            self._task = asyncio.create_task(self._reconnect(), name="publisher-reconnect")

    async def _connect_once(self) -> bool:
        producer = AIOKafkaProducer(
            bootstrap_servers=self.bootstrap,
            client_id=self.client_id,
            acks="all",
            enable_idempotence=False,
            request_timeout_ms=int(self.timeout_s * 1000),
            linger_ms=0,
            **self.security,
        )
        try:
            await asyncio.wait_for(producer.start(), self.timeout_s)
        except (KafkaError, OSError, TimeoutError) as e:
            log.warning("broker_unreachable", bootstrap=self.bootstrap, error=type(e).__name__)
            with contextlib.suppress(Exception):
                await producer.stop()
            return False
        self._producer = producer
        log.info("broker_connected", bootstrap=self.bootstrap)
        return True

    async def _reconnect(self) -> None:
        delay = self.retry_s
        while not await self._connect_once():
            await asyncio.sleep(delay)
            delay = min(delay * 2, MAX_RETRY_S)

    async def publish(self, topic: str, key: bytes, value: bytes) -> None:
        """Send one record, with the trace of this context, and wait for the broker's
        acknowledgement."""
        producer = self._producer
        if producer is None:
            msg = f"not connected to the broker at {self.bootstrap}"
            raise BrokerUnavailable(msg)
        try:
            sent = producer.send_and_wait(topic, value, key=key, headers=trace_headers())
            await asyncio.wait_for(sent, self.timeout_s)
        except (KafkaError, TimeoutError) as e:
            msg = f"publish to {topic} was not acknowledged: {type(e).__name__}"
            raise BrokerUnavailable(msg) from e

    async def ping(self) -> bool:
        """Say whether the broker answers a metadata request now."""
        producer = self._producer
        if producer is None:
            return False
        try:
            await asyncio.wait_for(producer.client.fetch_all_metadata(), min(self.timeout_s, 3))
        except (KafkaError, OSError, TimeoutError):
            return False
        return True

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        producer, self._producer = self._producer, None
        if producer is not None:
            await producer.stop()
