"""A Kafka-aware TCP proxy in front of a real broker that can refuse writes, for tests.

Requests and responses pass through frame by frame (4-byte big-endian size, then the
message), untouched. Clients reach the broker through the proxy for every connection only if
the broker advertises the proxy's address in its metadata (`EmbeddedBroker(advertised_port=)`);
otherwise they bootstrap through the proxy and then talk to the broker directly.

While the produce window is open (`refuse_produce()` .. `allow_produce()`, or `refusing()`),
a Produce request (api key 0) never reaches the broker; `refuse_produce(topics=...)` narrows the
window to requests that write to any of those topics (matched by name, so not Produce v13+,
which names topics by id; no client here goes past v8). A request is refused whole. Either

- `mode="error"`: the proxy answers it itself with a Produce response of the request's version
  carrying `error_code` for every partition in it (default -1, UNKNOWN_SERVER_ERROR: not
  retriable, so the client fails the send at once instead of retrying it), or
- `mode="disconnect"`: the proxy closes the client's connection (and its upstream one), as a
  broker that dies mid-request would; clients retry on a new connection until their request
  timeout, or
- `mode="lose_answer"`: the request reaches the broker, which writes it, and the proxy cuts
  the connection instead of passing the broker's answer on: a write the client cannot tell
  from a failed one (what a network cut or a broker restart after the write looks like).

Kafka clients match responses to requests by order on a connection, not only by correlation
id, so an answer made up by the proxy is held back until the broker has answered every request
sent before it on that connection. Produce with `acks=0` gets no answer, as from a broker.
Everything runs on one asyncio loop in a daemon thread; the test thread only flips the window.
"""

from __future__ import annotations

import asyncio
import struct
import threading
from collections import Counter, deque
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from types import TracebackType
from typing import Literal, Self

Mode = Literal["error", "disconnect", "lose_answer"]
PRODUCE = 0
UNKNOWN_SERVER_ERROR = -1
NOT_ENOUGH_REPLICAS = 19  # retriable: clients keep trying until their request timeout
FLEXIBLE_FROM = 9  # Produce v9+ uses compact strings/arrays and tagged fields
TOPIC_ID_FROM = 13  # Produce v13+ names topics by id (16 bytes) instead of by name
MAX_VERSION = 13
MAX_FRAME = 256 << 20


class _LostAnswer:
    """In the queue of answers owed: the broker's next answer is dropped, the connection cut."""


LOST = _LostAnswer()
Owed = deque[bytes | None | _LostAnswer]


class ProtocolError(ValueError):
    """A frame the proxy cannot read; the connection it came on is closed."""


@dataclass
class ProduceRequest:
    """The parts of a Produce request that a refusal has to echo."""

    version: int
    correlation_id: int
    acks: int
    topics: list[tuple[bytes, list[int]]]  # (name, or topic id from v13, [partition index])


@dataclass
class Stats:
    """What the proxy saw: connections accepted, and requests by (api key, version)."""

    connections: int = 0
    produce_forwarded: int = 0
    produce_refused: int = 0  # lost answers too: those requests were written
    requests: Counter[tuple[int, int]] = field(default_factory=Counter)
    refused_by_client: Counter[str] = field(default_factory=Counter)  # request header client id

    def copy(self) -> Stats:
        return Stats(
            self.connections,
            self.produce_forwarded,
            self.produce_refused,
            Counter(self.requests),
            Counter(self.refused_by_client),
        )


class _Reader:
    """Just enough of the Kafka wire format to read a Produce request's header and topics."""

    def __init__(self, data: bytes, pos: int = 0) -> None:
        self.data, self.pos = data, pos

    def take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            raise ProtocolError(f"frame ends before {n} bytes at {self.pos}")
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out

    def int16(self) -> int:
        value: int = struct.unpack(">h", self.take(2))[0]
        return value

    def int32(self) -> int:
        value: int = struct.unpack(">i", self.take(4))[0]
        return value

    def uvarint(self) -> int:
        shift = value = 0
        while True:
            byte = self.take(1)[0]
            value |= (byte & 0x7F) << shift
            if not byte & 0x80:
                return value
            shift += 7
            if shift > 28:
                raise ProtocolError("varint longer than 5 bytes")

    def string(self, compact: bool) -> bytes | None:
        """A (nullable) string or bytes field; compact ones carry length + 1 as a varint."""
        n = self.uvarint() - 1 if compact else self.int16()
        return None if n < 0 else self.take(n)

    def records(self, compact: bool) -> None:
        n = self.uvarint() - 1 if compact else self.int32()
        if n > 0:
            self.take(n)

    def array_length(self, compact: bool) -> int:
        n = self.uvarint() - 1 if compact else self.int32()
        return max(n, 0)

    def skip_tags(self) -> None:
        for _ in range(self.uvarint()):
            self.uvarint()  # tag
            self.take(self.uvarint())


