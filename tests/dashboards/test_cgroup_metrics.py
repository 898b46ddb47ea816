"""The cgroup collector on fake cgroup folders (v2 and v1, limits set and `max`), and its place
in both processes' registries: the CPU and memory alerts read nothing else."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest

import streams.metrics
from api.metrics import Metrics
from processors.cgroup import CgroupCollector, Reading, membership, read

GIB = 2**30


def files(folder: Path, **contents: str) -> Path:
    """Write cgroup files: `cpu_max="max 100000"` becomes folder/cpu.max."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in contents.items():
        (folder / name.replace("_", ".", 1)).write_text(text + "\n")
    return folder


def v2(root: Path, cpu_max: str = "150000 100000", memory_max: str = str(2 * GIB)) -> Path:
    (root / "cgroup.controllers").parent.mkdir(parents=True, exist_ok=True)
    (root / "cgroup.controllers").write_text("cpuset cpu io memory pids\n")
    return files(
        root,
        cpu_stat="usage_usec 2500000\nuser_usec 2000000\nsystem_usec 500000",
        cpu_max=cpu_max,
        memory_current=str(GIB),
        memory_max=memory_max,
        memory_stat="anon 600000000\nfile 400000000\ninactive_file 73741824\nactive_file 1",
    )


def collected(collector: CgroupCollector) -> dict[str, float]:
    registry = CollectorRegistry()
    registry.register(collector)
    return {
        s.name: s.value for family in registry.collect() for s in family.samples if s.labels == {}
    }


def test_v2_with_limits(tmp_path: Path) -> None:
    assert read(v2(tmp_path), None) == Reading(
        cpu_seconds=2.5,
        cpu_limit_cores=1.5,
        memory_bytes=GIB,
        memory_working_set_bytes=GIB - 73741824,
        memory_limit_bytes=2 * GIB,
    )


def test_v2_max_is_an_infinite_limit(tmp_path: Path) -> None:
    r = read(v2(tmp_path, cpu_max="max 100000", memory_max="max"), None)
    assert r.cpu_limit_cores == math.inf and r.memory_limit_bytes == math.inf
    assert r.cpu_seconds == 2.5


def test_the_exposition_carries_the_five_series_and_inf(tmp_path: Path) -> None:
    collector = CgroupCollector(v2(tmp_path, cpu_max="max 100000"), None, registry=None)
    assert collected(collector) == {
        "reelscope_cgroup_cpu_seconds_total": 2.5,
        "reelscope_cgroup_cpu_limit_cores": math.inf,
        "reelscope_cgroup_memory_bytes": GIB,
        "reelscope_cgroup_memory_working_set_bytes": GIB - 73741824,
        "reelscope_cgroup_memory_limit_bytes": 2 * GIB,
    }
    registry = CollectorRegistry()
    registry.register(collector)
    assert b"reelscope_cgroup_cpu_limit_cores +Inf" in generate_latest(registry)


def test_missing_files_leave_their_series_out(tmp_path: Path) -> None:
    """A cgroup without the cpu controller delegated has cpu.stat but no cpu.max."""
    root = v2(tmp_path)
    (root / "cpu.max").unlink()
    (root / "memory.max").write_text("garbage\n")
    values = collected(CgroupCollector(root, None, registry=None))
    assert "reelscope_cgroup_cpu_limit_cores" not in values
    assert "reelscope_cgroup_memory_limit_bytes" not in values
    assert values["reelscope_cgroup_cpu_seconds_total"] == 2.5


def test_no_cgroup_at_all_is_an_empty_scrape(tmp_path: Path) -> None:
    assert collected(CgroupCollector(tmp_path / "nothing", None, registry=None)) == {}


def test_v1_comounted_cpu_and_unlimited(tmp_path: Path) -> None:
    files(tmp_path / "cpu,cpuacct", cpuacct_usage="3000000000", cpu_cfs_quota_us="-1")
    (tmp_path / "cpu,cpuacct" / "cpu.cfs_period_us").write_text("100000\n")
    files(
        tmp_path / "memory",
        memory_usage_in_bytes="500000000",
        memory_limit_in_bytes="9223372036854771712",
        memory_stat="cache 100\ninactive_file 5\ntotal_inactive_file 100000000",
    )
    assert read(tmp_path, None) == Reading(
        cpu_seconds=3.0,
        cpu_limit_cores=math.inf,
        memory_bytes=500000000,
        memory_working_set_bytes=400000000,
        memory_limit_bytes=math.inf,
    )


def test_v1_quota_and_limit_of_the_process_own_cgroup(tmp_path: Path) -> None:
    """A shared cgroup namespace: /proc/self/cgroup names the container's folder under each
    controller's mount, and the mount's root is the whole host."""
    own = "/docker/abc"
    files(tmp_path / "cpuacct", cpuacct_usage="99000000000")  # the host's, not ours
    files(tmp_path / "cpuacct" / own[1:], cpuacct_usage="1000000000")
    files(tmp_path / "cpu" / own[1:], cpu_cfs_quota_us="50000")
    (tmp_path / "cpu" / own[1:] / "cpu.cfs_period_us").write_text("100000\n")
    files(
        tmp_path / "memory" / own[1:],
        memory_usage_in_bytes="300",
        memory_limit_in_bytes="1000",
        memory_stat="inactive_file 100",
    )
    proc = tmp_path / "self-cgroup"
    proc.write_text(f"12:memory:{own}\n4:cpu,cpuacct:{own}\n1:name=systemd:/\n0::/\n")
    assert membership(proc)["cpuacct"] == own
    assert read(tmp_path, proc) == Reading(1.0, 0.5, 300, 200, 1000)


def test_v2_reads_the_cgroup_named_in_proc_self_when_it_is_there(tmp_path: Path) -> None:
    v2(tmp_path, cpu_max="max 100000")
    v2(tmp_path / "system.slice" / "reelscope.service", cpu_max="200000 100000")
    proc = tmp_path / "self-cgroup"
    proc.write_text("0::/system.slice/reelscope.service\n")
    assert read(tmp_path, proc).cpu_limit_cores == 2.0
    proc.write_text("0::/elsewhere\n")  # not under this root: a private namespace's own root
    assert read(tmp_path, proc).cpu_limit_cores == math.inf


def test_registering_reads_no_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """describe() names the families without a read: a registry can take the collector on a
    host without cgroup files, and scraping later reads them."""

    def refuse(*_: object) -> None:
        raise AssertionError("read at registration")

    monkeypatch.setattr("processors.cgroup.read", refuse)
    registry = CollectorRegistry()
    CgroupCollector(tmp_path, None, registry=registry)
    names = {f.name for f in CgroupCollector(tmp_path, None, registry=None).describe()}
    assert "reelscope_cgroup_cpu_seconds" in names and len(names) == 5


def test_the_api_registry_has_the_cgroup_collector() -> None:
    metrics = Metrics()
    assert isinstance(metrics.cgroup, CgroupCollector)
    names = {f.name for f in metrics.registry.collect()}
    assert "reelscope_cgroup_memory_limit_bytes" in names


def test_the_worker_registry_has_the_cgroup_collector() -> None:
    """The worker serves the default registry (streams.health): streams.metrics registers the
    collector there when imported."""
    assert any(isinstance(v, CgroupCollector) for v in vars(streams.metrics).values())
    names = {f.name for f in REGISTRY.collect()}
    assert "reelscope_cgroup_cpu_seconds" in names
