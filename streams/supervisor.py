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
        ensure_topics(
            self.bootstrap,
            partitions=self.settings.kafka.partitions,
            replication=self.settings.kafka.replication_factor,
        )
        env = {**os.environ, "REELSCOPE_KAFKA__BOOTSTRAP": self.bootstrap}
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
