"""`reelscope up`: the embedded broker, one worker and the API as child processes.

Children get the broker address through the environment; Ctrl-C (or SIGTERM) stops them all,
the broker last. A child that dies takes the whole stack down with a message saying which.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from types import TracebackType

import structlog

from processors.config import Settings
from streams.admin import ensure_topics
from streams.broker import EmbeddedBroker

log = structlog.get_logger(__name__)

EMBEDDED_PARTITIONS = 2
"""Partitions of the embedded broker's topics unless `REELSCOPE_KAFKA__PARTITIONS` is set: it
serves one worker, and Tansu spends CPU on every partition of every idle fetch. At rest (2 cores,
fetch wait 100 ms) the broker used 0.125 of a core with 6 partitions, 0.043 with 2; bench_e2e
went from 10.59x to 11.58x real time per core for 16:9 clips, 9.29x to 10.30x for 9:16, 3.86 to
4.10 images/s per core."""


def topic_partitions(settings: Settings, *, embedded: bool) -> int:
    """The partitions the stack creates its topics with (and tells faust)."""
    if embedded and "partitions" not in settings.kafka.model_fields_set:
        return EMBEDDED_PARTITIONS
    return settings.kafka.partitions


@dataclass
class Stack:
    settings: Settings
    broker: EmbeddedBroker | None = None
    children: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    @property
    def bootstrap(self) -> str:
        return self.broker.bootstrap if self.broker else self.settings.kafka.bootstrap

    @property
    def api_url(self) -> str:
        return f"http://{self.settings.api.host}:{self.settings.api.port}"

    def start(self) -> Stack:
        if self.settings.kafka.bootstrap == "embedded":
            self.broker = EmbeddedBroker().start()
            log.info("broker_started", bootstrap=self.broker.bootstrap)
        partitions = topic_partitions(self.settings, embedded=self.broker is not None)
        ensure_topics(
            self.bootstrap,
            partitions=partitions,
            replication=self.settings.kafka.replication_factor,
        )
        env = {
            **os.environ,
            "REELSCOPE_KAFKA__BOOTSTRAP": self.bootstrap,
            "REELSCOPE_KAFKA__PARTITIONS": str(partitions),
        }
        for role in ("worker", "api"):
            self.children[role] = subprocess.Popen(
                [sys.executable, "-m", "streams.cli", role],
                env=env,
                stdout=subprocess.DEVNULL,  # logs go to stderr; faust draws a spinner on stdout
            )
        return self

    def check(self) -> None:
        """Raise if a child has exited."""
        for role, proc in self.children.items():
            code = proc.poll()
            if code is not None:
                msg = f"the {role} process exited with code {code}; see its log above"
                raise SystemExit(msg)

    def wait(self) -> None:
        """Block until a signal or a child's death."""
        stop = False

        def on_signal(signum: int, frame: object) -> None:
            nonlocal stop
            stop = True

        signal.signal(signal.SIGTERM, on_signal)
        try:
            while not stop:
                self.check()
                time.sleep(0.5)
        except KeyboardInterrupt:
            pass

    def stop(self) -> None:
        for proc in self.children.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 15
        for proc in self.children.values():
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
        if self.broker:
            self.broker.stop()

    def __enter__(self) -> Stack:
        return self.start()

    def __exit__(
        self, t: type[BaseException] | None, v: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
