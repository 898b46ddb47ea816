"""A process pool for decoders that survives the death of a child.

CPU-heavy work (ffmpeg, OpenCV) runs in child processes: the event loop stays free for
heartbeats and I/O, and a crash in a decoder only breaks a child process, which is replaced.
"""

from __future__ import annotations

import errno
import multiprocessing
import signal
from collections.abc import Callable
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

import structlog

from processors.media import confine

log = structlog.get_logger(__name__)
R = TypeVar("R")


class RenewingPool(Executor):
    """A process pool that replaces itself once a child dies.

    A decoder killed by its limits (or crashing on hostile input) breaks a
    `ProcessPoolExecutor` for good; the task that broke it fails, the next submit gets a new
    pool. Children are spawned: forking a process that has threads is unsafe.
    """

    def __init__(self, size: int) -> None:
        self._size = size
        self._pool = self._new()

    def _new(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(
            self._size,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_start_child,
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


def _start_child() -> None:
    """In a pool child: confine it, then leave SIGINT/SIGTERM to the parent.

    The child parses untrusted media, so it gets no sockets, for itself and every decoder it
    starts (`processors.media.confine`). A Ctrl-C or a SIGTERM to the worker's process group
    would otherwise kill the children first, and every check in flight would end as a
    "decoder crashed" failure, so the parent stops the pool itself.
    """
    try:
        confine.deny_network()
        confine.hide_from_children()
    except confine.ConfineError as e:
        if e.errno != errno.ENOSYS:
            raise
        log.warning("decoders_not_confined", reason=str(e))
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
