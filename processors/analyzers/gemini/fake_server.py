"""A fake Gemini REST server on loopback speaking what `google-genai` sends, with scripted faults.

Endpoints (under `/v1` or `/v1beta`): `POST models/{model}:generateContent`, the resumable upload
protocol at `POST /upload/{version}/files`, `GET` and `DELETE files/{name}`. The API key comes
from `x-goog-api-key`; a wrong key gets Google's 403 JSON. Token counts follow Gemini's published
accounting (frames × fps × tokens per frame + 32 tokens/s of audio; 258 per image), using the real
duration read from the bytes with PyAV. Every request is recorded, minus the key.
"""

from __future__ import annotations

import base64
import io
import json
import re
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal
from urllib.parse import parse_qs, urlparse

import av

Kind = Literal["ok", "error", "hang", "block_prompt", "block_safety", "text"]
FRAME_TOKENS = {"MEDIA_RESOLUTION_LOW": 66}
DEFAULT_FRAME_TOKENS = 258
AUDIO_TOKENS_PER_S = 32
STATUS_NAMES = {
    400: "INVALID_ARGUMENT",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    408: "DEADLINE_EXCEEDED",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
}


@dataclass(frozen=True)
class Behaviour:
    """What the next generateContent call does."""

    kind: Kind = "ok"
    status: int = 200
    retry_delay: str | None = None
    text: str | None = None
    answer: dict[str, Any] | None = None
    latency_s: float | None = None

    @classmethod
    def ok(cls, answer: dict[str, Any] | None = None) -> Behaviour:
        return cls("ok", answer=answer)

    @classmethod
    def error(cls, status: int, retry_delay: str | None = None) -> Behaviour:
        return cls("error", status=status, retry_delay=retry_delay)


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body_size: int
    json: Any = None
    at: float = field(default_factory=time.monotonic)


@dataclass
class StoredFile:
    name: str
    mime_type: str
    data: bytes
    polls_left: int
    display_name: str | None = None


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
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
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


# --- answers ------------------------------------------------------------------------------


def instance_for(schema: dict[str, Any], name: str = "value") -> Any:
    """Build a plausible value that validates against a (ref-free) JSON Schema."""
    if "anyOf" in schema:
        options = [s for s in schema["anyOf"] if s.get("type") != "null"]
        return instance_for(options[0], name) if options else None
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type")
    if kind == "object":
        props = schema.get("properties", {})
        return {k: instance_for(v, k) for k, v in props.items()}
    if kind == "array":
        return _array_for(schema.get("items", {"type": "string"}), name)
    if kind == "integer":
        return int(schema.get("minimum", 1))
    if kind == "number":
        lo, hi = schema.get("minimum", 0.0), schema.get("maximum", 1.0)
        return round((lo + hi) * 0.75, 3)
    if kind == "boolean":
        return True
    return f"fake {name}"


def _array_for(items: dict[str, Any], name: str) -> list[Any]:
    """One item, or one per value when the items are objects keyed by an enum (per platform)."""
    first = instance_for(items, name)
    keyed = [k for k, v in items.get("properties", {}).items() if "enum" in v]
    if not keyed:
        return [first]
    return [{**first, keyed[0]: value} for value in items["properties"][keyed[0]]["enum"]]


def _media_seconds(data: bytes, meta: dict[str, Any]) -> tuple[float, bool]:
    """Read the real duration and audio presence, then apply the clip offsets."""
    with av.open(io.BytesIO(data), mode="r") as container:
        duration = (container.duration or 0) / 1_000_000
        has_audio = bool(container.streams.audio)
    start = float(str(meta.get("startOffset", "0s")).rstrip("s"))
    end = float(str(meta.get("endOffset", f"{duration}s")).rstrip("s"))
    return max(0.0, min(end, duration) - start), has_audio


def media_tokens(mime: str, data: bytes, meta: dict[str, Any], resolution: str | None) -> int:
    """Count input tokens for one media part as Gemini documents it."""
    per_frame = FRAME_TOKENS.get(resolution or "", DEFAULT_FRAME_TOKENS)
    if mime.startswith("image/"):
        return per_frame
    seconds, has_audio = _media_seconds(data, meta)
    fps = float(meta.get("fps", 1.0))
    return round(seconds * (per_frame * fps + (AUDIO_TOKENS_PER_S if has_audio else 0)))


