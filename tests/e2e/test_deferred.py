"""A media the budget deferred resumes when the budget allows, without a re-upload: through
the real stack (Gemini against the fake server), a result goes out at once with the analysis
deferred; after the limit is raised (a restart with the new setting, as a rollout does) the
leader's resumer analyses it again and a second result, with the same brand check, supersedes
the first in the API, the lake and on the results topic; the publishing gate keeps the media
pending until that second result and decides from it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from uuid import UUID

import httpx
import pytest

from processors.analyzers.gemini.fake_server import FakeGemini
from processors.keys import deferred_key
from processors.lake.query import Lake
from processors.storage import open_store
from processors.synthetic.samples import make_image
from schemas import topics
from tests.e2e.conftest import Deployment, one_partition_stack
from tests.e2e.helpers import topic_events, upload, wait_final

pytestmark = pytest.mark.slow


@pytest.fixture
def stack(gemini: FakeGemini, tmp_path: Path) -> Iterator[Deployment]:
    """A stack whose Gemini budget is 0: every analysis is deferred."""
    env = {
        "REELSCOPE_ANALYZER__NAME": "gemini",
        "REELSCOPE_GEMINI__API_KEY": gemini.api_key,
        "REELSCOPE_GEMINI__BASE_URL": gemini.url,
        "REELSCOPE_GEMINI__DAILY_BUDGET_USD": "0",
        "REELSCOPE_RESUME__INTERVAL_S": "1",
        "REELSCOPE_RESUME__OLDER_THAN_S": "0",
    }
    with one_partition_stack(tmp_path, env) as deployment:
        yield deployment


def test_a_deferred_analysis_resumes_once_the_budget_is_raised(
    stack: Deployment, gemini: FakeGemini, tmp_path: Path
) -> None:
    store = open_store(stack.store_url)
    media_id = upload(stack, make_image(tmp_path / "image.jpg", width=320, height=320))
    first = wait_final(stack, media_id)
    assert first["status"] == "done" and first["analysis"]["status"] == "deferred"
    assert "daily Gemini budget reached" in first["analysis"]["error"]
    assert not gemini.calls(), "no call over budget"
    time.sleep(3)  # runs of the resumer: the budget is still spent, the mark stays
    assert store.exists(deferred_key(UUID(media_id))) and not gemini.calls()

    stack.stop_process(stack.worker)  # type: ignore[arg-type]
    stack.extra_env["REELSCOPE_GEMINI__DAILY_BUDGET_USD"] = "5"
    stack.start_worker()
    deadline = time.monotonic() + 60
    body = first
    while body["analysis"]["status"] == "deferred" and time.monotonic() < deadline:
        time.sleep(0.5)
        body = httpx.get(f"{stack.url}/v1/media/{media_id}", timeout=5).json()
    assert body["analysis"]["status"] == "done", body["analysis"]
    assert body["brand_check"] == first["brand_check"], "the same brand check, not a new one"
    assert len(gemini.calls()) == 1
    assert not store.exists(deferred_key(UUID(media_id))), "the mark goes once resumed"

    results = asyncio.run(topic_events(stack.bootstrap, topics.MEDIA_RESULTS, {media_id}))
    assert [r["analysis"]["status"] for r in results] == ["deferred", "done"]
    # the gate waited for the final result (a worker restart in between: it read its state back)
    gate = asyncio.run(topic_events(stack.bootstrap, topics.MEDIA_DECISIONS, {media_id}))
    assert [d["by"] for d in gate] == ["auto", "auto"]
    assert gate[0]["state"] == "pending" and "deferred" in gate[0]["reason"]
    assert gate[1]["result_event_id"] == results[1]["event_id"], "decided from the final result"
    letters = asyncio.run(topic_events(stack.bootstrap, topics.DEADLETTER, {media_id}, 3))
    assert letters == [], "the resumed analysis is not left waiting for a half to join"
    lake, deadline = Lake(store, max_staleness_s=0), time.monotonic() + 30
    rows: list[dict[str, object]] = []
    while time.monotonic() < deadline and [r["analysis_status"] for r in rows] != ["done"]:
        time.sleep(0.5)
        sql = "SELECT analysis_status FROM media_results WHERE media_id = ?"
        rows = lake.query(sql, [media_id])
    assert [r["analysis_status"] for r in rows] == ["done"], "the lake keeps the latest"
