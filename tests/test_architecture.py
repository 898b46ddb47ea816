"""Imports flow one way: streams, api -> processors -> schemas; vendor SDKs stay in their corner."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ALLOWED = {
    "schemas": {"schemas"},
    "processors": {"processors", "schemas"},
    "streams": {"streams", "processors", "schemas"},
    "api": {"api", "processors", "schemas"},
}
PROJECT = set(ALLOWED)
# third-party modules only one place may import
ONLY_IN = {
    "faust": ("streams/",),
    "google": ("processors/analyzers/gemini/",),
    "boto3": ("processors/storage/s3.py",),
    "fastapi": ("api/",),
}


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def sources() -> list[Path]:
    return sorted(p for pkg in ALLOWED for p in (ROOT / pkg).rglob("*.py"))


@pytest.mark.parametrize("path", sources(), ids=lambda p: str(p.relative_to(ROOT)))
def test_imports_flow_one_way(path: Path) -> None:
    package = path.relative_to(ROOT).parts[0]
    wrong = (imports_of(path) & PROJECT) - ALLOWED[package]
    assert not wrong, f"{package} must not import {sorted(wrong)}"


@pytest.mark.parametrize("path", sources(), ids=lambda p: str(p.relative_to(ROOT)))
def test_vendor_sdks_stay_in_their_module(path: Path) -> None:
    rel = path.relative_to(ROOT).as_posix()
    for module, places in ONLY_IN.items():
        if module in imports_of(path):
            assert rel.startswith(places), f"only {places} may import {module}, not {rel}"
