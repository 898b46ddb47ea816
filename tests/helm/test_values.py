"""The chart's values against the Settings model and against values.schema.json."""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Iterator
from typing import Any

import jsonschema  # type: ignore[import-untyped,unused-ignore]
import pytest
import yaml  # type: ignore[import-untyped,unused-ignore]
from pydantic import BaseModel, SecretStr, ValidationError

from api.settings import Settings, hash_key
from processors.config import KafkaSettings
from tests.helm.render import CHART, merge, render

Path_ = tuple[str, ...]
API_KEYS = json.dumps([{"name": "ops", "sha256": hash_key("k"), "scopes": ["admin"]}])
SESSION_SECRET = "s" * 32
# map-valued settings (brand -> USD): one leaf, rendered as one JSON env var (configmap.yaml)
JSON_MAPS = frozenset({"brand_daily_budget_usd", "brand_monthly_budget_usd"})


def raw_values() -> dict[str, Any]:
    return dict(yaml.safe_load((CHART / "values.yaml").read_text()))


def schema() -> dict[str, Any]:
    return dict(json.loads((CHART / "values.schema.json").read_text()))


def leaves(tree: dict[str, Any], prefix: Path_ = ()) -> Iterator[tuple[Path_, Any]]:
    for key, value in tree.items():
        if isinstance(value, dict) and key not in JSON_MAPS:
            yield from leaves(value, (*prefix, key))
        else:
            yield (*prefix, key), value


def _submodel(annotation: Any) -> type[BaseModel] | None:
    is_model = isinstance(annotation, type) and issubclass(annotation, BaseModel)
    return annotation if is_model else None


def settings_field(path: Path_) -> Any:
    """The FieldInfo of the scalar Settings field at a path, or None when there is none."""
    model: type[BaseModel] | None = Settings
    info = None
    for part in path:
        if model is None or part not in model.model_fields:
            return None
        info = model.model_fields[part]
        model = _submodel(info.annotation)
    return info if model is None else None


def configmap_env(overrides: dict[str, Any] | None = None) -> dict[str, str]:
    text = render(overrides)["configmap.yaml"]
    data = yaml.safe_load(text)["data"]
    assert all(isinstance(v, str) for v in data.values())
    return dict(data)


def settings_from(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Settings as a pod would build them from exactly these env vars, plus the session secret
    the chart's Secret must hold (production refuses to start without it)."""
    for name in [n for n in os.environ if n.startswith("REELSCOPE_")]:
        monkeypatch.delenv(name)
    for name, value in {"REELSCOPE_API__SESSION_SECRET": SESSION_SECRET, **env}.items():
        monkeypatch.setenv(name, value)
    return Settings()


def value_at(obj: Any, path: Path_) -> Any:
    for part in path:
        obj = getattr(obj, part)
    return obj.get_secret_value() if isinstance(obj, SecretStr) else obj


def test_every_config_leaf_is_a_settings_field() -> None:
    paths = [path for path, _ in leaves(raw_values()["config"])]
    assert len(paths) >= 25
    unknown = [".".join(p) for p in paths if settings_field(p) is None]
    assert not unknown, f"values config keys without a Settings field: {unknown}"


def test_configmap_env_builds_the_configured_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    env = configmap_env()
    settings = settings_from({**env, "REELSCOPE_API__KEYS": API_KEYS}, monkeypatch)
    for path, value in leaves(raw_values()["config"]):
        assert value_at(settings, path) == value, ".".join(path)
    assert settings.environment == "production"
    assert settings.worker.lake_flush_seconds == 60
    assert settings.kafka.session_timeout_s > KafkaSettings().session_timeout_s
    assert settings.api.host == "0.0.0.0"


def test_every_env_var_of_the_configmap_is_a_settings_path() -> None:
    env = configmap_env()
    assert len(env) == len(list(leaves(raw_values()["config"])))
    for name in env:
        path = tuple(name.removeprefix("REELSCOPE_").lower().split("__"))
        assert settings_field(path) is not None, name


def test_production_refuses_to_start_without_the_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValidationError, match="production needs API keys"):
        settings_from(configmap_env(), monkeypatch)


def test_large_numbers_reach_settings_as_integers(monkeypatch: pytest.MonkeyPatch) -> None:
    env = configmap_env({"config": {"limits": {"max_upload_bytes": 4_294_967_296}}})
    assert env["REELSCOPE_LIMITS__MAX_UPLOAD_BYTES"] == "4294967296"
    settings = settings_from({**env, "REELSCOPE_API__KEYS": API_KEYS}, monkeypatch)
    assert settings.limits.max_upload_bytes == 4_294_967_296


