"""An answer sent before the request body was read closes the connection.

An HTTP/1.1 server that answers early (401, 408, 413, 429…) and keeps the connection open has
to read and drop the rest of the body to reach the next request. uvicorn does, so a client
could make the API read a 200 MB upload it had already refused, at the cap. `Connection:
close` on such an answer makes uvicorn hang up once it is sent; clients still read it (httpx
and curl read the answer when the server stops taking the body).
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class CloseUnreadBodies:
    """Pure ASGI, so bodies stream through untouched."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = dict(scope.get("headers", [])) if scope["type"] == "http" else {}
        has_body = b"transfer-encoding" in headers or headers.get(b"content-length", b"0") != b"0"
        if not has_body:
            await self.app(scope, receive, send)
            return
        read_all = False

        async def receive_counting() -> Message:
            nonlocal read_all
            message = await receive()
            if message["type"] == "http.request" and not message.get("more_body", False):
                read_all = True
            return message

        async def send_closing(message: Message) -> None:
            if message["type"] == "http.response.start" and not read_all:
                message["headers"] = [*message.get("headers", []), (b"connection", b"close")]
            await send(message)

        await self.app(scope, receive_counting, send_closing)