def parse_produce(frame: bytes) -> ProduceRequest:
    """Read a Produce request (without its 4-byte size), header included, versions 0..13."""
    r = _Reader(frame)
    api_key, version, correlation_id = r.int16(), r.int16(), r.int32()
    if api_key != PRODUCE:
        raise ProtocolError(f"api key {api_key} is not Produce")
    if not 0 <= version <= MAX_VERSION:
        raise ProtocolError(f"Produce v{version} is newer than this proxy knows")
    flexible = version >= FLEXIBLE_FROM
    r.string(compact=False)  # client id: never compact, even in header v2
    if flexible:
        r.skip_tags()
    if version >= 3:
        r.string(flexible)  # transactional id
    acks = r.int16()
    r.int32()  # timeout
    topics = []
    for _ in range(r.array_length(flexible)):
        name = r.take(16) if version >= TOPIC_ID_FROM else (r.string(flexible) or b"")
        partitions = []
        for _ in range(r.array_length(flexible)):
            partitions.append(r.int32())
            r.records(flexible)
            if flexible:
                r.skip_tags()
        if flexible:
            r.skip_tags()
        topics.append((name, partitions))
    return ProduceRequest(version, correlation_id, acks, topics)


def client_id(frame: bytes) -> str:
    """The client id in a request header (every header version has it, as a plain string)."""
    r = _Reader(frame, 8)
    return (r.string(compact=False) or b"").decode(errors="replace")


def _uvarint(n: int) -> bytes:
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def refusal(request: ProduceRequest, error_code: int, message: str | None = None) -> bytes:
    """The framed Produce response (same version) failing every partition of `request`."""
    v, flexible = request.version, request.version >= FLEXIBLE_FROM

    def array(n: int) -> bytes:
        return _uvarint(n + 1) if flexible else struct.pack(">i", n)

    def string(s: bytes | None) -> bytes:
        if s is None:
            return _uvarint(0) if flexible else struct.pack(">h", -1)
        return (_uvarint(len(s) + 1) if flexible else struct.pack(">h", len(s))) + s

    tags = _uvarint(0) if flexible else b""  # no tagged fields
    out = [struct.pack(">i", request.correlation_id), tags]  # response header v0 / v1
    out.append(array(len(request.topics)))
    for name, partitions in request.topics:
        out.append(name if v >= TOPIC_ID_FROM else string(name))
        out.append(array(len(partitions)))
        for index in partitions:
            out.append(struct.pack(">ihq", index, error_code, -1))  # base offset
            if v >= 2:
                out.append(struct.pack(">q", -1))  # log append time
            if v >= 5:
                out.append(struct.pack(">q", -1))  # log start offset
            if v >= 8:
                out.append(array(0))  # record errors
                out.append(string(message.encode() if message is not None else None))
            out.append(tags)
        out.append(tags)
    if v >= 1:
        out.append(struct.pack(">i", 0))  # throttle time
    out.append(tags)
    body = b"".join(out)
    return struct.pack(">i", len(body)) + body


def expects_response(frame: bytes) -> bool:
    """Every request is answered, except a Produce with acks=0."""
    api_key = struct.unpack_from(">h", frame)[0]
    return api_key != PRODUCE or parse_produce(frame).acks != 0


async def read_frame(reader: asyncio.StreamReader) -> bytes | None:
    """One size-prefixed frame without its size, or None at a clean end of stream."""
    try:
        head = await reader.readexactly(4)
    except asyncio.IncompleteReadError as e:
        if e.partial:
            raise ProtocolError("stream ended inside a frame size") from e
        return None
    size = struct.unpack(">i", head)[0]
    if not 4 <= size <= MAX_FRAME:  # a response can be a correlation id and a few bytes
        raise ProtocolError(f"implausible frame size {size}")
    return await reader.readexactly(size)


