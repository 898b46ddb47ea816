"""Budget, rate, reconciler, worker, analyzer and API quota values: each one set in values reaches
the env of the container that reads it under the name Settings reads, and a wrong type is
refused by the schema before it could make a pod crash-loop on start."""

from __future__ import annotations

import functools
import json
import pathlib
from typing import Any

import jsonschema  # type: ignore[import-untyped,unused-ignore]
import pytest

from tests.helm.k8s import container_env, objects
from tests.helm.render import merge
from tests.helm.test_values import (
    API_KEYS,
    JSON_MAPS,
    Path_,
    raw_values,
    schema,
    settings_field,
    settings_from,
    value_at,
)


@functools.cache
def _default_env(component: str) -> dict[str, str]:
    return container_env(objects(), component)


def nested(path: Path_, value: Any) -> dict[str, Any]:
    tree: Any = value
    for part in reversed(path):
        tree = {part: tree}
    return {"config": tree}


def env_name(path: Path_) -> str:
    return "REELSCOPE_" + "__".join(path).upper()


# (container that reads it, config path, value set, the env var's text)
SET = [
    ("worker", ("gemini", "daily_budget_usd"), 50, "50"),
    ("worker", ("gemini", "monthly_budget_usd"), 1000, "1000"),
    ("worker", ("gemini", "brand_daily_budget_usd"), {"acme": 5, "b": 2.5}, '{"acme":5,"b":2.5}'),
    ("worker", ("gemini", "brand_monthly_budget_usd"), {"acme": 100}, '{"acme":100}'),
    ("worker", ("gemini", "default_brand_daily_budget_usd"), 5, "5"),
    ("worker", ("gemini", "default_brand_monthly_budget_usd"), 0.5, "0.5"),
    ("worker", ("gemini", "rpm"), 600, "600"),
    ("worker", ("gemini", "rpm_burst"), 20, "20"),
    ("worker", ("gemini", "tpm"), 2_000_000, "2000000"),  # never 2e+06
    ("worker", ("gemini", "media_resolution"), "default", "default"),
    ("worker", ("gemini", "fps"), 0.5, "0.5"),
    ("worker", ("reconcile", "enabled"), False, "false"),
    ("worker", ("reconcile", "interval_s"), 30, "30"),
    ("worker", ("reconcile", "older_than_s"), 900, "900"),
    ("worker", ("reconcile", "lookback_days"), 3, "3"),
    ("worker", ("resume", "enabled"), False, "false"),
    ("worker", ("resume", "interval_s"), 60, "60"),
    ("worker", ("resume", "older_than_s"), 0, "0"),
    ("worker", ("resume", "batch"), 5, "5"),
    ("worker", ("worker", "join_ttl_s"), 7200, "7200"),
    ("worker", ("worker", "stall_s"), 600, "600"),
    ("worker", ("analyzer", "profile"), "thorough", "thorough"),
    ("worker", ("provenance", "max_xmp_bytes"), 4096, "4096"),
    ("worker", ("dedupe", "enabled"), False, "false"),
    ("worker", ("dedupe", "max_distance"), 10, "10"),
    ("worker", ("dedupe", "max_colour_delta"), 4.5, "4.5"),
    ("worker", ("dedupe", "duration_tolerance_s"), 1, "1"),
    ("worker", ("dedupe", "max_entries"), 1000, "1000"),
    ("worker", ("dedupe", "window_days"), 30, "30"),
    ("worker", ("dedupe", "reuse_analysis"), False, "false"),
    ("api", ("api", "default_rate_per_s"), 5, "5"),
    ("api", ("api", "default_burst"), 10, "10"),
    ("api", ("api", "default_concurrent_uploads"), 2, "2"),
    ("api", ("api", "default_bytes_per_day"), 10_737_418_240, "10737418240"),
    ("api", ("api", "keys_refresh_s"), 10, "10"),
    ("api", ("api", "body_idle_timeout_s"), 15, "15"),
    ("api", ("api", "body_timeout_s"), 600, "600"),
    ("api", ("api", "not_found_floor_s"), 0.5, "0.5"),
    ("api", ("api", "heavy_threads"), 4, "4"),
    ("api", ("api", "heavy_queue"), 0, "0"),
]


