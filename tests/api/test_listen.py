"""Without API keys every caller gets every scope, so such an API listens on loopback only:
asking it to listen anywhere else is refused at start, with what to set. The worker's metrics
listen on loopback unless told otherwise (or in production, where a pod is scraped)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from api.settings import ApiKey, ApiSettings, Settings, hash_key
from processors.config import WorkerSettings
from streams.worker import metrics_host

ROOT = Path(__file__).resolve().parents[2]
KEY = ApiKey(name="ops", sha256=hash_key("k"), scopes=["admin"])


@pytest.mark.parametrize("host", ["127.0.0.1", "::1", "localhost"])
def test_no_keys_on_loopback_is_allowed(host: str) -> None:
    assert Settings(api=ApiSettings(host=host)).api.keys == []


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "10.1.2.3"])
def test_no_keys_elsewhere_is_refused(host: str) -> None:
    with pytest.raises(ValidationError, match="without API keys would give every caller"):
        Settings(api=ApiSettings(host=host))
    assert Settings(api=ApiSettings(host=host, keys=[KEY])).api.host == host


def test_the_api_process_refuses_to_start_open_on_every_address(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("REELSCOPE_")}
    env |= {
        "REELSCOPE_API__HOST": "0.0.0.0",
        "REELSCOPE_STORE__URL": f"file://{tmp_path}",
        "PYTHONPATH": str(ROOT),
    }
    run = subprocess.run(
        [sys.executable, "-m", "streams.cli", "api"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert run.returncode != 0
    assert "set REELSCOPE_API__KEYS, or listen on 127.0.0.1" in run.stderr + run.stdout


def test_worker_metrics_listen_on_loopback_unless_told() -> None:
    assert metrics_host(Settings()) == "127.0.0.1"
    production = Settings(
        environment="production", api=ApiSettings(keys=[KEY], session_secret="s" * 32)
    )
    assert metrics_host(production) == "0.0.0.0"
    told = Settings(worker=WorkerSettings(web_host="10.0.0.5"))
    assert metrics_host(told) == "10.0.0.5"


def test_production_refuses_to_start_without_a_shared_session_secret() -> None:
    with pytest.raises(ValidationError, match="REELSCOPE_API__SESSION_SECRET"):
        Settings(environment="production", api=ApiSettings(keys=[KEY]))
    with pytest.raises(ValidationError, match="at least 32"):
        ApiSettings(keys=[KEY], session_secret="too-short")
