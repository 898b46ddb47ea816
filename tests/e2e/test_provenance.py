"""Provenance through the real stack: signed, tampered, unsigned, IPTC-only and hostile files
uploaded over HTTP (plain uploads, labelled uploads, generation events), read by the worker's
pool child with the test CA as trust anchor; results and lake rows checked."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from processors.lake.query import Lake
from processors.storage import open_store
from tests.e2e.conftest import Deployment, one_partition_stack
from tests.e2e.helpers import upload, wait_final
from tests.processors.provenance.fixtures import SigningCa, provenance_set

GENERATION = json.dumps({"prompt": "a summer sale poster", "model": "imagen-4"})
LABELLED = json.dumps({"ai_generated": "true"})


@pytest.fixture(scope="module")
def signed(tmp_path_factory: pytest.TempPathFactory) -> tuple[SigningCa, dict[str, Path]]:
    return provenance_set(tmp_path_factory.mktemp("signed"))


@pytest.fixture(scope="module")
def stack(
    tmp_path_factory: pytest.TempPathFactory, signed: tuple[SigningCa, dict[str, Path]]
) -> Iterator[Deployment]:
    env = {"REELSCOPE_PROVENANCE__TRUST_ANCHORS": str(signed[0].root_pem)}
    with one_partition_stack(tmp_path_factory.mktemp("provenance-stack"), env) as deployment:
        yield deployment


def generate(stack: Deployment, path: Path) -> str:
    with path.open("rb") as fh:
        r = httpx.post(
            f"{stack.url}/v1/generations",
            files={"file": (path.name, fh)},
            data={"generation": GENERATION, "platforms": "tiktok,youtube"},
            timeout=30,
        )
    assert r.status_code == 202, r.text
    media_id: str = r.json()["media_id"]
    return media_id


# fixture -> how it is submitted, ai_generated, evidence, integrity, trusted, violations
CASES: dict[str, tuple[str, bool | None, list[str], str | None, bool | None, list[str]]] = {
    "signed_ai_image": ("generation", True, ["c2pa", "generation_event"], "valid", True, []),
    "signed_edited_video": ("labelled", True, ["c2pa", "label"], "valid", True, []),
    "tampered": ("upload", None, [], "invalid", True, ["provenance.manifest_invalid"]),
    "unsigned": ("generation", True, ["generation_event"], None, None, [
        "provenance.ai_marker_missing"
    ]),
    "iptc_only": ("upload", True, ["iptc"], None, None, ["provenance.ai_undeclared"]),
    "truncated_manifest": ("upload", None, [], None, None, []),
    "huge_xmp": ("upload", None, [], None, None, []),
}  # fmt: skip


def submit(stack: Deployment, how: str, path: Path) -> str:
    if how == "generation":
        return generate(stack, path)
    if how == "labelled":
        return upload(stack, path, labels=LABELLED, platforms="tiktok,instagram_reels")
    return upload(stack, path, platforms="tiktok")


async def test_each_fixture_gives_its_provenance_and_violations_through_the_stack(
    stack: Deployment, signed: tuple[SigningCa, dict[str, Path]]
) -> None:
    files = signed[1]
    ids = {name: submit(stack, how, files[name]) for name, (how, *_) in CASES.items()}
    results = {n: await asyncio.to_thread(wait_final, stack, i, 90) for n, i in ids.items()}
    for name, (_, ai, evidence, integrity, trusted, codes) in CASES.items():
        check = results[name]["brand_check"]
        assert check["status"] == "done", (name, check["error"])
        prov = check["provenance"]
        c2pa = prov["c2pa"] or {}
        got = (prov["ai_generated"], prov["evidence"], c2pa.get("integrity"), c2pa.get("trusted"))
        assert got == (ai, evidence, integrity, trusted), name
        found = [v["code"] for v in check["violations"] if v["code"].startswith("provenance.")]
        assert found == codes, name
        if codes and any(v["severity"] == "fail" for v in check["violations"]):
            assert check["verdict"] != "pass", name
    for name, said in (("truncated_manifest", "C2PA manifest"), ("huge_xmp", "XMP packet")):
        error = results[name]["brand_check"]["provenance"]["error"]
        assert said in error and "Traceback" not in error, name
    edited = results["signed_edited_video"]["brand_check"]
    assert [a["action"] for a in edited["provenance"]["c2pa"]["actions"]] == [
        "c2pa.opened",
        "c2pa.edited",
    ]
    tiktok = edited["platforms"]["tiktok"]
    assert tiktok["ai_label_required"] is True and "AI-generated content" in tiktok["ai_label"]
    assert results["tampered"]["brand_check"]["platforms"]["tiktok"]["ai_label_required"] is None
    rows = await asyncio.to_thread(lake_rows, stack, list(ids.values()))
    assert rows[ids["iptc_only"]] == (True, ["iptc"], "absent")
    assert rows[ids["signed_ai_image"]] == (True, ["c2pa", "generation_event"], "Trusted")
    assert rows[ids["tampered"]] == (None, [], "Invalid")


def lake_rows(stack: Deployment, media_ids: list[str]) -> dict[str, Any]:
    """(ai_generated, ai_evidence, c2pa_state) per media from the brand_checks view."""
    lake = Lake(open_store(stack.store_url))
    sql = (
        "select media_id, ai_generated, ai_evidence, c2pa_state from brand_checks "
        "where media_id in (select unnest(?::varchar[]))"
    )
    deadline = time.monotonic() + 30
    rows: dict[str, Any] = {}
    while time.monotonic() < deadline and len(rows) < len(media_ids):
        lake.refresh()
        found = lake.connection().execute(sql, [media_ids]).fetchall()
        rows = {r[0]: (r[1], list(r[2]), r[3]) for r in found}
        time.sleep(0.5)
    return rows