def error_body(status: int, message: str, retry_delay: str | None = None) -> dict[str, Any]:
    details: list[dict[str, Any]] = [
        {
            "@type": "type.googleapis.com/google.rpc.ErrorInfo",
            "reason": STATUS_NAMES.get(status),
            "domain": "googleapis.com",
        }
    ]
    if retry_delay is not None:
        details.append(
            {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": retry_delay}
        )
    return {
        "error": {
            "code": status,
            "message": message,
            "status": STATUS_NAMES.get(status, "UNKNOWN"),
            "details": details,
        }
    }


# --- HTTP ---------------------------------------------------------------------------------

_GENERATE = re.compile(r"^/(v1|v1beta)/models/([^/:]+):generateContent$")
_FILE = re.compile(r"^/(v1|v1beta)/files/([^/:]+)$")
_UPLOAD = re.compile(r"^/upload/(v1|v1beta)/files$")


def _handler_for(fake: FakeGemini) -> type[BaseHTTPRequestHandler]:
    class Handler(_Handler):
        state = fake

    return Handler


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    state: FakeGemini

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - silence stderr
        return

    # plumbing

    def _send(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=UTF-8")
            self.send_header("Content-Length", str(len(data)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (timeout): nothing to answer

    def _read(self) -> bytes:
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _record(self, raw: bytes, parsed: Any) -> None:
        headers = {k.lower(): v for k, v in self.headers.items() if k.lower() != "x-goog-api-key"}
        path = urlparse(self.path).path
        self.state.record(Recorded(self.command, path, headers, len(raw), parsed))

    def _authorised(self) -> bool:
        if self.headers.get("x-goog-api-key") == self.state.api_key:
            return True
        self._send(403, error_body(403, "API key not valid. Please pass a valid API key."))
        return False

    def _sleep(self, seconds: float) -> None:
        if seconds > 0:
            self.state._stop.wait(seconds)

    # verbs

    def do_POST(self) -> None:
        raw = self._read()
        path = urlparse(self.path).path
        if "upload_id" in self.path:
            self._record(raw, None)
            return self._upload_chunk(raw)
        parsed = camelize(json.loads(raw)) if raw else None
        self._record(raw, _redact(parsed))
        if not self._authorised():
            return None
        if m := _GENERATE.match(path):
            return self._generate(m.group(2), parsed or {})
        if m := _UPLOAD.match(path):
            return self._upload_start(m.group(1), parsed or {})
        return self._send(404, error_body(404, f"no route for POST {path}"))

    def do_GET(self) -> None:
        self._record(b"", None)
        if not self._authorised():
            return
        m = _FILE.match(urlparse(self.path).path)
        stored = self.state.files.get(m.group(2)) if m else None
        if m is None or stored is None:
            return self._send(404, error_body(404, "File not found."))
        with self.state._lock:
            state = "PROCESSING" if stored.polls_left > 0 else self.state.processed_state
            stored.polls_left -= 1
        self._send(200, self._file_json(m.group(1), stored, state))

    def do_DELETE(self) -> None:
        self._record(b"", None)
        if not self._authorised():
            return
        m = _FILE.match(urlparse(self.path).path)
        if m is None or self.state.files.pop(m.group(2), None) is None:
            return self._send(404, error_body(404, "File not found."))
        self.state.deleted.append(f"files/{m.group(2)}")
        self._send(200, {})

    # files

    def _file_json(self, version: str, f: StoredFile, state: str) -> dict[str, Any]:
        return {
            "name": f"files/{f.name}",
            "displayName": f.display_name,
            "mimeType": f.mime_type,
            "sizeBytes": str(len(f.data)),
            "state": state,
            "uri": f"{self.state.url}/{version}/files/{f.name}",
        }

    def _upload_start(self, version: str, body: dict[str, Any]) -> None:
        if self.headers.get("X-Goog-Upload-Protocol") != "resumable":
            return self._send(400, error_body(400, "only resumable uploads are supported"))
        session = uuid.uuid4().hex
        meta = body.get("file", {})
        with self.state._lock:
            self.state._sessions[session] = {"version": version, "meta": meta, "data": b""}
        query = f"upload_id={session}&upload_protocol=resumable"
        url = f"{self.state.url}/upload/{version}/files?{query}"
        self._send(200, {}, {"X-Goog-Upload-URL": url, "X-Goog-Upload-Status": "active"})

    def _upload_chunk(self, raw: bytes) -> None:
        session_id = parse_qs(urlparse(self.path).query)["upload_id"][0]
        session = self.state._sessions.get(session_id)
        if session is None:
            return self._send(
                404, error_body(404, "upload session not found"), {"X-Goog-Upload-Status": "final"}
            )
        session["data"] += raw
        if "finalize" not in self.headers.get("X-Goog-Upload-Command", ""):
            return self._send(200, {}, {"X-Goog-Upload-Status": "active"})
        name = uuid.uuid4().hex[:12]
        meta = session["meta"]
        stored = StoredFile(
            name,
            meta.get("mimeType", "application/octet-stream"),
            session["data"],
            self.state.processing_polls,
            meta.get("displayName"),
        )
        self.state.files[name] = stored
        self._send(
            200,
            {"file": self._file_json(session["version"], stored, "PROCESSING")},
            {"X-Goog-Upload-Status": "final"},
        )

    # generate

    def _generate(self, model: str, body: dict[str, Any]) -> None:
        with self.state._lock:
            self.state.in_flight += 1
            self.state.max_in_flight = max(self.state.max_in_flight, self.state.in_flight)
        try:
            self._generate_one(model, body)
        finally:
            with self.state._lock:
                self.state.in_flight -= 1

    def _generate_one(self, model: str, body: dict[str, Any]) -> None:
        b = self.state.next_behaviour()
        self._sleep(b.latency_s if b.latency_s is not None else self.state.latency_s)
        if b.kind == "hang":
            self._sleep(self.state.hang_s)
            return self._send(503, error_body(503, "too late"))
        if b.kind == "error":
            return self._send(b.status, error_body(b.status, f"scripted {b.status}", b.retry_delay))
        try:
            prompt_tokens = self._prompt_tokens(body)
        except LookupError as e:
            return self._send(400, error_body(400, str(e)))
        usage = {"promptTokenCount": prompt_tokens, "totalTokenCount": prompt_tokens}
        if b.kind == "block_prompt":
            return self._send(
                200,
                {
                    "promptFeedback": {"blockReason": "SAFETY"},
                    "usageMetadata": usage,
                    "modelVersion": model,
                },
            )
        if b.kind == "block_safety":
            cand = {
                "finishReason": "SAFETY",
                "index": 0,
                "safetyRatings": [
                    {
                        "category": "HARM_CATEGORY_DANGEROUS_CONTENT",
                        "probability": "HIGH",
                        "blocked": True,
                    }
                ],
            }
            return self._send(200, {"candidates": [cand], "usageMetadata": usage})
        self._send(200, self._answer(model, body, b, usage))

    def _answer(
        self, model: str, body: dict[str, Any], b: Behaviour, usage: dict[str, int]
    ) -> dict[str, Any]:
        config = body.get("generationConfig", {})
        if b.text is not None:
            text = b.text
        else:
            answer = instance_for(config.get("responseJsonSchema", {"type": "object"}), "answer")
            text = json.dumps({**answer, **(b.answer or {})})
        out = max(1, len(text) // 4)
        usage = {
            **usage,
            "candidatesTokenCount": out,
            "totalTokenCount": usage["promptTokenCount"] + out,
        }
        cand = {
            "content": {"role": "model", "parts": [{"text": text}]},
            "finishReason": "STOP",
            "index": 0,
        }
        return {
            "candidates": [cand],
            "usageMetadata": usage,
            "modelVersion": model,
            "responseId": uuid.uuid4().hex,
        }

    def _prompt_tokens(self, body: dict[str, Any]) -> int:
        resolution = body.get("generationConfig", {}).get("mediaResolution")
        total = 0
        for content in body.get("contents", []):
            for part in content.get("parts", []):
                total += self._part_tokens(part, resolution)
        system = body.get("systemInstruction", {}).get("parts", [])
        return total + sum(len(p.get("text", "")) // 4 for p in system)

    def _part_tokens(self, part: dict[str, Any], resolution: str | None) -> int:
        meta = part.get("videoMetadata", {})
        if "text" in part:
            return max(1, len(part["text"]) // 4)
        if "inlineData" in part:
            data = b64decode(part["inlineData"]["data"])
            return media_tokens(part["inlineData"]["mimeType"], data, meta, resolution)
        if "fileData" in part:
            name = part["fileData"]["fileUri"].rsplit("/", 1)[-1]
            stored = self.state.files.get(name)
            if stored is None or stored.polls_left > 0:
                msg = f"The File {name} is not in an ACTIVE state and usage is not allowed."
                raise LookupError(msg)
            return media_tokens(stored.mime_type, stored.data, meta, resolution)
        return 0


_OPAQUE = ("responseJsonSchema", "responseSchema", "parametersJsonSchema")


def _camel(key: str) -> str:
    head, *rest = key.split("_")
    return head + "".join(w[:1].upper() + w[1:] for w in rest)


def camelize(body: Any) -> Any:
    """Accept both field spellings like Google's proto JSON parser (the SDK sends some snake)."""
    if isinstance(body, list):
        return [camelize(v) for v in body]
    if not isinstance(body, dict):
        return body
    out = {}
    for k, v in body.items():
        key = _camel(k)
        out[key] = v if key in _OPAQUE else camelize(v)
    return out


def b64decode(text: str) -> bytes:
    """Decode base64 as the SDK sends it (URL-safe alphabet) or as curl users do (standard)."""
    text = text.replace("-", "+").replace("_", "/")
    return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)


def _redact(body: Any) -> Any:
    """Replace base64 media with its decoded size so recorded bodies stay small."""
    if isinstance(body, dict):
        if "data" in body and "mimeType" in body:
            return {"mimeType": body["mimeType"], "size": len(b64decode(body["data"]))}
        return {k: _redact(v) for k, v in body.items()}
    if isinstance(body, list):
        return [_redact(v) for v in body]
    return body


def wait_for(predicate: Any, timeout_s: float = 5.0) -> bool:
    """Poll a condition (for assertions on server-side effects)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return bool(predicate())
