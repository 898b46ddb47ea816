"""A whole reelscope stack for end-to-end tests: real broker, worker and API processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from processors.synthetic.samples import demo_set
from streams.admin import ensure_topics
from streams.broker import EmbeddedBroker, free_port

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Deployment:
    """Worker and API processes sharing one broker and one bucket."""

    bootstrap: str
    store_url: str
    logs: Path
    extra_env: dict[str, str] = field(default_factory=dict)
    worker_env: dict[str, str] = field(default_factory=dict)  # the worker's only (e.g. TMPDIR)
    api_port: int = field(default_factory=free_port)
    worker: subprocess.Popen[bytes] | None = None
    api: subprocess.Popen[bytes] | None = None

    @property
    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "REELSCOPE_KAFKA__BOOTSTRAP": self.bootstrap,
            "REELSCOPE_STORE__URL": self.store_url,
            "REELSCOPE_API__PORT": str(self.api_port),
            "REELSCOPE_WORKER__WEB_PORT": str(free_port()),
            "REELSCOPE_WORKER__LAKE_FLUSH_SECONDS": "1",
            "REELSCOPE_ANALYZER__NAME": "local",
            # a killed worker's partitions come back once its session expires: keep it short
            "REELSCOPE_KAFKA__SESSION_TIMEOUT_S": "3",
            "REELSCOPE_KAFKA__HEARTBEAT_S": "0.5",
            "REELSCOPE_LOG_LEVEL": "INFO",
            **self.extra_env,
        }

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    def _spawn(self, role: str) -> subprocess.Popen[bytes]:
        log = (self.logs / f"{role}.log").open("ab")
        return subprocess.Popen(
            [sys.executable, "-m", "streams.cli", role],
            env=self.env | (self.worker_env if role == "worker" else {}),
            cwd=ROOT,
            stdout=log,
            stderr=log,
            start_new_session=True,
        )

    def start_worker(self) -> None:
        self.worker = self._spawn("worker")

    def spawn_worker(self) -> subprocess.Popen[bytes]:
        """Another worker in the same consumer group (its own metrics port)."""
        return self._spawn("worker")

    @staticmethod
    def stop_process(proc: subprocess.Popen[bytes], timeout: float = 15) -> None:
        """SIGTERM, as an orchestrator stops a pod; SIGKILL if it does not stop in time."""
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()

    def kill_worker(self) -> None:
        """kill -9: no clean shutdown, no final commit."""
        assert self.worker is not None
        os.killpg(self.worker.pid, signal.SIGKILL)
        self.worker.wait()

    def start(self) -> Deployment:
        self.start_worker()
        self.api = self._spawn("api")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert self.api.poll() is None, (self.logs / "api.log").read_text()[-3000:]
            try:
                if httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        raise AssertionError("API not ready in 60 s:\n" + (self.logs / "api.log").read_text())

    def wait_assigned(self, timeout: float = 60) -> None:
        """Until the worker owns its partitions (its consumer is in the group)."""
        deadline = time.monotonic() + timeout
        log = self.logs / "worker.log"
        while b'"partitions_assigned"' not in log.read_bytes():
            assert time.monotonic() < deadline, (
                "no partitions assigned:\n" + log.read_text()[-3000:]
            )
            time.sleep(0.2)

    def stop(self) -> None:
        for proc in (self.worker, self.api):
            if proc is not None and proc.poll() is None:
                self.stop_process(proc)


@contextmanager
def one_partition_stack(folder: Path, extra_env: dict[str, str]) -> Iterator[Deployment]:
    """Worker and API on a broker of their own whose topics have one partition each (media
    queue behind one another), a folder bucket and logs under `folder`."""
    with EmbeddedBroker() as broker:
        ensure_topics(broker.bootstrap, partitions=1)
        (folder / "bucket").mkdir()
        (folder / "logs").mkdir()
        env = {"REELSCOPE_KAFKA__PARTITIONS": "1", **extra_env}
        deployment = Deployment(
            broker.bootstrap, f"file://{folder / 'bucket'}", folder / "logs", env
        )
        try:
            yield deployment.start()
        finally:
            deployment.stop()


@pytest.fixture
def own_broker() -> Iterator[EmbeddedBroker]:
    """A broker of the test's own (memory storage, 3 partitions): a test that restarts,
    resets or fills things must not disturb the session broker."""
    with EmbeddedBroker() as b:
        ensure_topics(b.bootstrap, partitions=3)
        yield b


@pytest.fixture(scope="session")
def samples(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return demo_set(tmp_path_factory.mktemp("samples"))


@pytest.fixture(scope="session")
def local_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    """The embedded default: a folder bucket, the local analyzer, a broker of its own (on the
    session broker its worker would take, and fail, the uploads of the API tests)."""
    bucket = tmp_path_factory.mktemp("bucket")
    with EmbeddedBroker() as own_broker:
        ensure_topics(own_broker.bootstrap, partitions=6)
        logs = tmp_path_factory.mktemp("logs")
        deployment = Deployment(own_broker.bootstrap, f"file://{bucket}", logs)
        yield deployment.start()
        deployment.stop()


@pytest.fixture(scope="session")
def s3_stack(s3_endpoint: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    """The production shape on one machine: an S3 bucket (moto) and its own broker."""
    import boto3

    bucket = "reelscope-e2e"
    boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1").create_bucket(
        Bucket=bucket
    )
    with EmbeddedBroker() as own_broker:
        ensure_topics(own_broker.bootstrap)
        deployment = Deployment(
            own_broker.bootstrap,
            f"s3://{bucket}",
            tmp_path_factory.mktemp("s3logs"),
            extra_env={"REELSCOPE_STORE__ENDPOINT_URL": s3_endpoint},
        )
        yield deployment.start()
        deployment.stop()