class KafkaFaultProxy:
    """Listen on 127.0.0.1:`port` (0: any free port) and forward to 127.0.0.1:`upstream_port`."""

    def __init__(
        self,
        upstream_port: int,
        *,
        port: int = 0,
        mode: Mode = "error",
        error_code: int = UNKNOWN_SERVER_ERROR,
    ) -> None:
        self.upstream_port = upstream_port
        self.mode = mode
        self.error_code = error_code
        self._stats = Stats()
        self._stats_lock = threading.Lock()  # updated on the proxy's loop, read by tests
        self._want_port = port
        self._refusing = threading.Event()
        self._only: frozenset[bytes] | None = None  # refuse writes to these topics only
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.Server | None = None
        self._thread: threading.Thread | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._port = 0

    @property
    def port(self) -> int:
        if not self._port:
            raise RuntimeError("the proxy is not running: call start() or use it as a context")
        return self._port

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def stats(self) -> Stats:
        """A snapshot of what the proxy has seen so far."""
        with self._stats_lock:
            return self._stats.copy()

    def start(self) -> Self:
        """Bind (so `port` is known before the broker that advertises it starts) and serve."""
        ready = threading.Event()
        failed: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            try:
                self._server = loop.run_until_complete(
                    asyncio.start_server(self._serve, "127.0.0.1", self._want_port)
                )
                self._port = self._server.sockets[0].getsockname()[1]
            except BaseException as e:  # reported to start()'s caller
                failed.append(e)
                ready.set()
                loop.close()
                return
            ready.set()
            loop.run_forever()
            loop.close()

        self._thread = threading.Thread(target=run, name="kafka-fault-proxy", daemon=True)
        self._thread.start()
        ready.wait()
        if failed:
            raise failed[0]
        return self

    def stop(self) -> None:
        """Stop listening, cut every open connection, and end the proxy's thread."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return

        async def shutdown() -> None:
            if self._server is not None:
                self._server.close()
            for writer in list(self._writers):
                writer.transport.abort()
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(shutdown(), loop).result(timeout=10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        self._loop = self._thread = self._server = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # --- the fault window -------------------------------------------------------------------

    def refuse_produce(self, topics: Iterable[str] | None = None) -> None:
        """Open the window (or change which topics it covers, if it is open already)."""
        self._only = None if topics is None else frozenset(t.encode() for t in topics)
        self._refusing.set()

    def allow_produce(self) -> None:
        self._refusing.clear()
        self._only = None

    def _refuses(self, frame: bytes) -> bool:
        """Say whether the window is open for this Produce request."""
        if not self._refusing.is_set():
            return False
        only = self._only
        return only is None or any(bytes(n) in only for n, _ in parse_produce(frame).topics)

    @property
    def is_refusing(self) -> bool:
        return self._refusing.is_set()

    @contextmanager
    def refusing(self, topics: Iterable[str] | None = None) -> Iterator[None]:
        self.refuse_produce(topics)
        try:
            yield
        finally:
            self.allow_produce()

    # --- one client connection ---------------------------------------------------------------

    async def _serve(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        with self._stats_lock:
            self._stats.connections += 1
        self._writers.add(client_w)
        try:
            up_r, up_w = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        except OSError:
            self._writers.discard(client_w)
            client_w.transport.abort()  # as if the broker were down
            return
        self._writers.add(up_w)
        # one entry per answer owed to the client, in request order: None for the broker's
        # next response, bytes for a refusal made here; the head is never bytes for long
        owed: Owed = deque()
        pumps = [
            asyncio.create_task(self._requests(client_r, client_w, up_w, owed)),
            asyncio.create_task(self._responses(up_r, client_w, owed)),
        ]
        try:
            await asyncio.wait(pumps, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for t in pumps:
                t.cancel()
            await asyncio.gather(*pumps, return_exceptions=True)
            for w in (client_w, up_w):
                self._writers.discard(w)
                w.transport.abort()

    async def _requests(
        self,
        client_r: asyncio.StreamReader,
        client_w: asyncio.StreamWriter,
        up_w: asyncio.StreamWriter,
        owed: Owed,
    ) -> None:
        """Client to broker, one request at a time; Produce is refused while the window is open."""
        with suppress(ProtocolError, ConnectionError, asyncio.IncompleteReadError):
            while (frame := await read_frame(client_r)) is not None:
                api_key, version = struct.unpack_from(">hh", frame)
                refuse = api_key == PRODUCE and self._refuses(frame)
                with self._stats_lock:
                    self._stats.requests[(api_key, version)] += 1
                    if api_key == PRODUCE:
                        if refuse:
                            self._stats.produce_refused += 1
                            self._stats.refused_by_client[client_id(frame)] += 1
                        else:
                            self._stats.produce_forwarded += 1
                if refuse and self.mode == "lose_answer":
                    owed.append(LOST)
                    up_w.write(struct.pack(">i", len(frame)) + frame)
                    await up_w.drain()
                    continue
                if refuse:
                    if self.mode == "disconnect":
                        return  # _serve cuts both connections
                    request = parse_produce(frame)
                    if request.acks != 0:
                        answer = refusal(request, self.error_code, "refused by kafka_faults")
                        if owed:
                            owed.append(answer)  # after the broker's answers to earlier requests
                        else:
                            client_w.write(answer)
                    continue
                if expects_response(frame):
                    owed.append(None)
                up_w.write(struct.pack(">i", len(frame)) + frame)
                await up_w.drain()

    async def _responses(
        self,
        up_r: asyncio.StreamReader,
        client_w: asyncio.StreamWriter,
        owed: Owed,
    ) -> None:
        """Broker to client, then any refusals that were waiting behind that response."""
        with suppress(ProtocolError, ConnectionError, asyncio.IncompleteReadError):
            while (frame := await read_frame(up_r)) is not None:
                if owed and owed[0] is LOST:
                    return  # _serve cuts both connections
                if owed and owed[0] is None:
                    owed.popleft()
                client_w.write(struct.pack(">i", len(frame)) + frame)
                while owed and isinstance(owed[0], bytes):
                    answer = owed.popleft()
                    assert isinstance(answer, bytes)
                    client_w.write(answer)
                await client_w.drain()
