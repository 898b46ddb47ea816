"""The Grafana dashboard and the alert rules query only metrics the worker and the API export."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest
import yaml  # type: ignore[import-untyped,unused-ignore]
from prometheus_client.metrics import MetricWrapperBase

import streams.metrics
from api.metrics import Metrics

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "dashboards" / "grafana" / "reelscope.json"
RULES = ROOT / "dashboards" / "alerts" / "reelscope.rules.yml"
SUFFIXES = {
    "counter": ("_total", "_created"),
    "gauge": ("",),
    "histogram": ("_bucket", "_count", "_sum", "_created"),
}
TARGET_LABELS = {"job", "instance", "namespace", "pod", "container", "service", "endpoint"}
KEYWORDS = {
    "and",
    "or",
    "unless",
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "offset",
    "bool",
    "inf",
    "nan",
}


def collectors() -> list[MetricWrapperBase]:
    ours = [*vars(streams.metrics).values(), *vars(Metrics()).values()]
    return [c for c in ours if isinstance(c, MetricWrapperBase)]


def exported() -> dict[str, set[str]]:
    """Every series name the processes expose, with the label names it carries."""
    names: dict[str, set[str]] = {}
    for collector in collectors():
        labels = set(getattr(collector, "_labelnames", ()))
        for family in collector.describe():
            for suffix in SUFFIXES[family.type]:
                extra = {"le"} if suffix == "_bucket" else set()
                names[family.name + suffix] = labels | extra
    return names


# what Prometheus records of each target itself (the worker-down alerts read it)
SCRAPE_SERIES = {"up": set()}
KNOWN = exported() | SCRAPE_SERIES


def metric_names(expr: str) -> set[str]:
    """Metric names in a PromQL expression (strings, matchers, ranges and groupings removed)."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    text = re.sub(r"\{[^}]*\}|\[[^\]]*\]", " ", text)
    text = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)
    idents = re.findall(r"(?<![\w.:$])([A-Za-z_:][\w:]*)(?![\w:]*\s*\()", text)
    return {i for i in idents if i.lower() not in KEYWORDS}


def label_names(expr: str) -> set[str]:
    """Label names used in matchers and in by/without/on clauses."""
    matchers = re.findall(r"\{([^}]*)\}", expr)
    used = {m for body in matchers for m in re.findall(r"(\w+)\s*(?:=~|!~|!=|=)", body)}
    for group in re.findall(r"\b(?:by|without|on|ignoring)\s*\(([^)]*)\)", expr):
        used |= {g.strip() for g in group.split(",") if g.strip()}
    return used


def check_expr(expr: str) -> set[str]:
    names = metric_names(expr)
    assert names, f"no metric in {expr!r}"
    unknown = names - set(KNOWN)
    assert not unknown, f"{sorted(unknown)} are not exported (known: {sorted(KNOWN)})"
    allowed = set().union(*(KNOWN[n] for n in names)) | TARGET_LABELS
    assert label_names(expr) <= allowed, f"unknown labels in {expr!r}"
    return names


def dashboard() -> dict[str, Any]:
    return dict(json.loads(DASHBOARD.read_text()))


def panels() -> list[dict[str, Any]]:
    return [p for p in dashboard()["panels"] if p["type"] != "row"]


def rules() -> list[dict[str, Any]]:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return [r for g in groups for r in g["rules"]]


def test_the_checker_finds_metric_names_and_refuses_unknown_ones() -> None:
    expr = (
        "histogram_quantile(0.95, sum by (le, stage) "
        '(rate(reelscope_stage_seconds_bucket{stage!="x"}[5m]))) > 1 unless up'
    )
    assert metric_names(expr) == {"reelscope_stage_seconds_bucket", "up"}
    with pytest.raises(AssertionError, match="not exported"):
        check_expr("rate(reelscope_stage_seconds_total[5m])")
    with pytest.raises(AssertionError, match="unknown labels"):
        check_expr("sum by (route) (rate(reelscope_worker_events_total[5m]))")


