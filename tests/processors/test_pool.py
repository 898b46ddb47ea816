"""Decoder pool children end with the process that started the pool, however it ends.

They are forked by multiprocessing's fork server and ignore SIGTERM (their parent stops
them), so a worker killed or stopped without shutting its pool down left them running: 146 of
them, 150 MB each, had piled up on this machine after a day of end-to-end tests.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PARENT = """
import os, sys, time
from processors.pool import RenewingPool
pool = RenewingPool(2)
pids = {pool.submit(os.getpid).result(timeout=60) for _ in range(20)}
print(" ".join(map(str, sorted(pids))), flush=True)
time.sleep(600)
"""


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGTERM])
def test_pool_children_end_with_their_parent(how: signal.Signals) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT], env=env, stdout=subprocess.PIPE, text=True
    )
    try:
        assert parent.stdout is not None
        children = [int(p) for p in parent.stdout.readline().split()]
        assert children and all(alive(p) for p in children)
        parent.send_signal(how)  # the parent only, as a crash or an OOM kill would
        parent.wait(timeout=30)
        deadline = time.monotonic() + 10
        while any(alive(p) for p in children) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert [p for p in children if alive(p)] == []
    finally:
        parent.kill()


STOPPED = """
import os, signal, sys, time
from processors.pool import RenewingPool
signal.signal(signal.SIGTERM, lambda *_: None)  # a worker that stops by itself, later
pool = RenewingPool(1)
pool.submit(os.getpid).result(timeout=60)
slow = pool.submit(time.sleep, 3)
print("ready", flush=True)
slow.result(timeout=30)  # BrokenProcessPool if the group's SIGTERM broke the pool
print("finished", flush=True)
"""


def test_a_sigterm_to_the_process_group_lets_running_work_finish() -> None:
    """An orchestrator stops the worker's whole group; the fork server is in it."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    parent = subprocess.Popen(
        [sys.executable, "-c", STOPPED],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    assert parent.stdout is not None
    assert parent.stdout.readline().strip() == "ready"
    os.killpg(parent.pid, signal.SIGTERM)
    out, err = parent.communicate(timeout=30)
    assert "finished" in out, err[-2000:]
