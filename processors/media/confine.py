"""Confine code that parses untrusted media: no sockets, and no peeking at the parent.

A decoder exploited by a hostile file runs with the decoder's rights. Two Linux mechanisms take
away what it would want first:

- `deny_network()` installs a seccomp filter that refuses `socket()` (and `io_uring_setup`,
  which can make sockets around it) with EACCES, in this process and every process it starts
  from then on (filters survive fork and execve). The decoder pool's children call it once at
  start, so their ffmpeg runs are confined at no cost per run; a process that must keep the
  network (the API rendering evidence) runs ffmpeg through this file as a launcher instead
  (`python -I -S confine.py MEM_KB CPU_S program args…`: limits, filter, then exec).
- `hide_from_children()` marks the process non-dumpable, so a process of the same user (the
  decoder) can neither read its `/proc/<pid>/environ` (AWS and Gemini keys) nor its memory.

Standard library only, and runnable as a file: the launcher starts without site-packages.
"""

from __future__ import annotations

import ctypes
import errno
import os
import platform
import resource
import struct
import sys

PR_SET_DUMPABLE = 4
PR_SET_NO_NEW_PRIVS = 38
PR_SET_SECCOMP = 22
SECCOMP_MODE_FILTER = 2
SECCOMP_RET_KILL_PROCESS = 0x80000000
SECCOMP_RET_ERRNO = 0x00050000
SECCOMP_RET_ALLOW = 0x7FFF0000
X32_SYSCALL_BIT = 0x40000000
# (audit arch, socket, io_uring_setup) per machine; another ABI on the same CPU is killed
ARCHES = {
    "x86_64": (0xC000003E, 41, 425),
    "aarch64": (0xC00000B7, 198, 425),
}
BPF_LD_W_ABS, BPF_JEQ_K, BPF_JGE_K, BPF_RET_K = 0x20, 0x15, 0x35, 0x06
SECCOMP_DATA_NR, SECCOMP_DATA_ARCH = 0, 4


class ConfineError(OSError):
    pass


class _Program(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def _insn(code: int, jt: int, jf: int, k: int) -> bytes:
    return struct.pack("HBBI", code, jt, jf, k)


def _filter(arch: int, socket_nr: int, uring_nr: int) -> bytes:
    refuse = SECCOMP_RET_ERRNO | errno.EACCES
    return b"".join(
        [
            _insn(BPF_LD_W_ABS, 0, 0, SECCOMP_DATA_ARCH),
            _insn(BPF_JEQ_K, 1, 0, arch),
            _insn(BPF_RET_K, 0, 0, SECCOMP_RET_KILL_PROCESS),
            _insn(BPF_LD_W_ABS, 0, 0, SECCOMP_DATA_NR),
            _insn(BPF_JGE_K, 0, 1, X32_SYSCALL_BIT),
            _insn(BPF_RET_K, 0, 0, SECCOMP_RET_KILL_PROCESS),
            _insn(BPF_JEQ_K, 0, 1, socket_nr),
            _insn(BPF_RET_K, 0, 0, refuse),
            _insn(BPF_JEQ_K, 0, 1, uring_nr),
            _insn(BPF_RET_K, 0, 0, refuse),
            _insn(BPF_RET_K, 0, 0, SECCOMP_RET_ALLOW),
        ]
    )


def _prctl(option: int, *args: object) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl.restype = ctypes.c_int
    if libc.prctl(ctypes.c_int(option), *args) != 0:
        code = ctypes.get_errno()
        raise ConfineError(code, f"prctl({option}) failed: {os.strerror(code)}")


_confined = False


def confined() -> bool:
    """Whether `deny_network()` ran in this process (its children are confined too)."""
    return _confined


def deny_network() -> None:
    """Refuse sockets to this process and all it starts from now on (Linux x86-64, arm64)."""
    global _confined
    if _confined:
        return
    machine = ARCHES.get(platform.machine())
    if sys.platform != "linux" or machine is None:
        msg = f"no seccomp filter for {sys.platform}/{platform.machine()}"
        raise ConfineError(errno.ENOSYS, msg)
    program = _filter(*machine)
    buffer = ctypes.create_string_buffer(program, len(program))
    prog = _Program(len(program) // 8, ctypes.cast(buffer, ctypes.c_void_p))
    ulong = ctypes.c_ulong
    _prctl(PR_SET_NO_NEW_PRIVS, ulong(1), ulong(0), ulong(0), ulong(0))
    _prctl(PR_SET_SECCOMP, ulong(SECCOMP_MODE_FILTER), ctypes.c_void_p(ctypes.addressof(prog)))
    _confined = True


def hide_from_children() -> None:
    """Make /proc/<this pid>/environ and the memory unreadable to same-user processes."""
    ulong = ctypes.c_ulong
    _prctl(PR_SET_DUMPABLE, ulong(0), ulong(0), ulong(0), ulong(0))


def main(argv: list[str]) -> None:
    """MEM_KB CPU_S PROGRAM ARGS…: set the limits, deny the network, exec the program."""
    memory_kb, cpu_s, program = int(argv[0]), int(argv[1]), argv[2]
    resource.setrlimit(resource.RLIMIT_AS, (memory_kb * 1024, memory_kb * 1024))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_s, cpu_s))
    resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    deny_network()
    os.execv(program, [program, *argv[3:]])


if __name__ == "__main__":
    main(sys.argv[1:])
