"""NetworkPolicies and the API's autoscaler, checked as the objects Kubernetes would apply.

A policy that selects no pod, or the wrong one, enforces nothing and fails nothing at install:
the selectors are compared with the pods' own labels. The egress expected is spelled out port by
port, so a rule that opens more (or a rule without ports, which opens everything) fails here.
"""

from __future__ import annotations

from typing import Any

import jsonschema  # type: ignore[import-untyped,unused-ignore]
import pytest

from tests.helm.k8s import Objects, container, objects
from tests.helm.render import merge
from tests.helm.test_values import raw_values, schema

COMPONENTS = ("api", "worker", "lake-compact")
MONITORING = [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}]
KUBE_DNS = [
    {
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
        "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
    }
]
DNS = {(53, "UDP"), (53, "TCP")}
KAFKA = {(9092, "TCP"), (9093, "TCP")}
BUCKET = {(443, "TCP"), (9000, "TCP")}
GEMINI = {(443, "TCP")}


@pytest.fixture(scope="module")
def default() -> Objects:
    return objects()


def policy(objs: Objects, component: str) -> dict[str, Any]:
    return dict(objs[("NetworkPolicy", f"reelscope-{component}")]["spec"])


def pod_labels(objs: Objects, component: str) -> dict[str, str]:
    if component == "lake-compact":
        job = objs[("CronJob", "reelscope-lake-compact")]["spec"]["jobTemplate"]["spec"]
        return dict(job["template"]["metadata"]["labels"])
    deployment = objs[("Deployment", f"reelscope-{component}")]
    return dict(deployment["spec"]["template"]["metadata"]["labels"])


def ports_of(rules: list[dict[str, Any]]) -> set[tuple[int, str]]:
    return {(p["port"], p["protocol"]) for rule in rules for p in rule["ports"]}


def container_ports(objs: Objects, component: str) -> dict[str, int]:
    c = container(objs[("Deployment", f"reelscope-{component}")])
    return {p["name"]: p["containerPort"] for p in c["ports"]}


def test_each_policy_selects_its_components_pods_and_no_other(default: Objects) -> None:
    for component in COMPONENTS:
        spec = policy(default, component)
        selector = spec["podSelector"]["matchLabels"]
        assert selector.items() <= pod_labels(default, component).items(), component
        for other in set(COMPONENTS) - {component}:
            assert not selector.items() <= pod_labels(default, other).items(), (component, other)
        assert spec["policyTypes"] == ["Ingress", "Egress"], "both directions are enforced"
    for component in ("api", "worker"):
        deployment = default[("Deployment", f"reelscope-{component}")]
        assert policy(default, component)["podSelector"] == deployment["spec"]["selector"]


def test_api_is_reached_on_its_http_port_and_scraped_on_its_metrics_port(
    default: Objects,
) -> None:
    ingress = policy(default, "api")["ingress"]
    ports = container_ports(default, "api")
    assert [ports_of([rule]) for rule in ingress] == [
        {(ports["http"], "TCP")},
        {(ports["metrics"], "TCP")},
    ]
    assert "from" not in ingress[0], "by default anyone may call the API (ingress controllers)"
    assert ingress[1]["from"] == MONITORING


def test_api_callers_can_be_restricted_and_ports_follow_the_config() -> None:
    peer = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}}}
    override = {
        "networkPolicy": {"ingress": {"api": {"from": [peer]}}},
        "config": {"api": {"port": 8000}, "worker": {"web_port": 7000}},
    }
    jsonschema.validate(merge(raw_values(), override), schema())
    objs = objects(override)
    assert container_ports(objs, "api")["http"] == 8000
    assert policy(objs, "api")["ingress"][0] == {
        "ports": [{"port": 8000, "protocol": "TCP"}],
        "from": [peer],
    }
    assert container_ports(objs, "worker")["metrics"] == 7000
    assert ports_of(policy(objs, "worker")["ingress"]) == {(7000, "TCP")}


def test_workers_take_only_scrapes_on_their_metrics_and_health_port(default: Objects) -> None:
    ingress = policy(default, "worker")["ingress"]
    port = container_ports(default, "worker")["metrics"]
    assert ingress == [{"ports": [{"port": port, "protocol": "TCP"}], "from": MONITORING}]
    c = container(default[("Deployment", "reelscope-worker")])
    probes = ("startupProbe", "readinessProbe", "livenessProbe")
    assert {c[p]["httpGet"]["port"] for p in probes} == {"metrics"}, "one port serves them all"


def test_lake_compaction_takes_no_traffic(default: Objects) -> None:
    spec = policy(default, "lake-compact")
    assert "Ingress" in spec["policyTypes"] and "ingress" not in spec  # Ingress, no rule: none


def test_every_policy_lets_dns_out_on_udp_and_tcp_53(default: Objects) -> None:
    for component in COMPONENTS:
        egress = policy(default, component)["egress"]
        dns = [rule for rule in egress if (53, "UDP") in ports_of([rule])]
        assert len(dns) == 1, component
        assert ports_of(dns) == DNS, component
        assert dns[0]["to"] == KUBE_DNS, component


