"""A hostile-media corpus pushed through a whole stack: through the API, and (for what the API
refuses) straight onto the upload topic with the object put in the bucket, as a producer
holding broker credentials could.

Each file is refused (415 at the API, 422 for a logo) or ends as a result with a readable
reason, within `SECONDS`; the decoder processes stay under `MEMORY_MB`; a TCP listener the
playlists point at sees no connection; the content of a file they name appears nowhere (result
events, lake rows, logs, bucket); the worker keeps running and processes a good upload after.
The table of outcomes is printed (`pytest -s`) for the closing note.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import struct
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from hashlib import sha256
from pathlib import Path
from typing import Any
from uuid import uuid4

import cv2
import httpx
import numpy as np
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from processors.lake.query import Lake
from processors.media.ffmpeg import ffmpeg_exe
from processors.storage import open_store
from processors.synthetic import events as make
from processors.synthetic import samples
from schemas import topics
from streams.broker import EmbeddedBroker
from tests.e2e.conftest import Deployment
from tests.e2e.helpers import lake_counts, upload, wait_final
from tests.helpers import encode, png_declaring, with_duration

SECONDS = 5.0
MEMORY_MB = 512
CANARY = f"CANARY-{uuid4().hex}"


@dataclass
class Item:
    name: str
    data: bytes
    api: str  # what the API answers: "415", "accepted"
    outcome: str = "failed"  # the result: "failed", "done", "either" (a file a decoder may read)
    reason: str = ""  # words the refusal or the failure must contain


@pytest.fixture
def canary_listener() -> Iterator[tuple[int, list[Any]]]:
    """A TCP port on loopback that records every connection made to it."""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.2)
    hits: list[Any] = []
    done = threading.Event()

    def accept() -> None:
        while not done.is_set():
            try:
                conn, peer = server.accept()
            except TimeoutError:
                continue
            hits.append(peer)
            conn.close()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1], hits
    done.set()
    thread.join()
    server.close()


def playlist(uri: str) -> bytes:
    return f"#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:10.0,\n{uri}\n#EXT-X-ENDLIST\n".encode()


def avi_with_playlist(uri: str) -> bytes:
    """The shape of the known ffmpeg AVI exploit: an AVI whose stream carries a playlist."""
    body = b"AVI LIST" + struct.pack("<I", 4 + 8 + 56) + b"hdrlavih" + struct.pack("<I", 56)
    body += bytes(56) + b"GAB2\0" + playlist(uri)
    return b"RIFF" + struct.pack("<I", len(body)) + body


def jpeg_declaring(width: int, height: int) -> bytes:
    """A 45-byte JPEG: a JFIF header, then a frame header declaring `width` x `height`."""
    app0 = b"\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    sof = struct.pack(">BHHB", 8, height, width, 3) + b"\x01\x11\x00\x02\x11\x00\x03\x11\x00"
    return b"\xff\xd8" + app0 + b"\xff\xc0" + struct.pack(">H", len(sof) + 2) + sof + b"\xff\xd9"


def spaced(clip: Path, target: Path, scale: int) -> Path:
    """Copy an MP4 with its headers' durations and its frames' spacing (stts) times `scale`:
    a 2 s clip whose 20 frames span `2 * scale` seconds."""
    data = bytearray(with_duration(clip, target, scale).read_bytes())
    at = data.find(b"stts")
    (entries,) = struct.unpack_from(">I", data, at + 8)
    for i in range(entries):
        delta = at + 12 + 8 * i + 4
        struct.pack_into(">I", data, delta, struct.unpack_from(">I", data, delta)[0] * scale)
    target.write_bytes(bytes(data))
    return target


def corpus(folder: Path, canary_file: Path, port: int, broker: str) -> list[Item]:
    clip = encode(folder / "clip.mp4", "-t", "2", "-c:v", "libx264", "-g", "10")
    good = clip.read_bytes()
    jpeg = samples.make_image(folder / "still.jpg", width=320, height=240).read_bytes()
    flipped = bytearray(good)
    for at in range(len(flipped) // 3, len(flipped), len(flipped) // 40):
        flipped[at] ^= 0x5A
    file_uri = f"file://{canary_file}"
    return [
        Item("hls_file.mp4", playlist(file_uri), "415", reason="an HLS playlist"),
        Item("hls_canary.mp4", playlist(f"http://127.0.0.1:{port}/a.ts"), "415", reason="HLS"),
        Item("hls_broker.jpg", playlist(f"http://{broker}/a.ts"), "415", reason="HLS"),
        Item("concat.mp4", f"ffconcat version 1.0\nfile '{canary_file}'\n".encode(), "415"),
        Item("avi_playlist.mp4", avi_with_playlist(file_uri), "415", reason="unknown binary"),
        Item("page.jpg", f'<!doctype html><img src="{file_uri}">'.encode(), "415", reason="HTML"),
        Item(
            "ftyp_then_playlist.mp4",
            b"\0\0\0\x18ftypisom\0\0\x02\0isomiso2" + playlist(file_uri),
            "accepted",
            reason="could not",
        ),
        Item("jpeg_then_playlist.jpg", jpeg + playlist(file_uri), "accepted", "done"),
        Item("declares_100k.png", png_declaring(100_000, 100_000), "accepted", reason="MP"),
        Item("declares_65k.jpg", jpeg_declaring(65_500, 65_500), "accepted", reason="MP"),
        Item(
            "spans_24h.mp4",
            spaced(clip, folder / "long.mp4", 43_200).read_bytes(),
            "accepted",
            reason="the limit is 900 s",
        ),
        Item(
            "declares_none.mp4",
            with_duration(clip, folder / "none.mp4", 0).read_bytes(),
            "accepted",
            "done",  # measured as it is read: 2 s, within the limit
        ),
        Item("truncated.mp4", good[: len(good) * 2 // 5], "accepted", "either"),
        Item("bit_flipped.mp4", bytes(flipped), "accepted", "either"),
    ]


async def results_for(bootstrap: str, wanted: set[str], timeout: float) -> dict[str, Any]:
    """Each wanted media's result event and the moment it was read, from the results topic."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        parts = [TopicPartition(topics.MEDIA_RESULTS, p) for p in range(3)]
        consumer.assign(parts)
        await consumer.seek_to_beginning(*parts)
        found: dict[str, Any] = {}
        deadline = time.monotonic() + timeout
        while wanted - set(found) and time.monotonic() < deadline:
            for records in (await consumer.getmany(timeout_ms=300)).values():
                for r in records:
                    key = r.key.decode() if r.key else ""
                    if key in wanted:
                        found[key] = json.loads(r.value)
        return found
    finally:
        await consumer.stop()


