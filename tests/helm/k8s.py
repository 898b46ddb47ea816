"""Rendered chart objects keyed as Kubernetes names them, and what a container would see."""

from __future__ import annotations

from typing import Any

from tests.helm.render import manifests, render

Objects = dict[tuple[str, str], dict[str, Any]]


def objects(overrides: dict[str, Any] | None = None) -> Objects:
    """Every rendered object by (kind, name); two objects sharing both would clash in a cluster."""
    docs = manifests(render(overrides))
    keyed = {(d["kind"], d["metadata"]["name"]): d for d in docs}
    assert len(keyed) == len(docs), "two objects share kind and name"
    return keyed


def container(deployment: dict[str, Any]) -> dict[str, Any]:
    pod = deployment["spec"]["template"]["spec"]
    assert len(pod["containers"]) == 1
    return dict(pod["containers"][0])


def container_env(objs: Objects, component: str) -> dict[str, str]:
    """The literal env a component's container starts with: its ConfigMaps (envFrom) resolved,
    then its own `env` values on top (secret references left out), as the kubelet builds it."""
    c = container(objs[("Deployment", f"reelscope-{component}")])
    env: dict[str, str] = {}
    for source in c.get("envFrom", []):
        env.update(objs[("ConfigMap", source["configMapRef"]["name"])]["data"])
    env.update({e["name"]: e["value"] for e in c.get("env", []) if "value" in e})
    return env
