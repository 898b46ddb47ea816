"""The Grafana dashboards and the alert rules query only metrics the worker and the API export.

Every dashboard in dashboards/grafana/ is checked: its layout, its data sources (Prometheus, or
the Infinity data source over the API's analytics: tests/dashboards/test_infinity_panels.py),
and each PromQL expression against the series the processes really expose, with their labels.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest
import yaml  # type: ignore[import-untyped,unused-ignore]
from prometheus_client.metrics import MetricWrapperBase

import streams.health
import streams.metrics
from api.metrics import Metrics
from processors.cgroup import CgroupCollector

ROOT = Path(__file__).resolve().parents[2]
BOARDS = sorted((ROOT / "dashboards" / "grafana").glob("*.json"))
RULES = ROOT / "dashboards" / "alerts" / "reelscope.rules.yml"
PROMETHEUS = "prometheus"
INFINITY = "yesoreyeram-infinity-datasource"
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
# what each dashboard is for: the metrics it must show
NEEDED = {
    "reelscope.json": {
        "reelscope_worker_events_total",
        "reelscope_deadletters_total",
        "reelscope_stage_seconds_bucket",
        "reelscope_join_pending",
        "reelscope_lake_rows_total",
        "reelscope_lake_files_total",
        "reelscope_api_requests_total",
        "reelscope_api_request_seconds_bucket",
    },
    "operations.json": {
        "reelscope_worker_events_total",
        "reelscope_stage_seconds_bucket",
        "reelscope_result_latency_seconds_bucket",
        "reelscope_consumer_lag",
        "reelscope_deadletters_total",
        "reelscope_api_requests_total",
        "reelscope_media_stale_processing",
        "reelscope_budget_spent_usd",
        "reelscope_budget_limit_usd",
        "reelscope_budget_remaining_usd",
        "reelscope_analysis_cost_usd_total",
        "reelscope_gemini_requests_total",
        "reelscope_cgroup_cpu_seconds_total",
        "reelscope_cgroup_cpu_limit_cores",
        "reelscope_cgroup_memory_working_set_bytes",
        "reelscope_cgroup_memory_limit_bytes",
    },
    "compliance.json": {"reelscope_verdicts_total", "reelscope_api_media_accepted_total"},
}
# the quantiles of the latency panels (the overview: p50 and p95; operations adds p99)
QUANTILES = {"operations.json": {"0.5", "0.95", "0.99"}}


def collectors() -> list[Any]:
    """The worker's metrics (streams.metrics, streams.health) and the API's (`Metrics`):
    prometheus-client's metric objects and custom collectors (the cgroup one) alike."""
    ours = [
        *vars(streams.metrics).values(),
        *vars(streams.health).values(),
        *vars(Metrics()).values(),
    ]
    return [c for c in ours if isinstance(c, MetricWrapperBase | CgroupCollector)]


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
SCRAPE_SERIES: dict[str, set[str]] = {"up": set()}
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


def dashboard(path: Path) -> dict[str, Any]:
    return dict(json.loads(path.read_text()))


def panels(board: dict[str, Any]) -> list[dict[str, Any]]:
    return [p for p in board["panels"] if p["type"] != "row"]


def prometheus_panels(board: dict[str, Any]) -> list[dict[str, Any]]:
    return [p for p in panels(board) if p["datasource"]["type"] == PROMETHEUS]


def rules() -> list[dict[str, Any]]:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return [r for g in groups for r in g["rules"]]


each_board = pytest.mark.parametrize("path", BOARDS, ids=lambda p: p.name)


def test_the_checker_finds_metric_names_and_refuses_unknown_ones() -> None:
    expr = (
        "histogram_quantile(0.95, sum by (le, stage) "
        '(rate(reelscope_stage_seconds_bucket{stage!="x"}[5m]))) > 1 unless up'
    )
    assert metric_names(expr) == {"reelscope_stage_seconds_bucket", "up"}
    assert metric_names("reelscope_consumer_lag < +Inf") == {"reelscope_consumer_lag"}
    with pytest.raises(AssertionError, match="not exported"):
        check_expr("rate(reelscope_stage_seconds_total[5m])")
    with pytest.raises(AssertionError, match="unknown labels"):
        check_expr("sum by (route) (rate(reelscope_worker_events_total[5m]))")


def test_known_metrics_come_from_both_processes() -> None:
    assert {
        "reelscope_worker_events_total",
        "reelscope_stage_seconds_bucket",
        "reelscope_join_pending",
        "reelscope_consumer_lag",
        "reelscope_api_requests_total",
        "reelscope_api_request_seconds_bucket",
        "reelscope_cgroup_cpu_seconds_total",
        "reelscope_cgroup_memory_limit_bytes",
    } <= set(KNOWN)
    assert KNOWN["reelscope_consumer_lag"] == {"group", "topic", "partition"}


