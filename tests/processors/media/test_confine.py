"""A decoder gets no socket and cannot read its parent's environment.

Each case has its control: the same attempt without confinement succeeds, so a test that
passes says the confinement stopped it, not that the attempt never worked.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from processors.errors import MediaError
from processors.media import confine
from processors.media.ffmpeg import ffmpeg_exe, run_limited
from processors.media.limits import LimitSettings
from processors.pool import RenewingPool

LIMITS = LimitSettings(decode_timeout_s=30)
SYSTEM_PYTHON = shutil.which("python3", path="/usr/bin:/bin")


def open_a_socket() -> str:
    try:
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM).close()
    except OSError as e:
        return f"refused: {e.strerror}"
    return "opened"


def test_a_decoder_pool_child_cannot_open_a_socket() -> None:
    pool = RenewingPool(1)
    try:
        assert pool.submit(open_a_socket).result(timeout=60) == "refused: Permission denied"
    finally:
        pool.shutdown()
    assert open_a_socket() == "opened"  # the control: this process may


def stream_to_udp(args: list[str]) -> tuple[bool, str]:
    """Run ffmpeg writing a test pattern to a UDP port on loopback: did a packet arrive?"""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.settimeout(3)
        port = listener.getsockname()[1]
        out = [*args, "-f", "lavfi", "-i", "testsrc=size=64x64:rate=5", "-t", "1"]
        out += ["-f", "mpegts", f"udp://127.0.0.1:{port}"]
        try:
            _, stderr = run_limited(out, LIMITS)
        except Exception as e:  # a refused socket fails the run
            stderr = str(e)
        try:
            listener.recv(2048)
        except TimeoutError:
            return False, stderr
        return True, stderr


def test_ffmpeg_started_by_a_process_with_the_network_still_gets_no_socket() -> None:
    """The API and the worker's loop keep the network; their ffmpeg goes through the launcher."""
    assert not confine.confined()
    arrived, why = stream_to_udp(["-hide_banner"])
    assert not arrived, "the decoder reached the network"
    assert "Permission denied" in why or "permission" in why.lower(), why
    control = subprocess.run(
        [
            ffmpeg_exe(),
            "-hide_banner",
            "-loglevel",
            "error",
            "-f",
            "lavfi",
            "-i",
            "testsrc=size=64x64:rate=5",
            "-t",
            "1",
            "-f",
            "mpegts",
            "udp://127.0.0.1:9",
        ],
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert control.returncode == 0, "without the launcher ffmpeg streams to UDP (the control)"


PARENT = """
import os, subprocess, sys
sys.path.insert(0, sys.argv[1])
import confine
if sys.argv[2] == "hide":
    confine.hide_from_children()
child = subprocess.run(["/bin/cat", f"/proc/{os.getpid()}/environ"], capture_output=True)
print("read" if b"REELSCOPE_TEST_SECRET=s3cr3t" in child.stdout else "refused")
"""


@pytest.mark.parametrize(("mode", "expected"), [("hide", "refused"), ("show", "read")])
def test_a_child_cannot_read_a_hidden_parents_environment(mode: str, expected: str) -> None:
    """As an unprivileged user (root reads every process's files, so the test drops to nobody
    when it runs as root): the parent holds a secret in its environment, a child of the same
    user tries to read /proc/<parent>/environ."""
    assert SYSTEM_PYTHON, "no /usr/bin/python3 to run the parent as another user"
    folder = Path(tempfile.mkdtemp(prefix="reelscope-confine-"))  # pytest's tmp is root's only
    os.chmod(folder, 0o755)
    shutil.copy(confine.__file__, folder / "confine.py")
    os.chmod(folder / "confine.py", 0o644)
    as_nobody = {"user": 65534, "group": 65534, "extra_groups": []} if os.getuid() == 0 else {}
    run = subprocess.run(
        [SYSTEM_PYTHON, "-I", "-S", "-c", PARENT, str(folder), mode],
        env={"REELSCOPE_TEST_SECRET": "s3cr3t", "PATH": "/usr/bin:/bin"},
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        **as_nobody,  # type: ignore[arg-type]
    )
    shutil.rmtree(folder)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == expected


def test_the_launcher_keeps_the_decoders_limits(tmp_path: Path) -> None:
    """Through the launcher ffmpeg still may not write files (RLIMIT_FSIZE 0)."""
    target = tmp_path / "out.ts"
    with pytest.raises(MediaError):
        run_limited(
            ["-f", "lavfi", "-i", "testsrc=size=64x64:rate=5", "-t", "1", "-y", str(target)],
            LIMITS,
        )
    assert not target.exists() or target.stat().st_size == 0


# run in a new interpreter: this test process's fork server may already be running
ENV_CHILD = """
import os
from processors.pool import RenewingPool

def environment():
    return dict(os.environ), open("/proc/self/environ", "rb").read()

if __name__ == "__main__":
    pool = RenewingPool(1)
    env, raw = pool.submit(environment).result(timeout=60)
    pool.shutdown()
    print("canary" in repr(env), b"canary" in raw, env.get("OPENCV_IO_MAX_IMAGE_PIXELS"))
    print(os.environ["AWS_SECRET_ACCESS_KEY"])
"""


def test_a_decoder_pool_child_gets_no_credentials(tmp_path: Path) -> None:
    script = tmp_path / "child.py"
    script.write_text(ENV_CHILD)
    secrets = {
        "AWS_SECRET_ACCESS_KEY": "canary-aws",
        "REELSCOPE_GEMINI__API_KEY": "canary-gemini",
        "REELSCOPE_KAFKA__SECURITY__SASL_PASSWORD": "canary-kafka",
        "REELSCOPE_API__KEYS": '[{"sha256": "canary"}]',
    }
    env = {**os.environ, **secrets, "PYTHONPATH": str(Path(__file__).resolve().parents[3])}
    out = subprocess.run(
        [sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    leaked_env, leaked_memory, cap = out.stdout.split("\n")[0].split()
    assert (leaked_env, leaked_memory) == ("False", "False")
    assert cap == os.environ["OPENCV_IO_MAX_IMAGE_PIXELS"]  # the decoders' own knobs still reach it
    assert out.stdout.split("\n")[1] == "canary-aws"  # the parent keeps its own
