"""values-production.yaml and the `production` switch: a release cannot go out with a change-me
placeholder (pods would crash-loop on a broker or bucket that does not exist) or without a
daily Gemini ceiling (spend would be bounded by nothing but the rate limits)."""

from __future__ import annotations

from typing import Any

import jsonschema  # type: ignore[import-untyped,unused-ignore]
import pytest
import yaml  # type: ignore[import-untyped,unused-ignore]

from tests.helm.gotemplate import TemplateError
from tests.helm.k8s import container_env, objects
from tests.helm.render import CHART, merge, render
from tests.helm.test_values import API_KEYS, raw_values, schema, settings_from

PROD: dict[str, Any] = yaml.safe_load((CHART / "values-production.yaml").read_text())
REAL = {
    "config": {
        "kafka": {"bootstrap": "kafka-0.kafka:9092,kafka-1.kafka:9092"},
        "store": {"url": "s3://media-prod"},
    }
}
READY = merge(PROD, REAL)
NO_BUDGET = merge(READY, {"config": {"gemini": {"daily_budget_usd": None}}})


def test_production_values_set_finite_budgets_and_validate() -> None:
    assert PROD["production"] is True
    gemini = PROD["config"]["gemini"]
    assert 0 < gemini["daily_budget_usd"] < gemini["monthly_budget_usd"]
    jsonschema.validate(merge(raw_values(), PROD), schema())


def test_production_refuses_the_default_placeholders_naming_each() -> None:
    with pytest.raises(TemplateError) as refused:
        render(PROD)
    message = str(refused.value)
    assert "change-me" in message
    assert "\n  - config.kafka.bootstrap\n  - config.store.url" in message


@pytest.mark.parametrize(
    ("override", "path"),
    [
        ({"secrets": {"existingSecret": "change-me"}}, "secrets.existingSecret"),
        ({"kafkaTls": {"secretName": "kafka-change-me"}}, "kafkaTls.secretName"),
        (
            {"config": {"gemini": {"base_url": "https://change-me.example"}}},
            "config.gemini.base_url",
        ),
        (
            {"config": {"store": {"endpoint_url": "https://minio.change-me.internal"}}},
            "config.store.endpoint_url",
        ),
        (
            {"serviceAccount": {"annotations": {"eks.amazonaws.com/role-arn": "arn:change-me"}}},
            "serviceAccount.annotations.eks.amazonaws.com/role-arn",
        ),
        (
            {"api": {"extraEnv": [{"name": "A"}, {"name": "PROXY", "value": "change-me:3128"}]}},
            "api.extraEnv.1.value",
        ),
    ],
)
def test_production_refuses_a_placeholder_anywhere(override: dict[str, Any], path: str) -> None:
    jsonschema.validate(merge(raw_values(), merge(READY, override)), schema())
    with pytest.raises(TemplateError) as refused:
        render(merge(READY, override))
    assert str(refused.value).endswith(f"set real values for:\n  - {path}")


def test_production_with_real_values_renders_the_budgets_into_the_workers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    jsonschema.validate(merge(raw_values(), READY), schema())
    rendered = render(READY)
    assert rendered["validate.yaml"].strip() == "", "the checks render no object"
    objs = objects(READY)
    env = container_env(objs, "worker")
    assert env["REELSCOPE_GEMINI__DAILY_BUDGET_USD"] == "50"
    assert env["REELSCOPE_GEMINI__MONTHLY_BUDGET_USD"] == "1000"
    gemini = settings_from({**env, "REELSCOPE_API__KEYS": API_KEYS}, monkeypatch).gemini
    assert (gemini.daily_budget_usd, gemini.monthly_budget_usd) == (50, 1000)
    assert ("HorizontalPodAutoscaler", "reelscope-api") in objs
    assert "replicas" not in objs[("Deployment", "reelscope-api")]["spec"]


def test_production_needs_a_daily_budget_in_the_schema_and_at_render() -> None:
    """The schema refuses first; the template refuses too when schema checks are skipped."""
    with pytest.raises(jsonschema.ValidationError, match="'daily_budget_usd' is a required"):
        jsonschema.validate(merge(raw_values(), NO_BUDGET), schema())
    with pytest.raises(TemplateError, match=r"needs config\.gemini\.daily_budget_usd"):
        render(NO_BUDGET)


def test_a_zero_budget_is_a_ceiling_not_a_missing_one() -> None:
    zero = merge(READY, {"config": {"gemini": {"daily_budget_usd": 0}}})
    jsonschema.validate(merge(raw_values(), zero), schema())
    env = container_env(objects(zero), "worker")
    assert env["REELSCOPE_GEMINI__DAILY_BUDGET_USD"] == "0"


def test_without_the_switch_placeholders_and_no_budget_only_warn() -> None:
    """Development and `helm lint` render the plain values; NOTES.txt warns instead."""
    assert raw_values()["production"] is False
    rendered = render()
    assert rendered["validate.yaml"].strip() == ""
    assert "change-me placeholder" in rendered["NOTES.txt"]
    jsonschema.validate(merge(raw_values(), {"production": False}), schema())
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(merge(raw_values(), {"production": "true"}), schema())
