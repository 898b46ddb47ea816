"""promtool on the shipped rules: their syntax and PromQL, their unit tests (each alert fired by
a case and held back by another), and the dashboard's queries as PromQL.

promtool comes from Debian's prometheus package, unpacked into the venv by `make test`.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

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
    fired, held = set(), set()
    for case in cases:
        for check in case.get("alert_rule_test", []):
            (fired if check.get("exp_alerts") else held).add(check["alertname"])
    assert alerts - fired == set(), "alerts no case fires"
    assert alerts - held == set(), "alerts no case holds back"


def test_the_dashboard_queries_are_promql(tmp_path: Path) -> None:
    """Each panel's query as a recording rule, Grafana's variables replaced by values."""
    dashboard = json.loads((ROOT / "dashboards" / "grafana" / "reelscope.json").read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    assert exprs
    rules = [
        {
            "record": f"dashboard:panel{i}",
            "expr": e.replace("$__rate_interval", "5m").replace("$namespace", ".*"),
        }
        for i, e in enumerate(exprs)
    ]
    path = tmp_path / "dashboard.rules.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    assert "SUCCESS" in promtool("check", "rules", str(path))
