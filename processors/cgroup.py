"""The container's CPU and memory, read from its cgroup on every scrape, for both processes.

`process_cpu_seconds_total` and `process_resident_memory_bytes` count one process; the worker's
CPU goes mostly to its pool's children (OpenCV, ffmpeg, OCR), which no process metric sees, and
the kernel throttles and OOM-kills by the cgroup, not by the process. The cgroup's own counters
cover the whole container, so alerts at 90 % of its limits compare like with like:

- `reelscope_cgroup_cpu_seconds_total`: CPU time of every task in the cgroup;
- `reelscope_cgroup_cpu_limit_cores`: the CFS quota in cores (+Inf when `max`: no quota);
- `reelscope_cgroup_memory_bytes`: memory charged to the cgroup (page cache included);
- `reelscope_cgroup_memory_working_set_bytes`: that minus the inactive file cache, which the
  kernel reclaims before it OOM-kills (what the kubelet and cAdvisor call the working set);
- `reelscope_cgroup_memory_limit_bytes`: the hard limit (+Inf when `max` or none).

cgroup v2 (one hierarchy, `cgroup.controllers` at the root) is read first, v1 (a folder per
controller) otherwise. The cgroup is the one `/proc/self/cgroup` names under the root when that
folder exists (a host, a systemd unit, a container sharing the host's cgroup namespace), else
the root itself (a container's private namespace shows its own cgroup there). A file that is
missing or unreadable leaves its series out; nothing raises into the scrape.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import REGISTRY, CollectorRegistry

ROOT = Path("/sys/fs/cgroup")
MEMBERSHIP = Path("/proc/self/cgroup")
# cgroup v1 writes "no limit" as the largest page-aligned counter (2^63 - 4096 on 64-bit kernels)
V1_UNLIMITED = 2**62


@dataclass(frozen=True)
class Reading:
    """One scrape's values; None: the file was not there to read."""

    cpu_seconds: float | None = None
    cpu_limit_cores: float | None = None
    memory_bytes: float | None = None
    memory_working_set_bytes: float | None = None
    memory_limit_bytes: float | None = None