@pytest.mark.parametrize(
    ("component", "path", "value", "text"), SET, ids=[".".join(c[1]) for c in SET]
)
def test_a_set_value_reaches_the_container_and_settings(
    component: str, path: Path_, value: Any, text: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert settings_field(path) is not None, "the application reads no such setting"
    override = nested(path, value)
    jsonschema.validate(merge(raw_values(), override), schema())
    env = container_env(objects(override), component)
    assert env[env_name(path)] == text
    assert text != _default_env(component).get(env_name(path)), "the case must change something"
    settings = settings_from({**env, "REELSCOPE_API__KEYS": API_KEYS}, monkeypatch)
    assert value_at(settings, path) == value


WRONG = [
    (("gemini", "daily_budget_usd"), "50"),
    (("gemini", "daily_budget_usd"), -1),
    (("gemini", "monthly_budget_usd"), True),
    (("gemini", "brand_daily_budget_usd"), {"acme": "5"}),
    (("gemini", "brand_daily_budget_usd"), {"acme": -5}),
    (("gemini", "brand_monthly_budget_usd"), [100]),
    (("gemini", "default_brand_daily_budget_usd"), "5"),
    (("gemini", "default_brand_monthly_budget_usd"), -0.01),
    (("gemini", "rpm"), 1.5),
    (("gemini", "rpm"), -1),
    (("gemini", "rpm_burst"), 0),
    (("gemini", "tpm"), "1M"),
    (("gemini", "media_resolution"), "ultra"),
    (("gemini", "fps"), 0),
    (("gemini", "fps"), 30),
    (("reconcile", "enabled"), "yes"),
    (("reconcile", "interval_s"), 0),
    (("reconcile", "older_than_s"), -1),
    (("reconcile", "lookback_days"), 0),
    (("reconcile", "every_s"), 60),
    (("resume", "batch"), 0),
    (("dedupe", "max_distance"), 33),
    (("dedupe", "window_days"), 0),
    (("provenance", "trust_anchors"), "anchors.pem"),
    (("resume", "interval_s"), 0),
    (("worker", "join_ttl_s"), 0),
    (("worker", "stall_s"), "5m"),
    (("analyzer", "profile"), "quick"),
    (("api", "default_rate_per_s"), 0),
    (("api", "default_burst"), 0),
    (("api", "default_concurrent_uploads"), 0),
    (("api", "default_bytes_per_day"), 1.5),
    (("api", "keys_refresh_s"), 0),
    (("api", "body_idle_timeout_s"), "30s"),
    (("api", "body_timeout_s"), 0),
    (("api", "not_found_floor_s"), -0.1),
    (("api", "heavy_threads"), 0),
    (("api", "heavy_queue"), -1),
]


@pytest.mark.parametrize(("path", "value"), WRONG, ids=[f"{'.'.join(p)}={v!r}" for p, v in WRONG])
def test_schema_refuses_a_wrong_value(path: Path_, value: Any) -> None:
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(merge(raw_values(), nested(path, value)), schema())


def _map_settings() -> list[Path_]:
    """Config schema properties that are maps of values (brand -> USD), not sections."""
    found: list[Path_] = []
    for section, node in schema()["properties"]["config"]["properties"].items():
        for key, rule in node.get("properties", {}).items():
            if rule.get("type") == "object" and "additionalProperties" in rule:
                if isinstance(rule["additionalProperties"], dict):
                    found.append((section, key))
    return found


def test_maps_render_as_one_json_env_var_that_keeps_the_brand_ids(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Nested env names (..._USD__ACME) would upper-case the brand ids and drop dashes."""
    maps = _map_settings()
    assert {key for _, key in maps} == JSON_MAPS
    budgets = {"Acme-EU": 5, "globex": 2.5}
    for path in maps:
        env = container_env(objects(nested(path, budgets)), "worker")
        assert json.loads(env[env_name(path)]) == budgets
        assert not [n for n in env if n.startswith(env_name(path) + "__")]
        settings = settings_from({**env, "REELSCOPE_API__KEYS": API_KEYS}, monkeypatch)
        assert value_at(settings, path) == budgets


def test_c2pa_trust_anchors_are_mounted_in_the_workers_and_named_in_their_settings(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bundle = "/etc/reelscope/c2pa/anchors.pem"
    values = {
        "provenanceTrust": {"configMapName": "c2pa-roots"},
        "config": {"provenance": {"trust_anchors": bundle}},
    }
    jsonschema.validate(merge(raw_values(), values), schema())
    rendered = objects(values)
    worker = rendered[("Deployment", "reelscope-worker")]["spec"]["template"]["spec"]
    assert {"name": "c2pa-trust", "configMap": {"name": "c2pa-roots"}} in worker["volumes"]
    mount = {"name": "c2pa-trust", "mountPath": "/etc/reelscope/c2pa", "readOnly": True}
    assert mount in worker["containers"][0]["volumeMounts"]
    env = container_env(rendered, "worker")
    assert env["REELSCOPE_PROVENANCE__TRUST_ANCHORS"] == bundle
    assert "c2pa-trust" not in str(objects()), "nothing is mounted unless asked"
    pem = tmp_path / "anchors.pem"  # stands in for the mounted file: Settings reads it at start
    pem.write_text("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
    env["REELSCOPE_PROVENANCE__TRUST_ANCHORS"] = str(pem)
    settings = settings_from({**env, "REELSCOPE_API__KEYS": API_KEYS}, monkeypatch)
    assert settings.provenance.trust_anchors == pem.resolve()