async def publish_direct(stack: Deployment, item: Item) -> str:
    """Put the object in the bucket and its upload event on the topic, past the API."""
    media_id = make.uploaded().media_id
    key = f"media/2026/01/01/{media_id}"
    open_store(stack.store_url).put_bytes(key, item.data)
    event = make.uploaded(
        media_id=media_id,
        object_key=key,
        sha256=sha256(item.data).hexdigest(),
        size_bytes=len(item.data),
        content_type="image/jpeg" if item.name.endswith(".jpg") else "video/mp4",
        media_kind="image" if item.name.endswith(".jpg") else "video",
    )
    producer = AIOKafkaProducer(bootstrap_servers=stack.bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait(
            topics.MEDIA_UPLOADED, event.to_bytes(), key=str(media_id).encode()
        )
    finally:
        await producer.stop()
    return str(media_id)


def decoder_peak_mb(worker_pid: int) -> float:
    """The highest resident size any process of the worker's session (but the worker itself:
    its pool children, the fork server, the decoders they run) reached, in MB."""
    peak = 0
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            pid = int(status.parent.name)
            if pid == worker_pid or os.getsid(pid) != worker_pid:
                continue
            fields = dict(line.split(":", 1) for line in status.read_text().splitlines())
        except (OSError, ValueError):
            continue
        peak = max(peak, int(fields.get("VmHWM", "0 kB").split()[0]))
    return peak / 1024


def canary_everywhere(stack: Deployment, bucket: Path, events: list[Any]) -> list[str]:
    """Where the canary file's content turned up: events, lake rows, logs, bucket objects."""
    seen = [f"event {e.get('media_id')}" for e in events if CANARY in json.dumps(e)]
    for log in stack.logs.iterdir():
        if CANARY in log.read_text(errors="replace"):
            seen.append(f"log {log.name}")
    for path in bucket.rglob("*"):
        if path.is_file() and CANARY.encode() in path.read_bytes():
            seen.append(f"object {path.relative_to(bucket)}")
    lake = Lake(open_store(stack.store_url))
    for table in ("uploads", "brand_checks", "analyses", "media_results"):
        for row in lake.query(f"SELECT * FROM {table}"):
            if CANARY in repr(row):
                seen.append(f"lake {table}")
    return seen


async def test_hostile_media_fail_cleanly_and_reach_nothing(
    own_broker: EmbeddedBroker,
    tmp_path: Path,
    canary_listener: tuple[int, list[Any]],
) -> None:
    port, connections = canary_listener
    canary_file = tmp_path / "secret.txt"
    canary_file.write_text(CANARY)
    bucket = tmp_path / "bucket"
    stack = Deployment(own_broker.bootstrap, f"file://{bucket}", tmp_path / "logs")
    stack.logs.mkdir()
    items = corpus(tmp_path, canary_file, port, own_broker.bootstrap)
    stack.start()
    try:
        assert stack.worker is not None
        worker_pid = stack.worker.pid
        warm = await asyncio.to_thread(upload, stack, tmp_path / "still.jpg")  # first-event costs
        assert (await asyncio.to_thread(wait_final, stack, warm))["status"] == "done"
        table = await asyncio.to_thread(run_corpus, stack, items)
        timed: dict[str, float] = {}
        direct = {await publish_direct(stack, i): i for i in items if i.api == "415"}
        sent = time.monotonic()
        results = await results_for(stack.bootstrap, set(direct), timeout=60)
        for media_id, item in direct.items():
            result = results.get(media_id)
            assert result is not None, f"{item.name}: no result from the worker"
            assert result["status"] == "failed", item.name
            assert item.reason in result["error"], (item.name, result["error"])
            timed[item.name] = time.monotonic() - sent
            table.append((f"{item.name} (event)", "failed", result["error"], timed[item.name]))
        assert max(timed.values()) < SECONDS * len(direct), timed  # all of them, one after another
        logo = httpx.put(
            f"{stack.url}/v1/brands/hostile",
            json={"name": "Hostile", "palette": [{"hex": "#000000"}]},
        )
        assert logo.status_code == 200, logo.text
        started = time.monotonic()
        bomb = httpx.put(
            f"{stack.url}/v1/brands/hostile/logo",
            content=png_declaring(100_000, 100_000),
            headers={"content-type": "image/png"},
        )
        assert bomb.status_code == 422 and "declares 100000x100000" in bomb.text
        message = bomb.json()["error"]["message"]
        table.append(("bomb_logo.png (PUT logo)", "422", message, time.monotonic() - started))
        after = await asyncio.to_thread(upload, stack, tmp_path / "still.jpg")
        assert (await asyncio.to_thread(wait_final, stack, after))["status"] == "done"
        assert stack.worker.poll() is None  # the same worker process, still running
        peak = decoder_peak_mb(worker_pid)
        assert peak < MEMORY_MB, f"a decoder process reached {peak:.0f} MB"
        ids = [row[4] for row in table if len(row) > 4]
        await asyncio.to_thread(lake_counts, stack, ids)
        events = list((await results_for(stack.bootstrap, set(ids) | set(direct), 10)).values())
        assert connections == [], "a decoder connected to the canary listener"
        assert canary_everywhere(stack, bucket, events) == []
    finally:
        stack.stop()
    print(f"\n{'file':34} {'outcome':8} {'s':>5}  reason")
    for name, outcome, reason, seconds, *_ in table:
        print(f"{name:34} {outcome:8} {seconds:5.2f}  {reason[:90]}")
    print(f"decoder processes' peak RSS: {peak:.0f} MB")


def run_corpus(stack: Deployment, items: list[Item]) -> list[tuple[Any, ...]]:
    """Upload every item; wait for each accepted one's result; return the table rows."""
    rows: list[tuple[Any, ...]] = []
    for item in items:
        started = time.monotonic()
        r = httpx.post(f"{stack.url}/v1/media", files={"file": (item.name, item.data)}, timeout=30)
        if item.api == "415":
            assert r.status_code == 415, (item.name, r.status_code, r.text)
            error = r.json()["error"]
            assert item.reason in error["message"] and error["hint"], (item.name, error)
            rows.append((f"{item.name} (API)", "415", error["message"], time.monotonic() - started))
            continue
        assert r.status_code == 202, (item.name, r.text)
        media_id = r.json()["media_id"]
        final = wait_final(stack, media_id, timeout=30)
        seconds = time.monotonic() - started
        reason = final.get("error") or ""
        if item.outcome != "either":
            assert final["status"] == item.outcome, (item.name, final)
        if final["status"] == "failed":
            assert item.reason in reason and len(reason) > 10, (item.name, reason)
        assert seconds < SECONDS, f"{item.name}: {seconds:.1f} s"
        rows.append((item.name, final["status"], reason, seconds, media_id))
    return rows


def test_the_corpus_is_what_it_claims(
    tmp_path: Path, canary_listener: tuple[int, list[Any]]
) -> None:
    """The controls: ffmpeg given a playlist, with its protocols let loose, connects to the
    listener (so the listener would see one); the polyglot is a real JPEG; the declared sizes
    are real headers."""
    port, connections = canary_listener
    canary_file = tmp_path / "secret.txt"
    canary_file.write_text(CANARY)
    items = {i.name: i for i in corpus(tmp_path, canary_file, port, "127.0.0.1:9")}
    plain = tmp_path / "playlist.m3u8"
    plain.write_bytes(items["hls_canary.mp4"].data)
    lax = ["-protocol_whitelist", "file,http,tcp", "-allowed_extensions", "ALL"]
    args = [ffmpeg_exe(), "-v", "error", *lax, "-i", str(plain), "-f", "null", "-"]
    subprocess.run(args, capture_output=True, timeout=30)
    deadline = time.monotonic() + 5
    while not connections and time.monotonic() < deadline:
        time.sleep(0.05)
    assert connections, "unconfined ffmpeg did not follow the playlist to the listener"
    assert (
        cv2.imdecode(np.frombuffer(items["jpeg_then_playlist.jpg"].data, np.uint8), 1) is not None
    )
    header = items["declares_65k.jpg"].data
    assert struct.unpack(">HH", header[25:29]) == (65_500, 65_500)