def test_known_metrics_come_from_both_processes() -> None:
    assert {
        "reelscope_worker_events_total",
        "reelscope_stage_seconds_bucket",
        "reelscope_join_pending",
        "reelscope_api_requests_total",
        "reelscope_api_request_seconds_bucket",
    } <= set(KNOWN)


def test_dashboard_layout() -> None:
    board = dashboard()
    ids = [p["id"] for p in board["panels"]]
    assert len(ids) == len(set(ids))
    assert board["uid"] and board["templating"]["list"][0]["type"] == "datasource"
    for p in board["panels"]:
        pos = p["gridPos"]
        assert 0 <= pos["x"] and pos["x"] + pos["w"] <= 24
    for p in panels():
        assert p["targets"] and p["datasource"]["uid"] == "${datasource}"
        assert {t["refId"] for t in p["targets"]} == {chr(65 + i) for i in range(len(p["targets"]))}


def _exprs(items: Iterable[dict[str, Any]]) -> list[str]:
    return [t["expr"] for p in items for t in p["targets"]]


def test_dashboard_queries_only_exported_metrics() -> None:
    used = set().union(*(check_expr(e) for e in _exprs(panels())))
    for variable in dashboard()["templating"]["list"][1:]:
        used |= check_expr(re.sub(r"label_values\((\w+),.*", r"\1", variable["query"]["query"]))
    needed = {
        "reelscope_worker_events_total",
        "reelscope_deadletters_total",
        "reelscope_stage_seconds_bucket",
        "reelscope_join_pending",
        "reelscope_lake_rows_total",
        "reelscope_lake_files_total",
        "reelscope_api_requests_total",
        "reelscope_api_request_seconds_bucket",
    }
    assert needed <= used


def test_latency_panels_show_p50_and_p95() -> None:
    for p in panels():
        if "latency" in p["title"].lower():
            quantiles = {
                re.search(r"histogram_quantile\(([\d.]+)", e).group(1)  # type: ignore[union-attr]
                for e in _exprs([p])
            }
            assert quantiles == {"0.5", "0.95"}, p["title"]


def test_alert_rules_are_complete_and_query_exported_metrics() -> None:
    alerts = rules()
    names = [r["alert"] for r in alerts]
    assert len(names) == len(set(names))
    for rule in alerts:
        used = check_expr(rule["expr"])
        assert rule["labels"]["severity"] in {"warning", "critical"}
        assert rule["annotations"]["summary"] and rule["annotations"]["description"]
        assert re.fullmatch(r"\d+[smh]", rule["for"])
        kept = label_names(rule["expr"]) - {"le"}
        if not re.search(r"\b(?:sum|avg|min|max|count|group|absent)\b", rule["expr"]):
            kept |= TARGET_LABELS | set().union(*(KNOWN[n] for n in used))  # nothing dropped
        templated = set(re.findall(r"\$labels\.(\w+)", json.dumps(rule["annotations"])))
        assert templated <= kept, f"{rule['alert']} annotates labels its expr drops"
        assert used
    exprs = " ".join(r["expr"] for r in alerts)
    for metric in (
        "reelscope_deadletters_total",
        "reelscope_stage_seconds_bucket",
        "reelscope_join_pending",
        "reelscope_lake_rows_total",
    ):
        assert metric in exprs


def test_latency_thresholds_lie_inside_the_histogram_buckets() -> None:
    """histogram_quantile never reports beyond the last finite bucket: above it, no alert."""
    top = max(streams.metrics.STAGE_SECONDS._upper_bounds[:-1])  # noqa: SLF001
    for rule in rules():
        if "reelscope_stage_seconds_bucket" in rule["expr"]:
            threshold = float(rule["expr"].rsplit(">", 1)[1])
            assert threshold < top, rule["alert"]
