"""deploy/compose.yaml without a Docker daemon: what can be checked from the files is.

Each service built from the repository runs a `reelscope` command the image has; every host
path mounted exists; every REELSCOPE_ variable names a setting the process reads, and the
settings they make validate; Prometheus scrapes compose services on the ports those settings
open, with the shipped rules (`promtool check config` over the files laid out as the
containers see them); Grafana is provisioned with both data sources the dashboards ask for
and reads the dashboards from dashboards/grafana.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, get_args
from urllib.parse import urlsplit

import pytest
import yaml  # type: ignore[import-untyped,unused-ignore]
from pydantic import BaseModel

import api.settings
import processors.config
from api.settings import hash_key
from streams.cli import parser
from streams.worker import metrics_host

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
COMPOSE = DEPLOY / "compose.yaml"
PROMTOOL = Path(sys.executable).with_name("promtool")
GRAFANA_KEY = "rsk_grafana-test"
# what deploy/.env holds (made up): exactly the variables compose requires (`${VAR:?...}`)
FAKE_ENV = {
    "MINIO_ROOT_PASSWORD": "minio-root-secret",
    "REELSCOPE_S3_SECRET_KEY": "reelscope-s3-secret",
    "GRAFANA_ADMIN_PASSWORD": "grafana-admin-secret",
    "REELSCOPE_OPERATOR_KEY_SHA256": hash_key("rsk_operator-test"),
    "REELSCOPE_GRAFANA_KEY": GRAFANA_KEY,
    "REELSCOPE_GRAFANA_KEY_SHA256": hash_key(GRAFANA_KEY),
    "REELSCOPE_SESSION_SECRET": "s" * 64,
}
# variables the processes read that are not reelscope settings (boto3's credentials)
OTHER_ENV = {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}
_VARIABLE = re.compile(r"\$\$|\$\{(\w+)(?:(:?[-?])([^}]*))?\}|\$(\w+)")


def interpolate(text: str, env: Mapping[str, str]) -> str:
    """Compose's interpolation: ${V}, ${V:-default}, ${V-default}, ${V:?error}, ${V?error}, $$."""

    def one(m: re.Match[str]) -> str:
        if m.group(0) == "$$":
            return "$"
        name, op, arg = m.group(1) or m.group(4), m.group(2), m.group(3) or ""
        value = env.get(name)
        unset = value is None or (op is not None and op.startswith(":") and value == "")
        if op is not None and op.endswith("?") and unset:
            raise KeyError(f"{name}: {arg}")
        if op is not None and op.endswith("-") and unset:
            return arg
        return value or ""

    return _VARIABLE.sub(one, text)


def resolved(tree: Any, env: Mapping[str, str]) -> Any:
    if isinstance(tree, str):
        return interpolate(tree, env)
    if isinstance(tree, list):
        return [resolved(x, env) for x in tree]
    if isinstance(tree, dict):
        return {k: resolved(v, env) for k, v in tree.items()}
    return tree


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return dict(resolved(yaml.safe_load(COMPOSE.read_text()), FAKE_ENV))


def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return dict(compose["services"])


