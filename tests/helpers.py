"""What more than one test module makes the same way (events: `processors.synthetic.events`)."""

from __future__ import annotations

import struct
import subprocess
import zlib
from pathlib import Path

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.structs import ConsumerRecord

from processors.media.ffmpeg import ffmpeg_exe
from processors.synthetic import samples


def make_branded_clip(path: Path, logo: Path, *, audio: bool = True) -> Path:
    """A 2 s 360x640 clip with one cut and `logo`, a quarter of its width, at (0.35, 0.4)."""
    return samples.make_video(
        path,
        width=360,
        height=640,
        seconds=2,
        logo=logo,
        logo_pos=(0.35, 0.4),
        logo_scale=0.25,
        cuts=1,
        audio=audio,
    )


def png_declaring(width: int, height: int) -> bytes:
    """A 100-byte PNG whose header declares `width` x `height` (a decompression bomb's face)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = b"IHDR" + ihdr
    crc = struct.pack(">I", zlib.crc32(chunk))
    idat = zlib.compress(b"\0" * 1024)
    body = b"IDAT" + idat
    return (
        b"\x89PNG\r\n\x1a\n"
        + struct.pack(">I", len(ihdr))
        + chunk
        + crc
        + struct.pack(">I", len(idat))
        + body
        + struct.pack(">I", zlib.crc32(body))
    )


# (box, offset of its 32-bit duration after the box type, version 0)
DURATION_FIELDS = ((b"mvhd", 20), (b"tkhd", 24), (b"mdhd", 20))


def encode(path: Path, *args: str) -> Path:
    cmd = [ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi"]
    subprocess.run([*cmd, "-i", "testsrc=size=64x64:rate=10", *args, str(path)], check=True)
    return path


def with_duration(source: Path, target: Path, scale: float) -> Path:
    """Copy an MP4 with the durations its headers declare multiplied by `scale` (0: none).

    The sample tables and the edit list still hold every frame, so a demuxer reads them all."""
    data = bytearray(source.read_bytes())
    for box, offset in DURATION_FIELDS:
        at = data.find(box) + offset
        (value,) = struct.unpack_from(">I", data, at)
        struct.pack_into(">I", data, at, int(value * scale))
    target.write_bytes(bytes(data))
    return target


async def partition_records(bootstrap: str, topic: str) -> list[ConsumerRecord[bytes, bytes]]:
    """Every record partition 0 of `topic` holds now, from the start (a one-partition topic)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        tp = TopicPartition(topic, 0)
        consumer.assign([tp])
        end = (await consumer.end_offsets([tp]))[tp]
        await consumer.seek_to_beginning(tp)
        found: list[ConsumerRecord[bytes, bytes]] = []
        while await consumer.position(tp) < end:
            found += (await consumer.getmany(tp, timeout_ms=1000)).get(tp, [])
        return found
    finally:
        await consumer.stop()
