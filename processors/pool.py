"""A process pool for decoders that survives the death of a child.

CPU-heavy work (ffmpeg, OpenCV) runs in child processes: the event loop stays free for
heartbeats and I/O, and a crash in a decoder only breaks a child process, which is replaced.
"""

from __future__ import annotations

import errno
import multiprocessing
import multiprocessing.forkserver
import os
import select
import signal
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from typing import Any, TypeVar

import structlog

from processors.media import confine

log = structlog.get_logger(__name__)
R = TypeVar("R")

# What a decoder child keeps of the worker's environment: locale, paths and the decoders' own
# knobs. Everything else (AWS, Gemini and Kafka credentials, API keys) stays in the worker.
KEPT_ENV = ("PATH", "LANG", "LANGUAGE", "TZ", "TMPDIR", "HOME")
KEPT_ENV_PREFIXES = ("LC_", "OPENCV_", "OMP_", "REELSCOPE_LIMITS__", "REELSCOPE_LOG_")
_START = threading.Lock()


class RenewingPool(Executor):
    """A process pool that replaces itself once a child dies.

    A decoder killed by its limits (or crashing on hostile input) breaks a
    `ProcessPoolExecutor` for good; the task that broke it fails, the next submit gets a new
    pool. Children are forked by multiprocessing's fork server (forking the worker itself, which
    has threads, is unsafe), and the server is started with `KEPT_ENV` only: a decoder taken
    over by hostile media finds no credential in its environment or its memory.
    """

    def __init__(self, size: int) -> None:
        self._size = size
        self._pool = self._new()

    def _new(self) -> ProcessPoolExecutor:
        with _START, _decoder_environment():
            multiprocessing.set_forkserver_preload(["processors.forkserver"])
            multiprocessing.forkserver.ensure_running()  # no-op while it runs
        return ProcessPoolExecutor(
            self._size,
            mp_context=multiprocessing.get_context("forkserver"),
            initializer=_start_child,
            initargs=(os.getpid(),),
        )

    def submit(self, fn: Callable[..., R], /, *args: Any, **kwargs: Any) -> Future[R]:
        try:
            return self._pool.submit(fn, *args, **kwargs)
        except BrokenProcessPool:
            log.error("worker_pool_broken", hint="a decoder process died; starting a new pool")
            self._pool.shutdown(wait=False)
            self._pool = self._new()
            return self._pool.submit(fn, *args, **kwargs)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self._pool.shutdown(wait=wait, cancel_futures=cancel_futures)


def _kept(name: str) -> bool:
    """Whether a decoder child may see the environment variable `name`."""
    return name in KEPT_ENV or name.startswith(KEPT_ENV_PREFIXES)


@contextmanager
def _decoder_environment() -> Iterator[None]:
    """Narrow this process's environment to the `KEPT_ENV` variables for a moment.

    The fork server is a new program that inherits the environment as it is when it starts
    (multiprocessing offers no other way to give it one). It starts once, before the pool's
    first task, or again if it died.
    """
    withheld = {k: v for k, v in os.environ.items() if not _kept(k)}
    for name in withheld:
        del os.environ[name]
    try:
        yield
    finally:
        os.environ.update(withheld)


def _start_child(owner: int) -> None:
    """In a pool child: end with `owner` (the process that made the pool), confine it, then
    leave SIGINT/SIGTERM to the parent.

    The child parses untrusted media, so it gets no sockets, for itself and every decoder it
    starts (`processors.media.confine`). A Ctrl-C or a SIGTERM to the worker's process group
    would otherwise kill the children first, and every check in flight would end as a
    "decoder crashed" failure, so the parent stops the pool itself.
    """
    _end_with(owner)
    try:
        confine.deny_network()
        confine.hide_from_children()
    except confine.ConfineError as e:
        if e.errno != errno.ENOSYS:
            raise
        log.warning("decoders_not_confined", reason=str(e))
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


def _end_with(owner: int) -> None:
    """Exit as soon as `owner` has ended, however it ended.

    The fork server, not the worker, is a pool child's parent, and each child holds the
    server's "alive" pipe, so neither sees the worker go: after a crash, an OOM kill or a
    SIGTERM that skipped the pool's shutdown, children ignoring SIGTERM waited for ever (146 of
    them, 150 MB each, after a day of end-to-end tests). A thread waits on a pidfd of the owner.
    """
    try:
        handle = os.pidfd_open(owner)
    except ProcessLookupError:
        os._exit(1)

    def wait() -> None:
        select.select([handle], [], [])
        os._exit(1)

    threading.Thread(target=wait, name="end-with-owner", daemon=True).start()