@pytest.mark.parametrize(
    ("component", "allowed"),
    [
        ("api", DNS | KAFKA | BUCKET),
        ("worker", DNS | KAFKA | BUCKET | GEMINI),
        ("lake-compact", DNS | BUCKET),
    ],
)
def test_egress_goes_only_to_dns_kafka_the_bucket_and_gemini(
    default: Objects, component: str, allowed: set[tuple[int, str]]
) -> None:
    egress = policy(default, component)["egress"]
    assert all(rule.get("ports") for rule in egress), "a rule without ports opens every port"
    assert ports_of(egress) == allowed


def test_egress_rules_take_the_configured_destinations() -> None:
    """NetworkPolicy cannot match hostnames: the operator narrows each rule to CIDRs."""

    def rule(cidr: str, port: int) -> dict[str, Any]:
        return {"to": [{"ipBlock": {"cidr": cidr}}], "ports": [{"port": port, "protocol": "TCP"}]}

    kafka, s3 = [rule("10.20.0.0/16", 9094)], [rule("52.216.0.0/15", 443)]
    gemini, extra = [rule("142.250.0.0/15", 443)], [rule("169.254.169.254/32", 80)]
    egress = {"kafka": kafka, "s3": s3, "gemini": gemini, "extra": extra}
    override = {"networkPolicy": {"egress": egress}}
    jsonschema.validate(merge(raw_values(), override), schema())
    objs = objects(override)
    assert policy(objs, "api")["egress"][1:] == kafka + s3 + extra
    assert policy(objs, "worker")["egress"][1:] == kafka + s3 + gemini + extra
    assert policy(objs, "lake-compact")["egress"][1:] == s3 + extra


def test_network_policies_can_be_switched_off() -> None:
    objs = objects({"networkPolicy": {"enabled": False}})
    assert not [name for kind, name in objs if kind == "NetworkPolicy"]
    no_job = objects({"lakeCompaction": {"enabled": False}})
    assert ("NetworkPolicy", "reelscope-lake-compact") not in no_job
    assert ("NetworkPolicy", "reelscope-worker") in no_job


def _np(path: str, value: Any) -> dict[str, Any]:
    tree: Any = value
    for part in reversed(path.split(".")):
        tree = {part: tree}
    return {"networkPolicy": tree}


@pytest.mark.parametrize(
    ("override", "why"),
    [
        (_np("egress.kafka", [{}]), "a rule with neither to nor ports allows all egress"),
        (_np("egress.kafka", [{"to": [], "ports": []}]), "empty to and ports: all egress too"),
        (_np("egress.s3", [{"to": [{"ipBlock": {"cidr": "s3.amazonaws.com"}}]}]), "a hostname"),
        (_np("egress.s3", [{"to": [{"ipBlock": {"except": ["10.0.0.0/8"]}}]}]), "no cidr"),
        (_np("egress.gemini", [{"to": [{}]}]), "an empty peer selects everything"),
        (_np("egress.kafka", [{"ports": [{"port": 9092, "protocol": "HTTP"}]}]), "protocol"),
        (_np("egress.kafka", [{"ports": [{"port": 70000}]}]), "port out of range"),
        (_np("egress.dns.to", [{"podSelector": {"matchLabel": {"k8s-app": "kube-dns"}}}]), "typo"),
        (_np("ingress.api.from", "anywhere"), "peers are a list"),
        (_np("ingress.metrics", {"form": []}), "a typo is not ignored"),
        (_np("enabled", "yes"), "a switch is a boolean"),
    ],
)
def test_schema_refuses_network_policies_that_would_not_do_what_they_say(
    override: dict[str, Any], why: str
) -> None:
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(merge(raw_values(), override), schema())


API_HPA = {
    "api": {
        "autoscaling": {
            "enabled": True,
            "minReplicas": 3,
            "maxReplicas": 9,
            "targetCPUUtilizationPercentage": 60,
        }
    },
    "worker": {"autoscaling": {"enabled": True, "kind": "hpa"}},
}


def test_api_autoscaler_targets_the_api_deployment_which_then_sets_no_replicas() -> None:
    jsonschema.validate(merge(raw_values(), API_HPA), schema())
    objs = objects(API_HPA)
    hpa = objs[("HorizontalPodAutoscaler", "reelscope-api")]
    assert hpa["apiVersion"] == "autoscaling/v2"
    target = hpa["spec"]["scaleTargetRef"]
    deployment = objs[(target["kind"], target["name"])]
    assert target["apiVersion"] == deployment["apiVersion"] == "apps/v1"
    assert deployment["spec"]["template"]["spec"]["containers"][0]["name"] == "api"
    assert "replicas" not in deployment["spec"], "the HPA owns the count"
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (3, 9)
    assert hpa["spec"]["metrics"] == [
        {
            "type": "Resource",
            "resource": {
                "name": "cpu",
                "target": {"type": "Utilization", "averageUtilization": 60},
            },
        }
    ]
    assert hpa["metadata"]["labels"]["app.kubernetes.io/component"] == "api"


def test_api_runs_a_fixed_count_without_the_autoscaler(default: Objects) -> None:
    assert not [name for kind, name in default if kind == "HorizontalPodAutoscaler"]
    assert default[("Deployment", "reelscope-api")]["spec"]["replicas"] == 2


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("minReplicas", 0),
        ("maxReplicas", "6"),
        ("targetCPUUtilizationPercentage", 120),
        ("enabled", "true"),
        ("kind", "keda"),
    ],
)
def test_schema_refuses_a_wrong_api_autoscaler(key: str, value: Any) -> None:
    override = {"api": {"autoscaling": {key: value}}}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(merge(raw_values(), override), schema())
