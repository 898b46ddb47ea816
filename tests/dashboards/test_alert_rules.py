"""promtool on the shipped rules: their syntax and PromQL, their unit tests (each alert fired by
a case and held back by another), and every dashboard's Prometheus queries as PromQL.

promtool comes from Debian's prometheus package, unpacked into the venv by `make test`.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
ALERTS = ROOT / "dashboards" / "alerts"
PROMTOOL = Path(sys.executable).with_name("promtool")


def promtool(*args: str, cwd: Path = ROOT) -> str:
    assert PROMTOOL.is_file(), f"{PROMTOOL} missing: `make test` unpacks it (Debian prometheus)"
    run = subprocess.run([str(PROMTOOL), *args], cwd=cwd, capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr
    return run.stdout


def test_promtool_checks_the_rules() -> None:
    out = promtool("check", "rules", str(ALERTS / "reelscope.rules.yml"))
    assert "SUCCESS" in out


def test_the_rule_unit_tests_pass() -> None:
    assert "SUCCESS" in promtool("test", "rules", "reelscope.rules.test.yml", cwd=ALERTS)


def test_every_alert_has_a_case_that_fires_it_and_one_that_must_not() -> None:
    rules = yaml.safe_load((ALERTS / "reelscope.rules.yml").read_text())
    alerts = {r["alert"] for g in rules["groups"] for r in g["rules"]}
    cases = yaml.safe_load((ALERTS / "reelscope.rules.test.yml").read_text())["tests"]
    fired: set[str] = set()
    held: set[str] = set()
    for case in cases:
        for check in case.get("alert_rule_test", []):
            (fired if check.get("exp_alerts") else held).add(check["alertname"])
    assert alerts - fired == set(), "alerts no case fires"
    assert alerts - held == set(), "alerts no case holds back"


def promql_of(expr: str) -> str:
    """A panel's query with Grafana's variables replaced: intervals and ranges by 5m, any other
    variable (in a matcher) by a regex that matches everything."""
    expr = re.sub(r"\$(?:__rate_interval|__interval|__range)\b", "5m", expr)
    return re.sub(r"\$\{?\w+\}?", ".*", expr)


def test_the_variables_are_replaced_before_promtool_reads_a_query() -> None:
    expr = 'increase(m{brand=~"$brand",ns=~"${namespace}"}[$__range]) / rate(m[$__rate_interval])'
    assert promql_of(expr) == 'increase(m{brand=~".*",ns=~".*"}[5m]) / rate(m[5m])'


@pytest.mark.parametrize(
    "board", sorted((ROOT / "dashboards" / "grafana").glob("*.json")), ids=lambda p: p.name
)
def test_the_dashboard_queries_are_promql(board: Path, tmp_path: Path) -> None:
    """Each Prometheus panel's query as a recording rule, Grafana's variables replaced."""
    dashboard = json.loads(board.read_text())
    exprs = [
        t["expr"]
        for p in dashboard["panels"]
        if p.get("datasource", {}).get("type") == "prometheus"
        for t in p["targets"]
    ]
    assert exprs
    rules = [{"record": f"dashboard:panel{i}", "expr": promql_of(e)} for i, e in enumerate(exprs)]
    path = tmp_path / "dashboard.rules.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    assert "SUCCESS" in promtool("check", "rules", str(path))
