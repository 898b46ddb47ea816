"""`/v1/analytics/*` over real HTTP, on a lake written by the real LakeWriter."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest

from processors.lake.query import Lake
from processors.lake.writer import LakeWriter
from processors.storage import LocalStore
from processors.synthetic import lake as syn
from schemas import topics
from schemas.events import PlatformFit, Usage
from schemas.lake import TABLES, LakeEvent, to_row
from streams.broker import EmbeddedBroker
from tests.api.conftest import Api, make_settings, running_api

DAY1, DAY2 = syn.day(2026, 3, 1), syn.day(2026, 3, 2)
D1, D2 = DAY1.date().isoformat(), DAY2.date().isoformat()
BOTH = {"from": D1, "to": D2}


def write(store: LocalStore, table: str, topic: str, events: list[LakeEvent]) -> None:
    rows = [to_row(e, topic, 0, offset) for offset, e in enumerate(events)]
    LakeWriter(store).write(TABLES[table], topic, 0, rows)


def on_instagram(life: syn.Life) -> syn.Life:
    """The same media, but its brand check targeted Instagram only."""
    check = life.brand_check.model_copy(update={"platforms": {"instagram": PlatformFit(ok=True)}})
    result = life.result.model_copy(update={"brand_check": check})
    return syn.Life(life.uploaded, check, life.analysis, result)


def on_gemini(life: syn.Life) -> syn.Life:
    """The same media, analysed by Gemini with tokens and a cost."""
    usage = Usage(input_tokens=1000, output_tokens=200, cost_usd=0.01)
    update = {"analyzer": "gemini", "model": "gemini-2.5-flash", "usage": usage}
    analysis = life.analysis.model_copy(update=update)
    return syn.Life(life.uploaded, life.brand_check, analysis, life.result)


def ms(seconds: float) -> timedelta:
    return timedelta(seconds=seconds)


@pytest.fixture(scope="module")
def lives() -> list[syn.Life]:
    logo, palette, text = "logo.missing", "palette.off", "text.missing"
    return [
        syn.life(DAY1, counter=0, latency=ms(1)),
        syn.life(DAY1, counter=1, latency=ms(2)),
        syn.life(DAY1, counter=2, verdict="warn", violations=(logo,), latency=ms(3)),
        on_gemini(syn.life(DAY1, counter=3, verdict="fail", violations=(logo, palette))),
        syn.life(DAY1, counter=4, brand_id="other", latency=ms(5)),
        on_instagram(syn.life(DAY2, counter=5, verdict="fail", violations=(text,))),
        syn.life(DAY2, counter=6, status="failed", latency=ms(10)),
    ]


@pytest.fixture(scope="module")
def lake_api(
    broker: EmbeddedBroker, tmp_path_factory: pytest.TempPathFactory, lives: list[syn.Life]
) -> Iterator[Api]:
    root = tmp_path_factory.mktemp("analytics-api")
    store = LocalStore(root / "bucket")
    results = [life.result for life in lives]
    # a replayed result and analysis: the views keep one per media, so no count doubles
    write(store, "media_results", topics.MEDIA_RESULTS, [*results, results[0]])
    analyses = [life.analysis for life in lives]
    write(store, "analyses", topics.MEDIA_ANALYSES, [*analyses, analyses[3]])
    settings = make_settings(broker.bootstrap, store.url)
    with running_api(settings, store, root / "uploads") as api:
        yield api


def get(api: Api, path: str, key: str = "all-key", **params: Any) -> dict[str, Any]:
    with api.client(key) as client:
        response = client.get(f"/v1/analytics/{path}", params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def counts(items: list[dict[str, Any]]) -> dict[tuple[str | None, str], tuple[int, ...]]:
    fields = ("pass_count", "warn_count", "fail_count", "error_count", "total")
    return {(i["brand_id"], i["day"]): tuple(i[f] for f in fields) for i in items}


def test_compliance_counts_per_brand_and_day(lake_api: Api) -> None:
    body = get(lake_api, "compliance", **BOTH)
    assert counts(body["items"]) == {
        ("acme", D1): (2, 1, 1, 0, 4),
        ("other", D1): (1, 0, 0, 0, 1),
        ("acme", D2): (0, 0, 1, 1, 2),
    }
    rates = {(i["brand_id"], i["day"]): i["pass_rate"] for i in body["items"]}
    assert rates == {("acme", D1): 0.5, ("other", D1): 1.0, ("acme", D2): 0.0}
    assert body["filters"] == {"brand_id": None, "platform": None, "from": D1, "to": D2}


def test_compliance_agrees_with_the_shipped_view(lake_api: Api) -> None:
    rows = Lake(lake_api.store).query("SELECT * FROM compliance_daily")
    view = {(r["brand_id"], r["day"].isoformat()): r["total"] for r in rows}
    api = {k: v[-1] for k, v in counts(get(lake_api, "compliance", **BOTH)["items"]).items()}
    assert api == view


def test_compliance_filters(lake_api: Api) -> None:
    other = get(lake_api, "compliance", brand_id="other", **BOTH)["items"]
    day2 = get(lake_api, "compliance", **{"from": D2, "to": D2})["items"]
    insta = get(lake_api, "compliance", platform="instagram", **BOTH)["items"]
    tiktok = get(lake_api, "compliance", platform="tiktok", brand_id="acme", **BOTH)["items"]
    nowhere = get(lake_api, "compliance", platform="snapchat", **BOTH)["items"]
    assert counts(other) == {("other", D1): (1, 0, 0, 0, 1)}
    assert counts(day2) == {("acme", D2): (0, 0, 1, 1, 2)}
    assert counts(insta) == {("acme", D2): (0, 0, 1, 0, 1)}
    assert counts(tiktok) == {("acme", D1): (2, 1, 1, 0, 4), ("acme", D2): (0, 0, 0, 1, 1)}
    assert nowhere == []


def test_top_violation_codes(lake_api: Api) -> None:
    top = get(lake_api, "violations", **BOTH)
    first = get(lake_api, "violations", limit=1, **BOTH)["items"]
    insta = get(lake_api, "violations", platform="instagram", **BOTH)["items"]
    day1 = get(lake_api, "violations", **{"from": D1, "to": D1})["items"]
    assert [(i["code"], i["count"], i["media"]) for i in top["items"]] == [
        ("logo.missing", 2, 2),
        ("palette.off", 1, 1),
        ("text.missing", 1, 1),
    ]
    assert top["filters"]["limit"] == 20
    assert [i["code"] for i in first] == ["logo.missing"]
    assert [i["code"] for i in insta] == ["text.missing"]
    assert {i["code"] for i in day1} == {"logo.missing", "palette.off"}


def test_costs_by_brand_day_analyzer_and_model(lake_api: Api) -> None:
    items = get(lake_api, "costs", **BOTH)["items"]
    key = {(i["brand_id"], i["day"], i["analyzer"], i["model"]): i for i in items}
    assert set(key) == {
        ("acme", D1, "gemini", "gemini-2.5-flash"),
        ("acme", D1, "local", "opencv"),
        ("other", D1, "local", "opencv"),
        ("acme", D2, "local", "opencv"),
    }
    gemini = key[("acme", D1, "gemini", "gemini-2.5-flash")]
    local = key[("acme", D1, "local", "opencv")]
    assert (gemini["analyses"], gemini["input_tokens"], gemini["output_tokens"]) == (1, 1000, 200)
    assert gemini["cost_usd"] == pytest.approx(0.01)
    assert (local["analyses"], local["input_tokens"]) == (3, 0)
    assert local["cost_usd"] == pytest.approx(0.003)
    other = get(lake_api, "costs", brand_id="other", **BOTH)["items"]
    assert [(i["brand_id"], i["analyses"]) for i in other] == [("other", 1)]


def test_latency_percentiles_per_day(lake_api: Api) -> None:
    items = get(lake_api, "latency", **BOTH)["items"]
    day1, day2 = items
    assert (day1["day"], day1["n"], day2["day"], day2["n"]) == (D1, 5, D2, 2)
    assert day1["p50_ms"] == pytest.approx(3000)  # 1, 2, 3, 3 (default), 5 s
    assert day1["max_ms"] == pytest.approx(5000)
    assert 3000 < day1["p95_ms"] < 5000
    assert day2["max_ms"] == pytest.approx(10_000)
    acme = get(lake_api, "latency", brand_id="acme", **{"from": D1, "to": D1})["items"]
    assert [(i["n"], i["max_ms"]) for i in acme] == [(4, pytest.approx(3000))]
    insta = get(lake_api, "latency", platform="instagram", **BOTH)["items"]
    assert [(i["day"], i["n"]) for i in insta] == [(D2, 1)]


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("compliance", {"from": D2, "to": D1}, "query.from"),
        ("latency", {"from": "2024-01-01", "to": "2025-01-02"}, "query.from"),
        ("costs", {"from": "2026-02-30"}, "query.from"),
        ("violations", {"limit": 101}, "query.limit"),
    ],
)
def test_bad_ranges_are_422_with_a_hint(
    lake_api: Api, path: str, params: dict[str, Any], field: str
) -> None:
    with lake_api.client("reader-key") as client:
        response = client.get(f"/v1/analytics/{path}", params=params)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["hint"]
    assert error["fields"][0]["field"] == field


@pytest.mark.parametrize(
    "params",
    [{"to": "0001-01-03"}, {"from": "9999-12-30", "to": "9999-12-31"}, {"to": "9999-12-31"}],
)
@pytest.mark.parametrize("path", ["compliance", "violations", "costs", "latency"])
def test_the_calendars_ends_are_empty_answers(
    lake_api: Api, path: str, params: dict[str, str]
) -> None:
    """schemathesis found these: the default span reached before year 1 (a 500)."""
    answer = get(lake_api, path, **params)
    assert answer["items"] == []
    assert answer["filters"]["to"] == params["to"]


def test_a_full_year_is_allowed_and_defaults_resolve(lake_api: Api) -> None:
    year = get(lake_api, "compliance", **{"from": "2025-03-02", "to": D1})
    assert len(year["items"]) == 2
    default = get(lake_api, "violations")["filters"]
    assert default["to"] is not None and default["from"] is not None


@pytest.mark.parametrize("path", ["compliance", "violations", "costs", "latency"])
def test_a_key_bound_to_a_brand_counts_that_brand_only(lake_api: Api, path: str) -> None:
    """The lake holds acme and other; other's key counts other's media, as brand_id=other."""
    everything = get(lake_api, path, **BOTH)["items"]
    own = get(lake_api, path, key="other-key", **BOTH)
    named = get(lake_api, path, brand_id="other", **BOTH)["items"]
    assert own["items"] == named != everything
    assert own["filters"]["brands"] == ["other"]
    with lake_api.client("other-key") as client:
        refused = client.get(f"/v1/analytics/{path}", params={"brand_id": "acme", **BOTH})
    assert refused.status_code == 403


def test_analytics_need_results_read(lake_api: Api) -> None:
    with lake_api.client("writer-key") as client:
        refused = client.get("/v1/analytics/compliance")
    with httpx.Client(base_url=lake_api.url) as anonymous:
        unknown = anonymous.get("/v1/analytics/costs")
    assert refused.status_code == 403
    assert unknown.status_code == 401
