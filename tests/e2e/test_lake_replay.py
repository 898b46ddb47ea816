"""Rebuilding the lake from Kafka: the lake group rewound to the earliest offsets replays every
record through a restarted worker, and the lake's objects and views come out unchanged."""

from __future__ import annotations

import hashlib
import os
import signal
from pathlib import Path
from typing import Any

from processors.lake.query import Lake
from processors.storage import LocalStore
from schemas.lake import TABLE_OF_TOPIC, TABLES
from streams.admin import rewind_group
from streams.broker import EmbeddedBroker
from tests.e2e.conftest import Deployment
from tests.e2e.helpers import (
    LAKE_GROUP,
    committed_offsets,
    end_offsets,
    lake_counts,
    upload_all,
    wait_committed,
)


def objects(store: LocalStore) -> dict[str, tuple[str, int]]:
    """Every lake object with its content hash and modification time."""
    return {
        p.relative_to(store.root).as_posix(): (
            hashlib.sha256(p.read_bytes()).hexdigest(),
            p.stat().st_mtime_ns,
        )
        for p in sorted((store.root / "lake").rglob("*"))
        if p.is_file()
    }


def views(store: LocalStore) -> dict[str, list[tuple[Any, ...]]]:
    con = Lake(store).connection()
    return {t: sorted(con.execute(f"SELECT * FROM {t}").fetchall(), key=repr) for t in TABLES}  # noqa: S608


def test_rewinding_the_lake_group_rewrites_nothing(
    own_broker: EmbeddedBroker, samples: dict[str, Path], tmp_path: Path
) -> None:
    store = LocalStore(tmp_path / "bucket")
    stack = Deployment(own_broker.bootstrap, store.url, tmp_path).start()
    try:
        ids = upload_all(stack, [samples[n] for n in ("image", "off_brand_landscape", "corrupt")])
        assert lake_counts(stack, ids)["media_results"] == len(ids)
        # every lake topic's records are in the lake once the group has committed its end
        ends = end_offsets(own_broker.bootstrap)
        assert {t for t, _ in ends} >= {"reelscope.media.uploaded.v1", "reelscope.media.results.v1"}
        wait_committed(own_broker.bootstrap, LAKE_GROUP, ends)
        before_objects, before_views = objects(store), views(store)

        assert stack.worker is not None
        os.killpg(stack.worker.pid, signal.SIGTERM)  # members must leave before a rewind
        stack.worker.wait(timeout=30)
        replay = rewind_group(own_broker.bootstrap, LAKE_GROUP, TABLE_OF_TOPIC)
        assert sum(replay.values()) == sum(ends.values())
        assert all(n == 0 for n in committed_offsets(own_broker.bootstrap, LAKE_GROUP).values())

        stack.start_worker()
        wait_committed(own_broker.bootstrap, LAKE_GROUP, ends)  # the replay went through
        assert objects(store) == before_objects  # same names, bytes and mtimes: nothing rewritten
        assert views(store) == before_views
    finally:
        stack.stop()