def test_every_dashboard_has_a_purpose_and_a_uid_of_its_own() -> None:
    assert {p.name for p in BOARDS} == set(NEEDED), "list a new dashboard's metrics in NEEDED"
    uids = [dashboard(p)["uid"] for p in BOARDS]
    assert all(uids) and len(uids) == len(set(uids))


def _variables(board: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {v["name"]: v for v in board["templating"]["list"]}


def _overlap(a: dict[str, int], b: dict[str, int]) -> bool:
    return (
        a["x"] < b["x"] + b["w"]
        and b["x"] < a["x"] + a["w"]
        and a["y"] < b["y"] + b["h"]
        and b["y"] < a["y"] + a["h"]
    )


@each_board
def test_dashboard_layout(path: Path) -> None:
    board = dashboard(path)
    ids = [p["id"] for p in board["panels"]]
    assert len(ids) == len(set(ids))
    first = board["templating"]["list"][0]
    assert first["type"] == "datasource" and first["query"] == PROMETHEUS
    for i, p in enumerate(board["panels"]):
        pos = p["gridPos"]
        assert 0 <= pos["x"] and pos["x"] + pos["w"] <= 24
        for q in board["panels"][i + 1 :]:
            assert not _overlap(pos, q["gridPos"]), f"{p['title']!r} overlaps {q['title']!r}"


@each_board
def test_panels_read_a_data_source_variable_of_their_type(path: Path) -> None:
    board = dashboard(path)
    variables = _variables(board)
    for p in panels(board):
        source = p["datasource"]
        assert source["type"] in {PROMETHEUS, INFINITY}, p["title"]
        name = re.fullmatch(r"\$\{(\w+)\}", source["uid"])
        assert name, f"{p['title']}: pick the data source with a variable, not a fixed uid"
        variable = variables[name.group(1)]
        assert variable["type"] == "datasource" and variable["query"] == source["type"]
        assert p["targets"] and all(t["datasource"] == source for t in p["targets"])
        assert [t["refId"] for t in p["targets"]] == [chr(65 + i) for i in range(len(p["targets"]))]


def _exprs(items: Iterable[dict[str, Any]]) -> list[str]:
    return [t["expr"] for p in items for t in p["targets"]]


@each_board
def test_dashboard_queries_only_exported_metrics(path: Path) -> None:
    board = dashboard(path)
    used = set().union(*(check_expr(e) for e in _exprs(prometheus_panels(board))))
    for variable in board["templating"]["list"]:
        if variable["type"] != "query":
            continue
        assert variable["datasource"]["type"] == PROMETHEUS
        found = re.fullmatch(r"label_values\((.+),\s*(\w+)\)", variable["query"]["query"])
        assert found, variable["name"]
        names = check_expr(found.group(1))
        assert all(found.group(2) in KNOWN[n] | TARGET_LABELS for n in names), variable["name"]
        used |= names
    assert NEEDED[path.name] <= used


@each_board
def test_latency_panels_show_their_quantiles(path: Path) -> None:
    wanted = QUANTILES.get(path.name, {"0.5", "0.95"})
    for p in prometheus_panels(dashboard(path)):
        if "latency" in p["title"].lower():
            quantiles = {
                re.search(r"histogram_quantile\(([\d.]+)", e).group(1)  # type: ignore[union-attr]
                for e in _exprs([p])
            }
            assert quantiles == wanted, p["title"]


LIMITS = (
    "reelscope_budget_limit_usd",
    "reelscope_budget_remaining_usd",
    "reelscope_cgroup_cpu_limit_cores",
    "reelscope_cgroup_memory_limit_bytes",
)


def test_panels_leave_unlimited_limits_out() -> None:
    """No limit is +Inf: on a chart it is no line, in a ratio a false 0 % (the alerts may keep
    it, 0 never fires)."""
    for path in BOARDS:
        for expr in _exprs(prometheus_panels(dashboard(path))):
            for metric in LIMITS:
                if metric in expr:
                    assert re.search(metric + r"\{[^}]*\}\s*<\s*\+Inf", expr), expr


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
        "reelscope_budget_spent_usd",
        "reelscope_budget_limit_usd",
        "reelscope_consumer_lag",
        "reelscope_media_stale_processing",
        "reelscope_cgroup_cpu_seconds_total",
        "reelscope_cgroup_memory_working_set_bytes",
    ):
        assert metric in exprs


def test_latency_thresholds_lie_inside_the_histogram_buckets() -> None:
    """histogram_quantile never reports beyond the last finite bucket: above it, no alert."""
    top = max(streams.metrics.STAGE_SECONDS._upper_bounds[:-1])  # noqa: SLF001
    for rule in rules():
        if "reelscope_stage_seconds_bucket" in rule["expr"]:
            threshold = float(rule["expr"].rsplit(">", 1)[1])
            assert threshold < top, rule["alert"]
