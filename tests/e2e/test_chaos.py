"""kill -9 of the worker at random moments: every accepted media ends once in every view.

`make chaos` runs more rounds (REELSCOPE_CHAOS_KILLS); the suite runs 10.
"""

from __future__ import annotations

import asyncio
import os
import random
import time
from pathlib import Path

from tests.e2e.conftest import Deployment
from tests.e2e.helpers import TABLES, lake_counts, upload, wait_final

KILLS = int(os.environ.get("REELSCOPE_CHAOS_KILLS", "10"))


async def test_random_kills_lose_nothing_and_double_nothing(
    local_stack: Deployment, samples: dict[str, Path]
) -> None:
    rng = random.Random(int(os.environ.get("REELSCOPE_CHAOS_SEED", "7")))
    ids: list[str] = []
    for _ in range(KILLS):
        batch = [upload(local_stack, samples[name]) for name in ("image", "image", "corrupt")]
        ids += batch
        await asyncio.to_thread(wait_final, local_stack, batch[0], 60)  # the worker is busy
        await asyncio.sleep(rng.uniform(0.0, 1.0))  # kill mid-check, mid-join or mid-flush
        local_stack.kill_worker()
        local_stack.start_worker()

    started = time.monotonic()
    finals = [await asyncio.to_thread(wait_final, local_stack, i, 120) for i in ids]

    assert [f["status"] for f in finals] == ["done", "done", "failed"] * KILLS
    counts = await asyncio.to_thread(lake_counts, local_stack, ids, 60)
    assert counts == dict.fromkeys(TABLES, len(ids)), f"after {time.monotonic() - started:.0f} s"
