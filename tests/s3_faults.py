"""A fault-injecting HTTP proxy between boto3 and a real S3 endpoint (moto), for tests.

Requests pass through byte for byte (request target, headers in order, `Host` included, raw
body framing), so SigV4 signatures still verify upstream; only `Expect` is dropped because the
proxy answers `100 Continue` itself (botocore never signs it). Each request opens a fresh
upstream connection; client connections are kept alive. Request bodies are buffered in memory.
"""

from __future__ import annotations

import http.client
import socket
import struct
import sys
import threading
import uuid
from dataclasses import dataclass
from functools import partial
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Literal, Self
from urllib.parse import urlsplit
from xml.sax.saxutils import escape

Fault = Literal["slowdown", "internal", "reset", "timeout"]
Outcome = int | str  # an upstream status, or the name of the fault injected instead
ERRORS: dict[str, tuple[int, str, str]] = {
    "slowdown": (503, "SlowDown", "Please reduce your request rate."),
    "internal": (500, "InternalError", "We encountered an internal error. Please try again."),
}
HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "te", "trailer", "upgrade"}
CHUNK = 1 << 16


@dataclass(kw_only=True)
class FaultRule:
    """Fail the first `times` requests that match every given filter, then let them pass."""

    fault: Fault
    method: str | None = None
    key_contains: str | None = None
    query_contains: str | None = None
    times: int = 1
    hang_seconds: float = 30.0
    failed: int = 0

    def matches(self, method: str, target: str) -> bool:
        """Say whether a request (method, path?query) falls under this rule."""
        path, _, query = target.partition("?")
        return (
            (self.method is None or self.method.upper() == method)
            and (self.key_contains is None or self.key_contains in path)
            and (self.query_contains is None or self.query_contains in query)
        )