def _text(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except (OSError, UnicodeDecodeError):
        return None


def _number(path: Path) -> float | None:
    text = _text(path)
    try:
        return float(text) if text is not None else None
    except ValueError:
        return None


def _stat(path: Path) -> dict[str, float]:
    """A flat keyed file (`cpu.stat`, `memory.stat`): `name value` per line."""
    found: dict[str, float] = {}
    for line in (_text(path) or "").splitlines():
        name, _, value = line.partition(" ")
        try:
            found[name] = float(value)
        except ValueError:
            continue
    return found


def _working_set(usage: float | None, stat: dict[str, float], inactive: str) -> float | None:
    if usage is None:
        return None
    return max(0.0, usage - stat.get(inactive, 0.0))


def membership(path: Path | None) -> dict[str, str]:
    """Controller -> cgroup path from `/proc/self/cgroup` ("" is v2's unified hierarchy)."""
    paths: dict[str, str] = {}
    text = _text(path) if path is not None else None
    for line in (text or "").splitlines():
        parts = line.split(":", 2)
        if len(parts) == 3:
            for controller in parts[1].split(","):
                paths[controller] = parts[2]
    return paths


def _folder(root: Path, names: list[str], own: str | None) -> Path:
    """The process's own cgroup under one of `root/name` if it exists there, else the first
    `root/name` that exists (a private namespace mounts the container's cgroup right there)."""
    tops = [root / name if name else root for name in names]
    if own and own != "/":
        for top in tops:
            if (top / own.lstrip("/")).is_dir():
                return top / own.lstrip("/")
    return next((top for top in tops if top.is_dir()), tops[0])


def read_v2(folder: Path) -> Reading:
    """Unified hierarchy: usage_usec of cpu.stat, `quota period` of cpu.max, memory.*."""
    usage = _stat(folder / "cpu.stat").get("usage_usec")
    limit: float | None = None
    quota = (_text(folder / "cpu.max") or "").split()
    if quota and quota[0] == "max":
        limit = math.inf
    elif len(quota) == 2:
        try:
            limit = float(quota[0]) / float(quota[1])
        except (ValueError, ZeroDivisionError):
            limit = None
    memory = _number(folder / "memory.current")
    top = _text(folder / "memory.max")
    memory_limit = math.inf if top == "max" else _number(folder / "memory.max")
    return Reading(
        cpu_seconds=usage / 1e6 if usage is not None else None,
        cpu_limit_cores=limit,
        memory_bytes=memory,
        memory_working_set_bytes=_working_set(
            memory, _stat(folder / "memory.stat"), "inactive_file"
        ),
        memory_limit_bytes=memory_limit,
    )


def read_v1(cpu: Path, cpuacct: Path, memory: Path) -> Reading:
    """A folder per controller: cpuacct.usage (ns), cfs quota and period (us), memory.*."""
    usage = _number(cpuacct / "cpuacct.usage")
    quota, period = _number(cpu / "cpu.cfs_quota_us"), _number(cpu / "cpu.cfs_period_us")
    limit: float | None = None
    if quota is not None and quota < 0:
        limit = math.inf
    elif quota is not None and period:
        limit = quota / period
    used = _number(memory / "memory.usage_in_bytes")
    top = _number(memory / "memory.limit_in_bytes")
    stat = _stat(memory / "memory.stat")
    inactive = "total_inactive_file" if "total_inactive_file" in stat else "inactive_file"
    return Reading(
        cpu_seconds=usage / 1e9 if usage is not None else None,
        cpu_limit_cores=limit,
        memory_bytes=used,
        memory_working_set_bytes=_working_set(used, stat, inactive),
        memory_limit_bytes=math.inf if top is not None and top >= V1_UNLIMITED else top,
    )


def read(root: Path = ROOT, proc_cgroup: Path | None = MEMBERSHIP) -> Reading:
    """The cgroup of this process under `root` (v2 if mounted there, else v1)."""
    own = membership(proc_cgroup)
    if (root / "cgroup.controllers").exists():
        return read_v2(_folder(root, [""], own.get("")))

    cpu = _folder(root, ["cpu", "cpu,cpuacct"], own.get("cpu"))
    cpuacct = _folder(root, ["cpuacct", "cpu,cpuacct"], own.get("cpuacct"))
    return read_v1(cpu, cpuacct, _folder(root, ["memory"], own.get("memory")))


class CgroupCollector:
    """A Prometheus collector of the container's cgroup; `registry=None` registers nowhere.

    `CgroupCollector()` registers in the default registry (the worker's); the API passes its
    own. Tests point `root` at a folder of fake cgroup files and `proc_cgroup` at None.
    """

    def __init__(
        self,
        root: Path = ROOT,
        proc_cgroup: Path | None = MEMBERSHIP,
        registry: CollectorRegistry | None = REGISTRY,
    ) -> None:
        self.root = root
        self.proc_cgroup = proc_cgroup
        if registry is not None:
            registry.register(self)

    def describe(self) -> Iterator[Metric]:
        """The families without reading a file, so registering never touches /sys."""
        return self._families(Reading())

    def collect(self) -> Iterator[Metric]:
        return self._families(read(self.root, self.proc_cgroup))

    @staticmethod
    def _families(r: Reading) -> Iterator[Metric]:
        cpu = CounterMetricFamily(
            "reelscope_cgroup_cpu_seconds", "CPU time used by every task of the container's cgroup"
        )
        gauges = (
            (
                "reelscope_cgroup_cpu_limit_cores",
                "CPU quota of the container's cgroup in cores (+Inf: no quota)",
                r.cpu_limit_cores,
            ),
            (
                "reelscope_cgroup_memory_bytes",
                "Memory charged to the container's cgroup, page cache included",
                r.memory_bytes,
            ),
            (
                "reelscope_cgroup_memory_working_set_bytes",
                "Memory of the container's cgroup minus its inactive file cache (working set)",
                r.memory_working_set_bytes,
            ),
            (
                "reelscope_cgroup_memory_limit_bytes",
                "Memory limit of the container's cgroup (+Inf: no limit)",
                r.memory_limit_bytes,
            ),
        )
        if r.cpu_seconds is not None:
            cpu.add_metric([], r.cpu_seconds)
        yield cpu
        for name, documentation, value in gauges:
            family = GaugeMetricFamily(name, documentation)
            if value is not None:
                family.add_metric([], value)
            yield family
