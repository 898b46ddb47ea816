"""The worker's health, as its port answers it: `/healthz` and `/metrics`, from a thread.

`/metrics` used to be served by prometheus-client's own thread, and the liveness probe read it:
a worker whose event loop hung, or whose agents stopped taking events while work waited, still
passed. `/healthz` answers 503, with the reasons, when

- the event loop has not run its heartbeat for `stall_s` (a blocking call, a deadlock), or
- a consumer group of the worker (the stages', the lake sink's) has work waiting (lag > 0)
  and its read offsets have not moved for `stall_s`.

`stall_s` must exceed the longest a single media may take (every agent busy with long work
moves no offset): `worker.stall_s`. The server is a thread of its own, so a hung loop is
reported rather than leaving the probe unanswered.

Lag per topic-partition is exported as `reelscope_consumer_lag{group,topic,partition}`: the
end offset the consumer last fetched minus the next offset it will read.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Gauge, generate_latest

LAG = Gauge(
    "reelscope_consumer_lag",
    "Records not yet read, per consumer group and topic-partition",
    ["group", "topic", "partition"],
)


@dataclass
class _Group:
    offsets: dict[tuple[str, int], int] = field(default_factory=dict)  # (topic, partition)
    lag: int = 0
    moved: float = field(default_factory=time.monotonic)
    reported: set[tuple[str, int]] = field(default_factory=set)  # lag series exported


@dataclass
class Health:
    """What the worker's tasks report (on the event loop) and `/healthz` reads (in a thread)."""

    stall_s: float
    beat: float = field(default_factory=time.monotonic)
    groups: dict[str, _Group] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def heartbeat(self) -> None:
        self.beat = time.monotonic()

    def observe(self, group: str, read: Mapping[Any, int], end: Mapping[Any, int]) -> None:
        """Record a group's next offsets to read and the end offsets it knows, per partition
        (the partitions it owns now: the lag series of one it lost are removed, else a worker
        would keep reporting the lag it last saw there)."""
        now = time.monotonic()
        offsets = {(tp.topic, tp.partition): o for tp, o in read.items()}
        lag = 0
        for tp, end_offset in end.items():
            behind = max(0, end_offset - read.get(tp, end_offset))
            LAG.labels(group, tp.topic, str(tp.partition)).set(behind)
            lag += behind
        with self._lock:
            state = self.groups.setdefault(group, _Group())
            if offsets != state.offsets or lag == 0:
                state.moved = now
            reported = {(tp.topic, tp.partition) for tp in end}
            for topic, partition in state.reported - reported:
                LAG.remove(group, topic, str(partition))
            state.offsets, state.lag, state.reported = offsets, lag, reported

    def problems(self) -> list[str]:
        now = time.monotonic()
        found = []
        if now - self.beat > self.stall_s:
            found.append(f"the event loop has not run for {now - self.beat:.0f} s")
        with self._lock:
            for name, g in sorted(self.groups.items()):
                if g.lag > 0 and now - g.moved > self.stall_s:
                    found.append(
                        f"consumer group {name}: {g.lag} records waiting and no progress for "
                        f"{now - g.moved:.0f} s"
                    )
        return found


def serve(health: Health, host: str, port: int) -> ThreadingHTTPServer:
    """Serve `/metrics` and `/healthz` on `host:port` from a daemon thread."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            if self.path.split("?", 1)[0] == "/healthz":
                problems = health.problems()
                body = json.dumps({"ok": not problems, "problems": problems}).encode()
                self._answer(503 if problems else 200, "application/json", body)
            elif self.path.split("?", 1)[0] == "/metrics":
                self._answer(200, CONTENT_TYPE_LATEST, generate_latest(REGISTRY))
            else:
                self._answer(404, "application/json", b'{"error": "try /healthz or /metrics"}')

        def _answer(self, status: int, content_type: str, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            """Probes every few seconds are not news."""

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="worker-http", daemon=True).start()
    return server