class S3FaultProxy:
    """A threaded HTTP proxy on 127.0.0.1 that forwards to `upstream` unless a rule fires."""

    def __init__(self, upstream: str) -> None:
        parts = urlsplit(upstream)
        self.upstream_host = parts.hostname or "127.0.0.1"
        self.upstream_port = parts.port or 80
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        self._rules: list[FaultRule] = []
        self._seen: list[tuple[str, str, Outcome]] = []
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def endpoint(self) -> str:
        if self._server is None:
            msg = "the proxy is not running: call start() or use it as a context manager"
            raise RuntimeError(msg)
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> Self:
        self.stopping.clear()
        self._server = _Server(self)
        serve = partial(self._server.serve_forever, poll_interval=0.05)  # quick to stop
        self._thread = threading.Thread(target=serve, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, cut open client connections and wait for every handler to end."""
        if self._server is None or self._thread is None:
            return
        self.stopping.set()
        self._server.shutdown()
        self._server.cut_connections()
        self._server.server_close()
        self._thread.join()
        self._server = self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def add(self, rule: FaultRule) -> FaultRule:
        with self._lock:
            self._rules.append(rule)
        return rule

    def clear(self) -> None:
        """Drop every rule (the request log is kept)."""
        with self._lock:
            self._rules.clear()

    @property
    def requests(self) -> list[tuple[str, str, Outcome]]:
        """A snapshot of (method, path?query, status or fault) for every request seen."""
        with self._lock:
            return list(self._seen)

    def failed(self, rule: FaultRule | None = None) -> int:
        with self._lock:
            return rule.failed if rule else sum(r.failed for r in self._rules)

    def pick(self, method: str, target: str) -> FaultRule | None:
        """Claim one failure from the first matching rule that has some left."""
        with self._lock:
            for rule in self._rules:
                if rule.failed < rule.times and rule.matches(method, target):
                    rule.failed += 1
                    return rule
            return None

    def record(self, method: str, target: str, outcome: Outcome) -> None:
        with self._lock:
            self._seen.append((method, target, outcome))


class _Server(ThreadingHTTPServer):
    daemon_threads = False  # so server_close() joins the handlers
    block_on_close = True

    def __init__(self, proxy: S3FaultProxy) -> None:
        self.proxy = proxy
        self.open: set[socket.socket] = set()
        self.open_lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), _Handler)

    def track(self, sock: socket.socket, alive: bool) -> None:
        with self.open_lock:
            (self.open.add if alive else self.open.discard)(sock)

    def cut_connections(self) -> None:
        """Wake handlers blocked reading idle keep-alive connections."""
        with self.open_lock:
            for sock in self.open:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], OSError):  # a client hanging up is routine here
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.server.track(self.connection, alive=True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.track(self.connection, alive=False)

    def log_message(self, format: str, *args: object) -> None:
        """Stay quiet: the proxy's request log is `S3FaultProxy.requests`."""

    def handle_request(self) -> None:
        proxy = self.server.proxy
        rule = proxy.pick(self.command, self.path)
        body = self.read_body()
        if rule is None:
            self.forward(body)
            return
        proxy.record(self.command, self.path, rule.fault)
        if rule.fault in ERRORS:
            self.answer_error(*ERRORS[rule.fault])
        elif rule.fault == "timeout":
            proxy.stopping.wait(rule.hang_seconds)
            self.close_connection = True
        else:  # reset: SO_LINGER 0 makes close() send an RST instead of a FIN
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.close_connection = True
            self.connection.close()

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = handle_request

    def read_body(self) -> bytes | None:
        """Read the request body as raw bytes, keeping any chunked framing as sent."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self.read_chunked()
        length = self.headers.get("Content-Length")
        return self.rfile.read(int(length)) if length is not None else None

    def read_chunked(self) -> bytes:
        parts = []
        while True:
            line = self.rfile.readline(CHUNK)
            parts.append(line)
            size = int(line.split(b";")[0].strip() or b"0", 16)
            if size == 0:
                break
            parts.append(self.rfile.read(size + 2))
        while line not in (b"\r\n", b"\n", b""):  # trailers, then the blank line
            line = self.rfile.readline(CHUNK)
            parts.append(line)
        return b"".join(parts)

    def forward(self, body: bytes | None) -> None:
        proxy = self.server.proxy
        conn = http.client.HTTPConnection(proxy.upstream_host, proxy.upstream_port, timeout=60)
        try:
            conn.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
            for name, value in self.headers.items():
                if name.lower() != "expect":
                    conn.putheader(name, value)
            conn.endheaders(body)
            response = conn.getresponse()
        except (OSError, http.client.HTTPException):
            conn.close()
            proxy.record(self.command, self.path, 502)
            self.answer_error(502, "BadGateway", "The proxy could not reach the upstream.")
            return
        proxy.record(self.command, self.path, response.status)
        try:
            self.relay(response)
        finally:
            conn.close()

    def relay(self, response: http.client.HTTPResponse) -> None:
        """Send the upstream answer on; re-chunk a body whose length was not announced."""
        has_body = self.command != "HEAD" and response.status not in (204, 304)
        chunked = has_body and response.getheader("Content-Length") is None
        self.send_response_only(response.status, response.reason)
        for name, value in response.getheaders():
            lower = name.lower()
            if lower not in HOP_BY_HOP and lower != "transfer-encoding":
                self.send_header(name, value)
        if chunked:
            self.send_header("Transfer-Encoding", "chunked")
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        while has_body and (piece := response.read(CHUNK)):
            self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece)
        if chunked:
            self.wfile.write(b"0\r\n\r\n")

    def answer_error(self, status: int, code: str, message: str) -> None:
        request_id = uuid.uuid4().hex[:16].upper()
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f"<Error><Code>{code}</Code><Message>{message}</Message>"
            f"<Resource>{escape(self.path.partition('?')[0])}</Resource>"
            f"<RequestId>{request_id}</RequestId></Error>"
        ).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/xml")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("x-amz-request-id", request_id)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)
