"""A fake Gemini REST server on loopback speaking what `google-genai` sends, with scripted faults.

Endpoints (under `/v1` or `/v1beta`): `POST models/{model}:generateContent`, the resumable upload
protocol at `POST /upload/{version}/files`, `GET` and `DELETE files/{name}`. The API key comes
from `x-goog-api-key`; a wrong key gets Google's 403 JSON. Token counts follow Gemini's published
accounting (frames × fps × tokens per frame + 32 tokens/s of audio; 258 per image), using the real
duration read from the bytes with PyAV. Every request is recorded, minus the key.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import ThreadingHTTPServer
from typing import Any, Literal

from processors.analyzers.gemini.fake_http import handler_for
from processors.analyzers.gemini.fake_protocol import Behaviour, Recorded, StoredFile

__all__ = ["Behaviour", "FakeGemini", "Recorded", "StoredFile", "wait_for"]


@dataclass
class FakeGemini:
    """The server's state; `reset()` between tests, `script(...)` to queue behaviours."""

    api_key: str = "test-key"
    latency_s: float = 0.0
    hang_s: float = 10.0
    processing_polls: int = 0
    processed_state: Literal["ACTIVE", "FAILED"] = "ACTIVE"
    in_flight: int = 0
    max_in_flight: int = 0
    requests: list[Recorded] = field(default_factory=list)
    files: dict[str, StoredFile] = field(default_factory=dict)
    deleted: list[str] = field(default_factory=list)
    _script: deque[Behaviour] = field(default_factory=deque)
    _sessions: dict[str, dict[str, Any]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _stop: threading.Event = field(default_factory=threading.Event)
    _server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> FakeGemini:
        ThreadingHTTPServer.request_queue_size = 256  # default 5 drops SYNs under bursts
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler_for(self))
        self._server.daemon_threads = True
        self._server.block_on_close = False
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def reset(self) -> None:
        with self._lock:
            self.requests.clear()
            self.files.clear()
            self.deleted.clear()
            self._script.clear()
            self._sessions.clear()
            self.latency_s, self.processing_polls, self.hang_s = 0.0, 0, 10.0
            self.processed_state = "ACTIVE"
            self.in_flight = self.max_in_flight = 0

    def script(self, *behaviours: Behaviour) -> None:
        with self._lock:
            self._script.extend(behaviours)

    def calls(self, suffix: str = ":generateContent") -> list[Recorded]:
        with self._lock:
            return [r for r in self.requests if r.path.endswith(suffix)]

    def next_behaviour(self) -> Behaviour:
        with self._lock:
            return self._script.popleft() if self._script else Behaviour()

    def record(self, rec: Recorded) -> None:
        with self._lock:
            self.requests.append(rec)


def wait_for(predicate: Any, timeout_s: float = 5.0) -> bool:
    """Poll a condition (for assertions on server-side effects)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return bool(predicate())
