"""The README's two set-up commands on a fresh clone: `make serve` installs what serving needs,
`make test` adds the dev tools. Read from `make`'s dry run of a virtualenv that does not exist,
so the commands are the ones a fresh clone would run (nothing is installed here)."""

from __future__ import annotations

import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def installs(target: str, tmp_path: Path) -> list[str]:
    plan = subprocess.run(
        ["make", "--dry-run", "--always-make", target, f"VENV={tmp_path / 'fresh-venv'}"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    return [line for line in plan.splitlines() if "pip install" in line and "-e " in line]


def test_make_serve_installs_only_the_runtime_dependencies(tmp_path: Path) -> None:
    assert [line.split("-e ")[-1] for line in installs("serve", tmp_path)] == ["."]


def test_make_test_adds_the_dev_tools(tmp_path: Path) -> None:
    assert [line.split("-e ")[-1] for line in installs("test", tmp_path)] == [".", "'.[dev]'"]
