"""The fake Gemini server's HTTP handler: generateContent, the resumable upload and files."""

from __future__ import annotations

import json
import re
import uuid
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlparse

from processors.analyzers.gemini.fake_protocol import (
    Behaviour,
    Recorded,
    StoredFile,
    b64decode,
    camelize,
    error_body,
    instance_for,
    media_tokens,
    redact,
)

if TYPE_CHECKING:
    from processors.analyzers.gemini.fake_server import FakeGemini

# --- HTTP ---------------------------------------------------------------------------------

_GENERATE = re.compile(r"^/(v1|v1beta)/models/([^/:]+):generateContent$")
_FILE = re.compile(r"^/(v1|v1beta)/files/([^/:]+)$")
_UPLOAD = re.compile(r"^/upload/(v1|v1beta)/files$")


def handler_for(fake: FakeGemini) -> type[BaseHTTPRequestHandler]:
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
        self._record(raw, redact(parsed))
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