def test_secret_env_vars_map_to_secret_settings_never_to_the_configmap() -> None:
    secrets = raw_values()["secrets"]
    config_paths = {path for path, _ in leaves(raw_values()["config"])}
    names = {n for component in ("api", "worker") for n in secrets[component]}
    ours = {n for n in names if n.startswith("REELSCOPE_")}
    assert ours == {
        "REELSCOPE_API__KEYS",
        "REELSCOPE_API__SESSION_SECRET",
        "REELSCOPE_GEMINI__API_KEY",
        "REELSCOPE_KAFKA__SECURITY__SASL_PASSWORD",
    }
    for name in ours:
        path = tuple(name.removeprefix("REELSCOPE_").lower().split("__"))
        assert settings_field(path) is not None, name
        assert path not in config_paths, f"{name} must not be in the ConfigMap"
    secret_fields = [p for p in config_paths if settings_field(p).annotation in (SecretStr,)]
    assert not secret_fields


def test_values_validate_against_the_schema() -> None:
    jsonschema.Draft7Validator.check_schema(schema())
    jsonschema.validate(raw_values(), schema())


@pytest.mark.parametrize(
    ("override", "why"),
    [
        ({"config": {"kafka": {"bootstrap": "embedded"}}}, "embedded broker in a cluster"),
        ({"config": {"store": {"url": "file://./reelscope-data"}}}, "pods share no disk"),
        ({"config": {"worker": {"lake_flush_secs": 60}}}, "a typo is not silently ignored"),
        ({"config": {"worker": {"lake_flush_seconds": 0}}}, "Settings needs > 0"),
        ({"config": {"worker": {"web_port": 0}}}, "the probes need the metrics port"),
        ({"config": {"analyzer": {"name": "openai"}}}, "not an analyzer"),
        ({"config": {"gemini": {"api_key": "AIza-inline"}}}, "a secret inlined in values"),
        ({"secrets": {"existingSecret": ""}}, "secrets come from an existing Secret"),
        ({"config": {"kafka": {"security": {"protocol": "TLS"}}}}, "not a Kafka protocol"),
        (
            {"config": {"kafka": {"security": {"sasl_password": "inline"}}}},
            "a Kafka password inlined in values",
        ),
        ({"kafkaTls": {"mountPath": "certs"}}, "a mount path is absolute"),
        ({"worker": {"autoscaling": {"kind": "vpa"}}}, "unknown autoscaler"),
        ({"workers": {"replicaCount": 3}}, "a typo at the top level"),
    ],
)
def test_schema_rejects(override: dict[str, Any], why: str) -> None:
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(merge(raw_values(), override), schema())


def _schema_leaves(node: dict[str, Any], prefix: Path_ = ()) -> Iterator[tuple[Path_, Any]]:
    for key, sub in node.get("properties", {}).items():
        if sub.get("type") == "object":
            yield from _schema_leaves(sub, (*prefix, key))
        else:
            yield (*prefix, key), sub


@functools.cache
def _settings_schema() -> dict[str, Any]:
    return Settings.model_json_schema()


def _pydantic_leaf(path: Path_) -> dict[str, Any]:
    """The JSON Schema pydantic gives a Settings field (nullable fields: the non-null branch)."""
    full = _settings_schema()
    node = full
    for part in path:
        node = node["properties"][part]
        if "$ref" in node:
            node = full["$defs"][node["$ref"].split("/")[-1]]
    branches = [b for b in node.get("anyOf", [node]) if b.get("type") != "null"]
    return dict(branches[0])


def test_schema_is_at_least_as_strict_as_settings() -> None:
    checked = 0
    for path, rule in _schema_leaves(schema()["properties"]["config"]):
        assert settings_field(path) is not None, ".".join(path)
        model = _pydantic_leaf(path)
        assert rule["type"] == model["type"], ".".join(path)
        if "enum" in model:
            assert set(rule["enum"]) <= set(model["enum"]), ".".join(path)
        for bound in ("minimum", "exclusiveMinimum"):
            if bound in model:
                low = rule.get("minimum", rule.get("exclusiveMinimum"))
                assert low is not None and low >= model[bound], ".".join(path)
        if "maximum" in model:
            assert rule.get("maximum", float("inf")) <= model["maximum"], ".".join(path)
        checked += 1
    assert checked >= 25


SASL_SSL = {
    "config": {
        "kafka": {
            "security": {
                "protocol": "SASL_SSL",
                "sasl_mechanism": "SCRAM-SHA-512",
                "sasl_username": "reelscope",
                "ca_file": "/etc/reelscope/kafka/ca.crt",
            }
        }
    },
    "kafkaTls": {"secretName": "kafka-ca"},
}


def test_kafka_security_reaches_settings_with_the_password_from_the_secret(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    jsonschema.validate(merge(raw_values(), SASL_SSL), schema())
    env = configmap_env(SASL_SSL)
    assert env["REELSCOPE_KAFKA__SECURITY__PROTOCOL"] == "SASL_SSL"
    secret = {"REELSCOPE_API__KEYS": API_KEYS, "REELSCOPE_KAFKA__SECURITY__SASL_PASSWORD": "pw"}
    security = settings_from({**env, **secret}, monkeypatch).kafka.security
    assert (security.protocol, security.sasl_mechanism) == ("SASL_SSL", "SCRAM-SHA-512")
    assert security.ca_file == "/etc/reelscope/kafka/ca.crt"
    assert security.sasl_password is not None
    assert security.sasl_password.get_secret_value() == "pw"
