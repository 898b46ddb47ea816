"""The Helm chart ships every dashboard and the rules as they are in dashboards/.

Helm reads files inside the chart only, so helm/reelscope/files/ holds copies:
`files/<name>-dashboard.json` of `dashboards/grafana/<name>.json`, `files/reelscope.rules.yml`
of the rules. A dashboard added to dashboards/grafana/ without its copy, or a copy the
template leaves out of the Grafana ConfigMap, would never reach a cluster's Grafana.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.helm.render import CHART, manifests, render

ROOT = CHART.parents[1]
BOARDS = sorted((ROOT / "dashboards" / "grafana").glob("*.json"))
FILES = CHART / "files"


def copy_of(board: Path) -> Path:
    return FILES / f"{board.stem}-dashboard.json"


@pytest.mark.parametrize("board", BOARDS, ids=lambda p: p.name)
def test_each_dashboard_has_an_identical_copy_in_the_chart(board: Path) -> None:
    assert copy_of(board).is_file(), f"cp {board.relative_to(ROOT)} {copy_of(board)}"
    assert copy_of(board).read_bytes() == board.read_bytes()


def test_the_chart_has_no_copy_without_a_source() -> None:
    sources = {copy_of(b).name for b in BOARDS}
    assert {p.name for p in FILES.glob("*-dashboard.json")} == sources


def test_the_rules_copy_is_identical() -> None:
    source = ROOT / "dashboards" / "alerts" / "reelscope.rules.yml"
    assert (FILES / "reelscope.rules.yml").read_bytes() == source.read_bytes()


def _dashboard_config_map() -> dict[str, Any]:
    docs = manifests(render({"metrics": {"grafanaDashboard": {"enabled": True}}}))
    [found] = [
        d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"].endswith("-dashboard")
    ]
    return found


def test_the_grafana_config_map_carries_every_dashboard() -> None:
    """The sidecar loads each key of the ConfigMap as one dashboard: `<name>.json`."""
    data = _dashboard_config_map()["data"]
    assert set(data) == {b.name for b in BOARDS}
    for board in BOARDS:
        assert json.loads(data[board.name]) == json.loads(board.read_text()), board.name
