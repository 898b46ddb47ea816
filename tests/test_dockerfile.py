"""The container image's recipe, as far as a machine without a Docker daemon can check it.

No image is built here: hadolint lints the Dockerfile, and the tests check that it installs what
`make install` installs (one script, one constraints file), copies every package pyproject.toml
ships, runs as the user the chart expects, and that every command the chart gives the image is a
`reelscope` command.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
DOCKERFILE = (ROOT / "Dockerfile").read_text()
CHART = ROOT / "helm" / "reelscope"


def instructions(name: str) -> list[str]:
    """The arguments of every `name` instruction (continuation lines joined)."""
    joined = re.sub(r"\\\n\s*", " ", DOCKERFILE)
    return [m.group(1).strip() for m in re.finditer(rf"^{name}\s+(.+)$", joined, re.MULTILINE)]


def test_hadolint_finds_nothing() -> None:
    hadolint = Path(sys.executable).with_name("hadolint")
    run = subprocess.run(
        [str(hadolint), "--no-color", "-"], input=DOCKERFILE, capture_output=True, text=True
    )
    assert run.returncode == 0, run.stdout + run.stderr


def test_the_image_installs_what_make_install_installs() -> None:
    """One list of what is installed (deploy/install.sh) with one constraints file: the
    Makefile and the Dockerfile call it, and neither runs pip on its own."""
    runs = instructions("RUN")
    assert any('deploy/install.sh /opt/reelscope/bin/pip . "-c constraints.txt"' in r for r in runs)
    makefile = (ROOT / "Makefile").read_text()
    assert "sh deploy/install.sh $(BIN)/pip '-e .[dev]' '$(CONSTRAINTS)'" in makefile
    assert "CONSTRAINTS ?= -c constraints.txt" in makefile
    for text in (DOCKERFILE, makefile):
        assert "pip install" not in text
    copied = " ".join(instructions("COPY"))
    for needed in ("constraints.txt", "pyproject.toml", "deploy/install.sh"):
        assert needed in copied


def test_every_package_pyproject_ships_is_copied() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    packages = [p.rstrip("*") for p in project["tool"]["setuptools"]["packages"]["find"]["include"]]
    copied = {c.split()[0] for c in instructions("COPY") if not c.startswith("--from")}
    assert set(packages) <= copied, f"not copied into the image: {set(packages) - copied}"
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert not set(packages) & set(ignored)
    assert {".git", ".venv", "bench", "tests"} <= set(ignored)


def test_it_runs_as_the_chart_s_user_on_a_read_only_root() -> None:
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    user = values["podSecurityContext"]["runAsUser"]
    assert instructions("USER") == [f"{user}:{values['podSecurityContext']['runAsGroup']}"]
    assert values["securityContext"]["readOnlyRootFilesystem"] is True
    env = " ".join(instructions("ENV"))
    assert "HOME=/tmp" in env and "TMPDIR=/tmp" in env  # the chart's emptyDir
    assert "PYTHONDONTWRITEBYTECODE=1" in env  # nothing written next to the code
    for template in ("api-deployment.yaml", "worker-deployment.yaml"):
        assert "mountPath: /tmp" in (CHART / "templates" / template).read_text()


def test_every_command_the_chart_runs_is_a_reelscope_command() -> None:
    entrypoint = instructions("ENTRYPOINT")
    assert entrypoint == ['["reelscope"]']
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "reelscope" in project["project"]["scripts"]
    commands = []
    for template in sorted((CHART / "templates").glob("*.yaml")):
        commands += re.findall(r'command: \["reelscope", "([a-z]+)"', template.read_text())
    assert {"api", "worker", "lake"} <= set(commands)
    reelscope = Path(sys.executable).with_name("reelscope")
    for command in {*commands, instructions("CMD")[0].strip('[]"')}:
        run = subprocess.run([str(reelscope), command, "--help"], capture_output=True, text=True)
        assert run.returncode == 0, f"reelscope {command}: {run.stderr}"
