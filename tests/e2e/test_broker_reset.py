"""Offsets that start again must not cost rows: two demo runs in one folder (the embedded broker
keeps nothing between them), and topics deleted and re-created under a running lake."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from processors.lake.query import Lake
from processors.storage import LocalStore
from schemas import topics
from streams.admin import ensure_topics
from streams.broker import EmbeddedBroker
from tests.e2e.conftest import ROOT, Deployment
from tests.e2e.helpers import TABLES, lake_counts, upload_all


def ledger_media(store: LocalStore) -> set[str]:
    """Media ids of the bucket's ledger of accepted media (`media/<y>/<m>/<d>/<id>`)."""
    return {k.rsplit("/", 1)[-1] for k in store.list("media/") if "." not in k.rsplit("/", 1)[-1]}


def demo(folder: Path) -> subprocess.CompletedProcess[str]:
    """`reelscope demo --exit` as a user runs it; one partition per topic, so that the second
    run's offsets are certain to repeat the first run's (with six, only some of them would)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("REELSCOPE_")} | {
        "REELSCOPE_STORE__URL": "file://./reelscope-data",
        "REELSCOPE_KAFKA__PARTITIONS": "1",
    }
    return subprocess.run(
        [sys.executable, "-m", "streams.cli", "demo", "--exit"],
        cwd=folder,
        env=env | {"PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )


def test_two_demo_runs_in_one_folder_keep_one_row_per_ledger_media(tmp_path: Path) -> None:
    for run in (1, 2):
        done = demo(tmp_path)
        assert done.returncode == 0, (
            f"demo run {run}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        )
    store = LocalStore(tmp_path / "reelscope-data")
    ledger = ledger_media(store)
    assert len(ledger) == 8  # four samples per run
    con = Lake(store, max_staleness_s=0).connection()
    for table in TABLES:
        got = {r[0] for r in con.execute(f"SELECT media_id FROM {table}").fetchall()}  # noqa: S608
        assert got == ledger, table
        [(n,)] = con.execute(f"SELECT count(*) FROM {table}").fetchall()  # noqa: S608
        assert n == len(ledger), table


def delete_topics(bootstrap: str, names: list[str]) -> None:
    from kafka.admin import KafkaAdminClient

    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="reelscope-test")
    try:
        admin.delete_topics(names)
    finally:
        admin.close()


def test_topics_deleted_and_recreated_keep_one_row_per_media(
    own_broker: EmbeddedBroker, samples: dict[str, Path], tmp_path: Path
) -> None:
    store = LocalStore(tmp_path / "bucket")
    stack = Deployment(own_broker.bootstrap, store.url, tmp_path).start()
    try:
        before = upload_all(stack, [samples["image"]] * 4)
        assert lake_counts(stack, before) == dict.fromkeys(TABLES, len(before))
        stack.stop()

        delete_topics(own_broker.bootstrap, list(topics.ALL_TOPICS))
        ensure_topics(own_broker.bootstrap, partitions=3)
        stack = Deployment(own_broker.bootstrap, store.url, tmp_path).start()
        after = upload_all(stack, [samples["image"]] * 4)
        everything = before + after
        assert lake_counts(stack, everything, timeout=30) == dict.fromkeys(TABLES, len(everything))
        assert ledger_media(store) == set(everything)
    finally:
        stack.stop()
