"""Imports flow one way: streams, api -> processors -> schemas; vendor SDKs stay in their corner
(the C2PA library included: native code parsing hostile bytes, called from the pool child only)."""

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
    "c2pa": ("processors/provenance/c2pa_reader.py",),
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


MAX_LINES = 400
# where a bucket key may be spelled: the one module that owns the layouts
KEY_PREFIXES = (
    "media/",
    "generated/",
    "brands/",
    "thumbs/",
    "idempotency/",
    "cache/",
    "lake/",
    "budget/",
)
# test doubles and generated data: product code never imports them (the demo's media excepted)
DOUBLES = ("processors.analyzers.gemini.fake_",)


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def code_strings(path: Path) -> list[str]:
    """String constants of a module; docstrings and documentation (`description=`,
    `examples=`) left out."""
    tree = ast.parse(path.read_text(), filename=str(path))
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    docstrings |= {
        id(inner)
        for node in ast.walk(tree)
        if isinstance(node, ast.keyword) and node.arg in ("description", "examples")
        for inner in ast.walk(node.value)
    }
    return [
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and id(node) not in docstrings
    ]


def product(path: Path) -> bool:
    rel = path.relative_to(ROOT).as_posix()
    return not rel.startswith("processors/synthetic/") and "/fake_" not in rel


@pytest.mark.parametrize("path", sources(), ids=lambda p: str(p.relative_to(ROOT)))
def test_modules_stay_small(path: Path) -> None:
    lines = len(path.read_text().splitlines())
    assert lines <= MAX_LINES, f"{lines} lines: split it by what its parts are for"


@pytest.mark.parametrize("path", sources(), ids=lambda p: str(p.relative_to(ROOT)))
def test_bucket_keys_are_spelled_only_in_processors_keys(path: Path) -> None:
    if path.relative_to(ROOT).as_posix() == "processors/keys.py" or not product(path):
        return
    spelled = [s for s in code_strings(path) if s.startswith(KEY_PREFIXES)]
    assert not spelled, f"bucket keys {spelled} belong in processors/keys.py"


@pytest.mark.parametrize("path", sources(), ids=lambda p: str(p.relative_to(ROOT)))
def test_product_code_imports_no_test_double_or_storage_backend(path: Path) -> None:
    rel = path.relative_to(ROOT).as_posix()
    if not product(path):
        return
    doubles = [m for m in imported_modules(path) if m.startswith(DOUBLES)]
    assert not doubles, f"{rel} imports a test double: {doubles}"
    if not rel.startswith("processors/storage/"):
        backends = [
            m
            for m in imported_modules(path)
            if m.startswith(("processors.storage.local", "processors.storage.s3"))
            or m.startswith("processors.storage.memory")
        ]
        assert not backends, f"{rel}: open stores with StoreSettings.open(), not {backends}"


@pytest.mark.parametrize("path", sorted((ROOT / "bench").rglob("*.py")), ids=lambda p: p.name)
def test_bench_never_imports_tests(path: Path) -> None:
    assert "tests" not in imports_of(path), "move what bench needs to processors/synthetic"


def test_only_the_demo_imports_generated_data() -> None:
    users = {
        p.relative_to(ROOT).as_posix()
        for p in sources()
        if product(p) and any(m.startswith("processors.synthetic") for m in imported_modules(p))
    }
    assert users <= {"streams/demo.py"}, users