def built(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {name: s for name, s in services(compose).items() if "build" in s}


def bind_mounts(service: dict[str, Any]) -> dict[str, Path]:
    """Container path -> host path of the service's bind mounts (short syntax)."""
    mounts = {}
    for volume in service.get("volumes", []):
        source, target = volume.split(":")[:2]
        if source.startswith((".", "/")):
            mounts[target] = (DEPLOY / source).resolve()
    return mounts


def settings_class(service: dict[str, Any]) -> type[processors.config.Settings]:
    """The API reads api.settings.Settings, every other command the shared root."""
    return api.settings.Settings if service["command"][0] == "api" else processors.config.Settings


def field_of(model: type[BaseModel], path: list[str]) -> Any:
    """The field a REELSCOPE_A__B name sets (names are case-insensitive), or AssertionError."""
    fields = model.model_fields
    assert path[0] in fields, f"{model.__name__} has no field {path[0]!r}"
    annotation = fields[path[0]].annotation
    if len(path) == 1:
        return annotation
    nested = [
        a
        for a in (annotation, *get_args(annotation))
        if isinstance(a, type) and issubclass(a, BaseModel)
    ]
    assert nested, f"{model.__name__}.{path[0]} has no fields of its own"
    return field_of(nested[0], path[1:])


def settings_of(
    service: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> processors.config.Settings:
    """The settings the service's process builds from its environment (and only from it)."""
    for name in [n for n in os.environ if n.startswith("REELSCOPE_")]:
        monkeypatch.delenv(name)
    for name, value in service["environment"].items():
        monkeypatch.setenv(name, str(value))
    return settings_class(service)()


def test_interpolation_follows_compose() -> None:
    env = {"SET": "x", "EMPTY": ""}
    assert interpolate("${SET}-${EMPTY:-d}-${EMPTY-d}-${UNSET-d}-$$SET", env) == "x-d--d-$SET"
    with pytest.raises(KeyError, match="EMPTY"):
        interpolate("${EMPTY:?set it}", env)
    with pytest.raises(KeyError, match="UNSET"):
        interpolate("${UNSET?set it}", env)


def test_required_variables_are_the_documented_ones() -> None:
    text = COMPOSE.read_text()
    required = set(re.findall(r"\$\{(\w+):?\?", text))
    assert required == set(FAKE_ENV), "a new ${VAR:?} needs a value here and in .env.example"
    example = (DEPLOY / ".env.example").read_text()
    documented = set(re.findall(r"^(\w+)=", example, re.MULTILINE))
    assert set(re.findall(r"\$\{(\w+)", text)) <= documented


def test_a_setting_that_does_not_exist_is_refused() -> None:
    assert field_of(api.settings.Settings, ["api", "metrics_port"])
    with pytest.raises(AssertionError, match="no field 'metric_port'"):
        field_of(api.settings.Settings, ["api", "metric_port"])
    with pytest.raises(AssertionError, match="no field 'keys'"):
        field_of(processors.config.Settings, ["api", "keys"])  # the worker has no API keys


def test_services_built_here_run_commands_of_the_image(compose: dict[str, Any]) -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    entrypoint = json.loads(re.findall(r"^ENTRYPOINT (.+)$", dockerfile, re.MULTILINE)[-1])
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert entrypoint == ["reelscope"] and scripts["reelscope"] == "streams.cli:main"
    assert set(built(compose)) == {"api", "worker"}
    for service in built(compose).values():
        assert (DEPLOY / service["build"]["context"]).resolve() == ROOT
        assert (ROOT / service["build"]["dockerfile"]).is_file()
        parser().parse_args(service["command"])  # exits on a command or option it lacks


def test_other_images_are_pinned(compose: dict[str, Any]) -> None:
    for name, service in services(compose).items():
        image = service["image"]
        if "build" not in service:
            assert ":" in image and not image.endswith(":latest"), name


def test_mounted_host_paths_exist(compose: dict[str, Any]) -> None:
    named = set(compose.get("volumes", {}))
    for name, service in services(compose).items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith((".", "/")):
                path = (DEPLOY / source).resolve()
                assert path.exists(), f"{name} mounts {source}, which is not in the repository"
                assert path.is_relative_to(ROOT)
            else:
                assert source in named, f"{name}: volume {source} is not declared"


def test_environment_names_are_settings_the_process_reads(compose: dict[str, Any]) -> None:
    for name, service in built(compose).items():
        cls = settings_class(service)
        for variable in service["environment"]:
            if variable in OTHER_ENV:
                continue
            assert variable.startswith("REELSCOPE_"), f"{name}: {variable} is read by nothing"
            field_of(cls, variable.removeprefix("REELSCOPE_").lower().split("__"))


def test_the_settings_validate(compose: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    api_settings = settings_of(services(compose)["api"], monkeypatch)
    assert isinstance(api_settings, api.settings.Settings)
    assert api_settings.kafka.bootstrap == "kafka:9092" and api_settings.store.url.startswith("s3")
    worker = settings_of(services(compose)["worker"], monkeypatch)
    assert worker.store == api_settings.store and worker.kafka == api_settings.kafka
    assert urlsplit(worker.store.endpoint_url or "").hostname in services(compose)


def _port(url: str) -> int:
    port = urlsplit(url).port
    assert port is not None, url
    return port


def test_ports_agree_with_the_settings(
    compose: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    svc = services(compose)
    api_settings = settings_of(svc["api"], monkeypatch)
    assert isinstance(api_settings, api.settings.Settings)
    assert api_settings.api.host == "0.0.0.0" and api_settings.metrics_port == 9464
    assert svc["api"]["ports"] == [f"127.0.0.1:{api_settings.api.port}:{api_settings.api.port}"]
    assert _port(svc["api"]["healthcheck"]["test"][-1].split("'")[1]) == api_settings.api.port
    worker = settings_of(svc["worker"], monkeypatch)
    assert metrics_host(worker) == "0.0.0.0" and worker.worker.web_port == 6066
    assert _port(svc["worker"]["healthcheck"]["test"][-1].split("'")[1]) == 6066


def prometheus_config() -> dict[str, Any]:
    return dict(yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text()))


def test_prometheus_scrapes_the_api_and_every_worker(
    compose: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    svc = services(compose)
    jobs = {j["job_name"]: j for j in prometheus_config()["scrape_configs"]}
    api_settings = settings_of(svc["api"], monkeypatch)
    assert isinstance(api_settings, api.settings.Settings)
    [api_target] = jobs["reelscope-api"]["static_configs"][0]["targets"]
    assert api_target == f"api:{api_settings.metrics_port}"
    [dns] = jobs["reelscope-worker"]["dns_sd_configs"]
    worker = settings_of(svc["worker"], monkeypatch)
    assert dns["names"] == ["worker"] and dns["port"] == worker.worker.web_port
    for job in jobs.values():
        hosts = [t.split(":")[0] for c in job.get("static_configs", []) for t in c["targets"]]
        hosts += [n for c in job.get("dns_sd_configs", []) for n in c["names"]]
        assert set(hosts) <= set(svc) | {"localhost"}, job["job_name"]
    # the worker-down alerts select the workers by job name
    rules = (ROOT / "dashboards" / "alerts" / "reelscope.rules.yml").read_text()
    for pattern in set(re.findall(r'up\{job=~"([^"]+)"\}', rules)):
        assert re.fullmatch(pattern, "reelscope-worker")
        assert not re.fullmatch(pattern, "reelscope-api")


def test_promtool_checks_the_config_and_its_rules(compose: dict[str, Any], tmp_path: Path) -> None:
    """The files placed where the container sees them: relative rule paths resolve alike."""
    service = services(compose)["prometheus"]
    for target, source in bind_mounts(service).items():
        place = tmp_path / target.lstrip("/")
        place.parent.mkdir(parents=True, exist_ok=True)
        place.symlink_to(source)
    [flag] = [c for c in service["command"] if c.startswith("--config.file=")]
    config = tmp_path / flag.split("=", 1)[1].lstrip("/")
    assert PROMTOOL.is_file(), f"{PROMTOOL} missing: `make .venv/bin/promtool`"
    run = subprocess.run(
        [str(PROMTOOL), "check", "config", str(config)], capture_output=True, text=True
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "SUCCESS: 1 rule files found" in run.stdout + run.stderr
    assert "reelscope.rules.yml" in run.stdout + run.stderr


def grafana_files(compose: dict[str, Any]) -> tuple[dict[str, Any], Path, dict[str, Path]]:
    service = services(compose)["grafana"]
    mounts = bind_mounts(service)
    return service, mounts["/etc/grafana/provisioning"], mounts


def test_grafana_reads_the_repository_dashboards(compose: dict[str, Any]) -> None:
    _, provisioning, mounts = grafana_files(compose)
    assert provisioning == DEPLOY / "grafana" / "provisioning"
    [provider] = yaml.safe_load((provisioning / "dashboards" / "reelscope.yml").read_text())[
        "providers"
    ]
    assert mounts[provider["options"]["path"]] == ROOT / "dashboards" / "grafana"


def test_grafana_has_the_data_sources_the_dashboards_pick(
    compose: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    service, provisioning, _ = grafana_files(compose)
    sources = yaml.safe_load((provisioning / "datasources" / "reelscope.yml").read_text())
    by_type = {d["type"]: d for d in sources["datasources"]}
    wanted = {
        v["query"]
        for board in (ROOT / "dashboards" / "grafana").glob("*.json")
        for v in json.loads(board.read_text())["templating"]["list"]
        if v["type"] == "datasource"
    }
    assert wanted == set(by_type)
    assert "yesoreyeram-infinity-datasource" in service["environment"]["GF_INSTALL_PLUGINS"]
    prometheus = urlsplit(by_type["prometheus"]["url"])
    assert prometheus.hostname == "prometheus" and prometheus.port == 9090
    assert not any("listen-address" in c for c in services(compose)["prometheus"]["command"])
    infinity = by_type["yesoreyeram-infinity-datasource"]
    api_settings = settings_of(services(compose)["api"], monkeypatch)
    assert isinstance(api_settings, api.settings.Settings)
    assert infinity["url"] == f"http://api:{api_settings.api.port}"
    assert infinity["jsonData"]["allowedHosts"] == [infinity["url"]]
    # the header the API reads a key from, and a key it knows that may read results
    assert infinity["jsonData"]["httpHeaderName1"] == "X-API-Key"
    variable = re.fullmatch(r"\$\{(\w+)\}", infinity["secureJsonData"]["httpHeaderValue1"])
    assert variable, "the key comes from Grafana's environment, not from this file"
    key = service["environment"][variable.group(1)]
    [known] = [k for k in api_settings.api.keys if k.sha256 == hash_key(key)]
    assert "results:read" in known.scopes


def test_dependencies_name_services(compose: dict[str, Any]) -> None:
    svc = services(compose)
    for name, service in svc.items():
        depends = service.get("depends_on", [])
        assert set(depends) <= set(svc) - {name}, name
        if isinstance(depends, dict):
            assert all(
                d["condition"]
                in {"service_started", "service_healthy", "service_completed_successfully"}
                for d in depends.values()
            )
            for other, d in depends.items():
                if d["condition"] == "service_healthy":
                    assert "healthcheck" in svc[other], f"{name} waits on {other}'s health"
