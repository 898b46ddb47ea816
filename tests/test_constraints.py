"""The environment the tests run in is the one constraints.txt pins.

A clean clone installed whatever PyPI offered that day, and a new OpenCV major broke face
detection in CI: the versions are now pinned, and a venv that drifted from them (installed by
hand, or before the file changed) fails here rather than somewhere deep in a test.
"""

from __future__ import annotations

from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parent.parent


def pinned() -> dict[str, str]:
    out: dict[str, str] = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            req = Requirement(line)
            spec = next(iter(req.specifier))
            assert spec.operator == "==", f"{line}: constraints pin exact versions"
            out[req.name] = spec.version
    return out


def test_every_dependency_of_reelscope_is_pinned() -> None:
    names = {n.lower().replace("_", "-") for n in pinned()}
    wanted = metadata.requires("reelscope") or []
    missing = [
        r.name for r in map(Requirement, wanted) if r.name.lower().replace("_", "-") not in names
    ]
    assert missing == [], f"add to constraints.txt (make lock): {missing}"


def test_no_installed_package_strays_from_its_pin() -> None:
    stray = {
        name: (metadata.version(name), version)
        for name, version in pinned().items()
        if metadata.version(name) != version
    }
    assert stray == {}, "installed vs pinned; run `make install` (or `make lock`)"
