"""ffmpeg children with hard limits: memory, CPU time, file writes and wall time.

Every parse of untrusted bytes runs in an `ffmpeg` child process that reads local files only
(`-protocol_whitelist file,pipe`), with a demuxer chosen from the sniffed type (never HLS, concat
or image2 globbing), an empty environment, and hard limits on memory, CPU time, file writes and
wall time. The limits are set by a `/bin/sh` `ulimit` wrapper rather than `preexec_fn`, which is
unsafe in threaded callers such as an event loop with executors. The child gets no sockets
(`processors.media.confine`): inherited from a confined process (the decoder pool's children),
or set by the `confine.py` launcher, which sets the limits too, where the caller keeps its
network (the API, the worker's event loop).
"""

from __future__ import annotations

import functools
import math
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

from processors.errors import MediaError, MediaLimitExceeded
from processors.media import confine
from processors.media.limits import LimitSettings
from processors.media.sniff import DEMUXERS

_LIMITED = 'ulimit -v "$1" && ulimit -t "$2" && ulimit -f 0 && ulimit -c 0 && shift 2 && exec "$@"'
_COMPLAINT = re.compile(r"^\[([^\] @]+)[^\]]*\] (.+)$")


@functools.cache
def ffmpeg_exe() -> str:
    """Return the system ffmpeg if on PATH, else the one bundled in imageio-ffmpeg."""
    found = shutil.which("ffmpeg")
    if found:
        return found
    import imageio_ffmpeg

    return str(imageio_ffmpeg.get_ffmpeg_exe())


def input_args(
    path: Path,
    ctype: str,
    limits: LimitSettings,
    seconds: float | None = None,
    *,
    reopen: bool = False,
) -> list[str]:
    """Build the hardened input half of an ffmpeg command line for a sniffed file.

    Only the accepted codecs' decoders, and nothing read past the duration cap (plus the
    second `probe` needs to see that a file runs longer than it says) or past `seconds` from
    where the input starts. This is the input's only `-t`: ffmpeg keeps the last one given.

    `reopen`: the file was probed already and is opened again to decode a short stretch (a
    motion run, a GOP to refine). ffmpeg's stream-info pass is skipped: it decodes frames from
    the start of every stream whatever the seek, ~85 ms of CPU for a 1080p H.264 file, more
    than the stretch itself; the header's stream list is the one the probe checked."""
    cap = limits.max_duration_s + 1
    read = cap if seconds is None else min(seconds, cap)
    again = ["-nofind_stream_info"] if reopen else []
    return [
        "-hide_banner",
        "-nostdin",
        "-threads",
        "1",
        "-protocol_whitelist",
        "file,pipe",
        "-codec_whitelist",
        limits.decoder_whitelist(),
        "-max_pixels",
        str(limits.max_pixels),
        "-t",
        f"{read:.6f}",
        *again,
        "-f",
        DEMUXERS[ctype][0],
        "-i",
        f"file:{path.resolve()}",
    ]


def run_limited(args: list[str], limits: LimitSettings) -> tuple[bytes, str]:
    """Run ffmpeg with hard limits and an empty environment; return stdout and stderr.

    Raises `MediaLimitExceeded` when a limit stopped it and `MediaError` when it failed.
    """
    cpu_s = max(1, math.ceil(limits.decode_timeout_s))
    limit_args = [str(limits.decoder_memory_mb * 1024), str(cpu_s)]
    if confine.confined():  # the filter is inherited: the shell's limits are all it needs
        cmd = ["/bin/sh", "-c", _LIMITED, "reelscope-ffmpeg", *limit_args, ffmpeg_exe(), *args]
    else:
        launcher = [sys.executable, "-I", "-S", confine.__file__]
        cmd = [*launcher, *limit_args, ffmpeg_exe(), *args]
    proc = subprocess.Popen(  # its own session: a Ctrl-C to the worker is not the decoder's
        cmd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={},
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(timeout=limits.decode_timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        msg = f"decoding took longer than {limits.decode_timeout_s:g} s, the limit"
        raise MediaLimitExceeded(msg) from None
    text = err.decode("utf-8", errors="replace")
    if proc.returncode != 0:
        raise _failure(proc.returncode, text, limits)
    return out, text


def _failure(returncode: int, stderr: str, limits: LimitSettings) -> MediaError:
    """Classify a failed ffmpeg run: a limit it hit, or media it could not read."""
    if returncode in (-signal.SIGKILL, -signal.SIGXCPU):
        msg = f"decoding used more than {math.ceil(limits.decode_timeout_s)} s of CPU, the limit"
        return MediaLimitExceeded(msg)
    crashed = returncode in (-signal.SIGSEGV, -signal.SIGABRT, -signal.SIGBUS)
    if crashed or "Cannot allocate memory" in stderr:
        msg = f"the decoder ran out of its {limits.decoder_memory_mb} MB memory limit or crashed"
        return MediaLimitExceeded(msg)
    if "exceeds specified max pixel count" in stderr:
        msg = f"the picture is larger than the limit of {limits.max_pixels / 1e6:.2f} MP"
        return MediaLimitExceeded(msg)
    return MediaError(_readable_error(stderr))


def _readable_error(stderr: str) -> str:
    """Turn ffmpeg's first complaint about the input into a sentence without paths."""
    for line in stderr.splitlines():
        m = _COMPLAINT.match(line)
        if not m or m.group(1).startswith(("out#", "null", "Parsed_")) or "file:" in line:
            continue
        reason = m.group(2).strip()
        if "unspecified size" in reason:
            reason = "no picture size could be read"
        if reason and not reason.startswith("Error opening input"):
            return f"the media could not be decoded ({reason[:200]})"
    return "the media could not be decoded"
