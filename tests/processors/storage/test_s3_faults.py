"""S3 faults between boto3 and a real S3 endpoint (moto), injected by `tests.s3_faults`."""

from __future__ import annotations

import hashlib
import http.client
import os
import re
import socket
import socketserver
import threading
import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from processors.errors import StorageError
from processors.storage import S3Store
from tests.s3_faults import FaultRule, Outcome, S3FaultProxy

CHUNKED_HELLO = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
EMPTY_OK = b"HTTP/1.1 200 OK\r\nx-amz-request-id: R1\r\nContent-Length: 0\r\n\r\n"


class Recorder(socketserver.ThreadingTCPServer):
    """A bare HTTP/1.1 upstream that keeps the raw bytes of every request and answers `reply`."""

    daemon_threads = True

    def __init__(self) -> None:
        self.raw: list[bytes] = []
        self.reply = CHUNKED_HELLO
        super().__init__(("127.0.0.1", 0), RecordHandler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class RecordHandler(socketserver.StreamRequestHandler):
    server: Recorder

    def handle(self) -> None:
        while head := self.read_head():
            length = re.search(rb"(?im)^content-length:\s*(\d+)", head)
            if b"chunked" in head.lower():
                body = self.read_chunked()
            else:
                body = self.rfile.read(int(length[1])) if length else b""
            self.server.raw.append(head + body)
            self.wfile.write(self.server.reply)

    def read_head(self) -> bytes:
        lines = []
        while (line := self.rfile.readline()) not in (b"", b"\r\n"):
            lines.append(line)
        return b"".join(lines) + line if lines else b""

    def read_chunked(self) -> bytes:
        """Read chunks up to the last one (no trailers in these tests), framing included."""
        parts = []
        while True:
            line = self.rfile.readline()
            size = int(line.split(b";")[0], 16)
            parts += [line, self.rfile.read(size + 2)]
            if size == 0:
                return b"".join(parts)


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    server = Recorder()
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def proxy(s3_endpoint: str) -> Iterator[S3FaultProxy]:
    with S3FaultProxy(s3_endpoint) as p:
        yield p


@pytest.fixture
def stores(proxy: S3FaultProxy, s3_endpoint: str) -> tuple[S3Store, S3Store]:
    """A fresh bucket, made through the proxy: (a store via the proxy, one straight to moto)."""
    bucket = f"faults-{uuid.uuid4().hex[:12]}"
    via = S3Store(bucket, endpoint_url=proxy.endpoint)
    via.client.create_bucket(Bucket=bucket)
    return via, S3Store(bucket, endpoint_url=s3_endpoint)


def outcomes(proxy: S3FaultProxy, method: str, store: S3Store, key: str) -> list[Outcome]:
    """What the proxy did with each `method` request on one object (multipart calls included)."""
    path = f"/{store.bucket}/{key}"
    return [o for m, t, o in proxy.requests if m == method and t.partition("?")[0] == path]


def test_objects_pass_through_unchanged(
    stores: tuple[S3Store, S3Store], proxy: S3FaultProxy, tmp_path: Path
) -> None:
    via, direct = stores
    large, huge = os.urandom(12 << 20), os.urandom(20 << 20)
    (tmp_path / "huge.bin").write_bytes(huge)
    via.put_bytes("lake/small.bin", b"tiny payload")
    via.put_bytes("lake/large.bin", large)
    via.put_file("media/huge.bin", tmp_path / "huge.bin")  # multipart: 8 MB parts
    via.download("media/huge.bin", tmp_path / "back.bin")  # ranged GETs in parallel
    assert via.get_bytes("lake/small.bin") == b"tiny payload"
    assert via.get_bytes("lake/large.bin") == large
    assert direct.get_bytes("media/huge.bin") == huge
    assert (tmp_path / "back.bin").read_bytes() == huge
    assert via.exists("lake/large.bin") and not via.exists("lake/missing.bin")  # HEAD 200, 404
    via.delete("lake/small.bin")
    assert via.list("lake/") == ["lake/large.bin"]
    assert direct.list("") == ["lake/large.bin", "media/huge.bin"]
    targets = [t for m, t, _ in proxy.requests if m == "PUT" and "partNumber=" in t]
    assert len(targets) == 3
    assert {type(o) for *_, o in proxy.requests} == {int}
    assert [o for *_, o in proxy.requests if isinstance(o, int) and o >= 300] == [404]


def test_injected_errors_are_s3_xml_on_a_kept_alive_connection(recorder: Recorder) -> None:
    with S3FaultProxy(recorder.url) as proxy:
        proxy.add(FaultRule(method="GET", key_contains="/lake/", fault="slowdown"))
        proxy.add(FaultRule(method="GET", key_contains="/lake/", fault="internal"))
        conn = http.client.HTTPConnection(proxy.endpoint.removeprefix("http://"), timeout=5)
        got, sockets = [], set()
        for _ in range(3):
            conn.request("GET", "/bkt/lake/a.bin?versionId=1&x=%26")
            resp = conn.getresponse()
            got.append((resp.status, resp.getheader("Content-Type"), resp.read()))
            sockets.add(id(conn.sock))
        conn.close()
    assert len(sockets) == 1  # errors did not cost the connection
    assert [(s, t) for s, t, _ in got[:2]] == [(503, "application/xml"), (500, "application/xml")]
    errors = [ET.fromstring(body) for *_, body in got[:2]]
    assert [e.findtext("Code") for e in errors] == ["SlowDown", "InternalError"]
    assert errors[0].findtext("Message") == "Please reduce your request rate."
    assert errors[0].findtext("Resource") == "/bkt/lake/a.bin"
    assert got[2][0] == 200 and got[2][2] == b"hello"
    assert proxy.failed() == 2
    assert [o for *_, o in proxy.requests] == ["slowdown", "internal", 200]


def test_reset_and_timeout_answer_nothing(
    stores: tuple[S3Store, S3Store], proxy: S3FaultProxy
) -> None:
    via, _ = stores
    proxy.add(FaultRule(method="GET", key_contains="/r", fault="reset"))
    proxy.add(FaultRule(method="GET", key_contains="/t", fault="timeout", hang_seconds=0.3))
    address = ("127.0.0.1", int(proxy.endpoint.rsplit(":", 1)[1]))
    with socket.create_connection(address, timeout=5) as sock:
        sock.sendall(f"GET /{via.bucket}/r HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        with pytest.raises(ConnectionResetError):
            sock.recv(1)
    with socket.create_connection(address, timeout=5) as sock:
        started = time.monotonic()
        sock.sendall(f"GET /{via.bucket}/t HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        assert sock.recv(1) == b""  # an orderly close, with no answer
        assert time.monotonic() - started >= 0.3
    assert [o for *_, o in proxy.requests[-2:]] == ["reset", "timeout"]


def test_slowdown_is_retried(stores: tuple[S3Store, S3Store], proxy: S3FaultProxy) -> None:
    via, direct = stores
    rule = proxy.add(FaultRule(method="PUT", key_contains="/lake/", fault="slowdown", times=2))
    via.put_bytes("lake/part-0.parquet", b"rows")
    assert outcomes(proxy, "PUT", via, "lake/part-0.parquet") == ["slowdown", "slowdown", 200]
    assert proxy.failed(rule) == 2
    assert direct.get_bytes("lake/part-0.parquet") == b"rows"


def test_persistent_internal_errors_fail_then_a_retry_succeeds(
    stores: tuple[S3Store, S3Store], proxy: S3FaultProxy
) -> None:
    via, direct = stores
    rule = proxy.add(FaultRule(method="PUT", fault="internal", times=10))
    with pytest.raises(StorageError, match="InternalError"):
        via.put_bytes("lake/part-1.parquet", b"rows")
    # retries={"max_attempts": 5} means 5 retries: botocore makes 6 attempts in all
    assert proxy.failed(rule) == 6
    assert outcomes(proxy, "PUT", via, "lake/part-1.parquet") == ["internal"] * 6
    assert not direct.exists("lake/part-1.parquet")
    proxy.clear()
    via.put_bytes("lake/part-1.parquet", b"rows")
    assert direct.get_bytes("lake/part-1.parquet") == b"rows"


def test_a_reset_connection_is_retried(
    stores: tuple[S3Store, S3Store], proxy: S3FaultProxy
) -> None:
    via, direct = stores
    proxy.add(FaultRule(method="PUT", key_contains="/lake/", fault="reset"))
    via.put_bytes("lake/part-2.parquet", b"rows")
    assert outcomes(proxy, "PUT", via, "lake/part-2.parquet") == ["reset", 200]
    assert direct.get_bytes("lake/part-2.parquet") == b"rows"


def test_a_hung_request_is_retried(stores: tuple[S3Store, S3Store], proxy: S3FaultProxy) -> None:
    via, _ = stores
    via.put_bytes("lake/part-3.parquet", b"rows")
    proxy.add(FaultRule(method="GET", fault="timeout", hang_seconds=0.2))
    assert via.get_bytes("lake/part-3.parquet") == b"rows"
    assert outcomes(proxy, "GET", via, "lake/part-3.parquet") == ["timeout", 200]


def test_a_failed_multipart_upload_is_aborted(
    stores: tuple[S3Store, S3Store], proxy: S3FaultProxy, tmp_path: Path
) -> None:
    via, direct = stores
    (tmp_path / "huge.bin").write_bytes(os.urandom(20 << 20))
    rule = proxy.add(FaultRule(method="PUT", query_contains="uploadId", fault="internal", times=99))
    with pytest.raises(StorageError):
        via.put_file("media/huge.bin", tmp_path / "huge.bin")
    assert 6 <= proxy.failed(rule) <= 18  # one part used all 6 attempts; the rest were cancelled
    assert outcomes(proxy, "DELETE", via, "media/huge.bin") == [204]  # AbortMultipartUpload
    assert "Uploads" not in direct.client.list_multipart_uploads(Bucket=direct.bucket)
    assert not direct.exists("media/huge.bin")


def test_requests_and_responses_pass_byte_for_byte(recorder: Recorder) -> None:
    sized = (
        b"PUT /bkt/a%20b/c?x=1&y=%2F HTTP/1.1\r\nHost: example.test:9\r\nX-Amz-Meta-Case: MiXeD\r\n"
        b"Expect: 100-continue\r\nContent-Length: 5\r\n\r\nhello"
    )
    chunked = (
        b"PUT /bkt/d HTTP/1.1\r\nHost: example.test:9\r\nContent-Encoding: aws-chunked\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n"
        b"3;chunk-signature=ab\r\nabc\r\n0;chunk-signature=cd\r\n\r\n"
    )
    replies = []
    with S3FaultProxy(recorder.url) as proxy:
        address = ("127.0.0.1", int(proxy.endpoint.rsplit(":", 1)[1]))
        with socket.create_connection(address, timeout=5) as sock:
            for raw in (sized, chunked):  # one kept-alive connection
                sock.sendall(raw)
                resp = http.client.HTTPResponse(sock, method="PUT")
                resp.begin()  # skips the proxy's own 100 Continue
                replies.append((resp.status, resp.read()))
                resp.close()
    assert recorder.raw == [sized.replace(b"Expect: 100-continue\r\n", b""), chunked]
    assert replies == [(200, b"hello"), (200, b"hello")]
    assert proxy.requests == [("PUT", "/bkt/a%20b/c?x=1&y=%2F", 200), ("PUT", "/bkt/d", 200)]


def test_sigv4_signatures_still_verify_upstream(
    recorder: Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    recorder.reply = EMPTY_OK
    with S3FaultProxy(recorder.url) as proxy:
        host = proxy.endpoint.removeprefix("http://")
        S3Store("signed-bucket", endpoint_url=proxy.endpoint).put_bytes("lake/x.bin", b"payload")
    head, _, body = recorder.raw[0].partition(b"\r\n\r\n")
    request_line, *lines = head.decode().split("\r\n")
    method, target, _ = request_line.split(" ")
    headers = dict(line.split(": ", 1) for line in lines)
    lower = {k.lower(): v for k, v in headers.items()}
    assert lower["host"] == host
    assert body == b"payload"
    assert lower["x-amz-content-sha256"] == hashlib.sha256(body).hexdigest()
    assert lower["authorization"].endswith(f"Signature={sigv4(method, target, headers)}")


def sigv4(method: str, target: str, headers: dict[str, str]) -> str:
    """Recompute the signature from the headers the client said it signed, as S3 would."""
    auth = {k.lower(): v for k, v in headers.items()}["authorization"]
    signed = re.search(r"SignedHeaders=([^,]+)", auth)
    assert signed is not None
    names = set(signed[1].split(";"))
    kept = {k: v for k, v in headers.items() if k.lower() in names}
    request = AWSRequest(method=method, url=f"http://{kept['Host']}{target}", headers=kept)
    request.context["timestamp"] = kept["X-Amz-Date"]
    signer = S3SigV4Auth(Credentials("testing", "testing"), "s3", "us-east-1")
    string_to_sign = signer.string_to_sign(request, signer.canonical_request(request))
    signature: str = signer.signature(string_to_sign, request)
    return signature
