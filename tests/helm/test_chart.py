"""The chart rendered with default values and with each switch on, checked as Kubernetes objects."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
import yaml  # type: ignore[import-untyped,unused-ignore]

from tests.helm.k8s import container, objects
from tests.helm.render import CHART, manifests, render, values

ROOT = CHART.parents[1]
ALL_ON = {
    "worker": {"autoscaling": {"enabled": True}},
    "metrics": {
        "serviceMonitor": {"enabled": True},
        "prometheusRule": {"enabled": True},
        "grafanaDashboard": {"enabled": True},
    },
}


@pytest.fixture(scope="module")
def default() -> dict[tuple[str, str], dict[str, Any]]:
    return objects()


def test_default_render_has_exactly_the_core_objects(default: dict[Any, Any]) -> None:
    assert sorted(default) == [
        ("ConfigMap", "reelscope-config"),
        ("CronJob", "reelscope-lake-compact"),
        ("Deployment", "reelscope-api"),
        ("Deployment", "reelscope-worker"),
        ("NetworkPolicy", "reelscope-api"),
        ("NetworkPolicy", "reelscope-lake-compact"),
        ("NetworkPolicy", "reelscope-worker"),
        ("PodDisruptionBudget", "reelscope-api"),
        ("PodDisruptionBudget", "reelscope-worker"),
        ("Service", "reelscope-api"),
        ("ServiceAccount", "reelscope"),
    ]
    assert not any(kind == "Secret" for kind, _ in default), "secrets are never rendered"


@pytest.mark.parametrize(
    ("component", "command", "ports"),
    [("api", "api", {"http": 8080, "metrics": 9464}), ("worker", "worker", {"metrics": 6066})],
)
def test_deployment_runs_the_command_on_the_configured_port(
    default: dict[Any, Any], component: str, command: str, ports: dict[str, int]
) -> None:
    c = container(default[("Deployment", f"reelscope-{component}")])
    assert c["command"] == ["reelscope", command]
    assert {p["name"]: p["containerPort"] for p in c["ports"]} == ports
    assert c["image"] == "ghcr.io/reelscope/reelscope:0.1.0"
    assert c["envFrom"] == [{"configMapRef": {"name": "reelscope-config"}}]


def test_probes(default: dict[Any, Any]) -> None:
    api = container(default[("Deployment", "reelscope-api")])
    assert api["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert api["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    # the lifespan reads keys from the bucket before the port answers: liveness waits for it
    assert api["startupProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    startup = api["startupProbe"]["periodSeconds"] * api["startupProbe"]["failureThreshold"]
    liveness = api["livenessProbe"]["periodSeconds"] * api["livenessProbe"]["failureThreshold"]
    assert startup >= 120 > liveness
    assert api["readinessProbe"]["timeoutSeconds"] > 5, "longer than /readyz's bucket check"
    worker = container(default[("Deployment", "reelscope-worker")])
    for probe in ("startupProbe", "readinessProbe"):
        assert worker[probe]["httpGet"] == {"path": "/metrics", "port": "metrics"}
    assert worker["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "metrics"}
    assert worker["ports"][0]["name"] == "metrics"


@pytest.mark.parametrize("component", ["api", "worker"])
def test_pods_are_locked_down(default: dict[Any, Any], component: str) -> None:
    deployment = default[("Deployment", f"reelscope-{component}")]
    pod = deployment["spec"]["template"]["spec"]
    c = container(deployment)
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["automountServiceAccountToken"] is False
    assert c["securityContext"]["readOnlyRootFilesystem"] is True
    assert c["securityContext"]["allowPrivilegeEscalation"] is False
    assert c["securityContext"]["capabilities"]["drop"] == ["ALL"]
    assert {"name": "tmp", "mountPath": "/tmp"} in c["volumeMounts"]
    assert {v["name"]: v for v in pod["volumes"]}["tmp"]["emptyDir"]["sizeLimit"]
    assert c["resources"]["requests"] and c["resources"]["limits"]["memory"]
    soft = pod["affinity"]["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"]
    assert (
        soft[0]["podAffinityTerm"]["labelSelector"]["matchLabels"]
        == (deployment["spec"]["selector"]["matchLabels"])
    )


@pytest.mark.parametrize("component", ["api", "worker"])
def test_secrets_come_from_the_existing_secret(default: dict[Any, Any], component: str) -> None:
    env = container(default[("Deployment", f"reelscope-{component}")])["env"]
    refs = {e["name"]: e["valueFrom"]["secretKeyRef"] for e in env if "valueFrom" in e}
    wanted = values()["secrets"][component]
    assert set(refs) == set(wanted)
    for name, ref in refs.items():
        assert ref == {
            "name": "reelscope",
            "key": wanted[name]["key"],
            "optional": wanted[name]["optional"],
        }
    assert refs["REELSCOPE_API__KEYS"]["optional"] is False
    assert all("value" not in e or not e["name"].startswith(("REELSCOPE_", "AWS_")) for e in env)


def test_kafka_tls_files_are_mounted_read_only_in_every_pod(default: dict[Any, Any]) -> None:
    mounted = objects({"kafkaTls": {"secretName": "kafka-ca"}})
    pods = {
        name: obj["spec"]["template"]["spec"]
        for (kind, name), obj in mounted.items()
        if kind == "Deployment"
    }
    job = mounted[("CronJob", "reelscope-lake-compact")]["spec"]["jobTemplate"]["spec"]
    pods["reelscope-lake-compact"] = job["template"]["spec"]
    assert len(pods) == 3
    for name, pod in pods.items():
        assert {"name": "kafka-tls", "secret": {"secretName": "kafka-ca"}} in pod["volumes"], name
        mount = {"name": "kafka-tls", "mountPath": "/etc/reelscope/kafka", "readOnly": True}
        assert mount in pod["containers"][0]["volumeMounts"], name
    plain = [v["name"] for obj in default.values() for v in _volumes(obj)]
    assert plain and "kafka-tls" not in plain  # nothing mounted unless asked


def _volumes(obj: dict[str, Any]) -> list[dict[str, Any]]:
    spec = obj.get("spec", {})
    pod = spec.get("template", spec.get("jobTemplate", {}).get("spec", {}).get("template", {}))
    return list(pod.get("spec", {}).get("volumes", []))


def test_worker_keeps_faust_state_on_the_writable_tmp(default: dict[Any, Any]) -> None:
    env = container(default[("Deployment", "reelscope-worker")])["env"]
    assert {"name": "FAUST_DATADIR", "value": "/tmp/faust"} in env


def test_selectors_match_pod_labels(default: dict[Any, Any]) -> None:
    for component in ("api", "worker"):
        deployment = default[("Deployment", f"reelscope-{component}")]
        selector = deployment["spec"]["selector"]["matchLabels"]
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert selector.items() <= labels.items() and selector["app.kubernetes.io/component"]
        pdb = default[("PodDisruptionBudget", f"reelscope-{component}")]
        assert pdb["spec"]["selector"]["matchLabels"] == selector
    service = default[("Service", "reelscope-api")]
    api_labels = default[("Deployment", "reelscope-api")]["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= api_labels.items()
    assert service["spec"]["ports"][0]["targetPort"] == "http"


def test_config_change_rolls_the_pods() -> None:
    def checksum(overrides: dict[str, Any] | None) -> str:
        d = objects(overrides)[("Deployment", "reelscope-worker")]
        return str(d["spec"]["template"]["metadata"]["annotations"]["checksum/config"])

    assert checksum(None) != checksum({"config": {"worker": {"lake_flush_seconds": 30}}})


def test_keda_scales_the_worker_on_the_consumer_groups_lag() -> None:
    objs = objects(ALL_ON)
    scaled = objs[("ScaledObject", "reelscope-worker")]["spec"]
    trigger = scaled["triggers"][0]
    assert trigger["type"] == "kafka"
    assert trigger["metadata"]["consumerGroup"] == values()["config"]["kafka"]["consumer_group"]
    assert trigger["metadata"]["bootstrapServers"] == values()["config"]["kafka"]["bootstrap"]
    assert all(isinstance(v, str) for v in trigger["metadata"].values())
    assert scaled["scaleTargetRef"]["name"] == "reelscope-worker"
    assert "replicas" not in objs[("Deployment", "reelscope-worker")]["spec"]


def test_hpa_is_the_alternative() -> None:
    objs = objects({"worker": {"autoscaling": {"enabled": True, "kind": "hpa"}}})
    hpa = objs[("HorizontalPodAutoscaler", "reelscope-worker")]["spec"]
    assert hpa["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": "reelscope-worker",
    }
    assert not any(kind == "ScaledObject" for kind, _ in objs)


def test_workers_never_outnumber_partitions() -> None:
    v = values()
    assert v["worker"]["autoscaling"]["maxReplicas"] <= v["config"]["kafka"]["partitions"]
    assert v["worker"]["replicaCount"] <= v["config"]["kafka"]["partitions"]


def test_monitoring_objects_ship_the_rules_and_dashboard() -> None:
    objs = objects(ALL_ON)
    rules = yaml.safe_load((ROOT / "dashboards/alerts/reelscope.rules.yml").read_text())
    assert objs[("PrometheusRule", "reelscope")]["spec"] == rules
    board = objs[("ConfigMap", "reelscope-dashboard")]
    assert board["metadata"]["labels"]["grafana_dashboard"] == "1"
    dashboard = json.loads((ROOT / "dashboards/grafana/reelscope.json").read_text())
    assert json.loads(board["data"]["reelscope.json"]) == dashboard
    assert objs[("ServiceMonitor", "reelscope-api")]["spec"]["endpoints"][0]["port"] == "metrics"
    service_ports = {
        p["name"]: p["targetPort"] for p in objs[("Service", "reelscope-api")]["spec"]["ports"]
    }
    assert service_ports == {"http": "http", "metrics": "metrics"}
    assert objs[("PodMonitor", "reelscope-worker")]["spec"]["podMetricsEndpoints"][0] == {
        "port": "metrics",
        "path": "/metrics",
        "interval": "30s",
    }


@pytest.mark.parametrize(
    ("copy", "source"),
    [
        ("files/reelscope.rules.yml", "dashboards/alerts/reelscope.rules.yml"),
        ("files/reelscope-dashboard.json", "dashboards/grafana/reelscope.json"),
    ],
)
def test_chart_copies_equal_the_sources(copy: str, source: str) -> None:
    assert (CHART / copy).read_bytes() == (ROOT / source).read_bytes()


def _has_path(tree: Any, path: list[str]) -> bool:
    for part in path:
        if not isinstance(tree, dict) or part not in tree:
            return False
        tree = tree[part]
    return True


def test_lake_compaction_runs_hourly_with_the_workers_config(default: dict[Any, Any]) -> None:
    job = default[("CronJob", "reelscope-lake-compact")]
    assert job["spec"]["schedule"] == "17 * * * *"
    assert job["spec"]["concurrencyPolicy"] == "Forbid"
    pod = job["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    [c] = pod["containers"]
    assert c["command"] == ["reelscope", "lake", "compact", "--grace", "600"]
    assert c["envFrom"] == [{"configMapRef": {"name": "reelscope-config"}}]
    assert {e["name"] for e in c["env"]} >= {"AWS_ACCESS_KEY_ID", "REELSCOPE_API__KEYS"}
    assert c["securityContext"]["readOnlyRootFilesystem"] is True
    assert pod["restartPolicy"] == "Never"
    assert ("CronJob", "reelscope-lake-compact") not in objects(
        {"lakeCompaction": {"enabled": False}}
    )


def test_every_values_reference_in_templates_exists() -> None:
    """Branches the renders above do not take are still checked, by name."""
    v = values()
    refs = {
        ref
        for path in (CHART / "templates").iterdir()
        for ref in re.findall(r"\.Values((?:\.[A-Za-z0-9_]+)+)", path.read_text())
    }
    assert len(refs) > 30
    missing = sorted(r for r in refs if not _has_path(v, r.strip(".").split(".")))
    assert not missing


def test_notes_tell_what_to_create(default: dict[Any, Any]) -> None:
    notes = render()["NOTES.txt"]
    assert "create secret generic reelscope" in notes and "api-keys" in notes
    assert "change-me placeholder" in notes
    configured = render(
        {"config": {"kafka": {"bootstrap": "kafka:9092"}, "store": {"url": "s3://media"}}}
    )["NOTES.txt"]
    assert "placeholder" not in configured


def test_release_name_prefixes_every_object() -> None:
    names = {d["metadata"]["name"] for d in manifests(render(release="media-prod"))}
    assert names and all(n.startswith("media-prod-reelscope") for n in names)
