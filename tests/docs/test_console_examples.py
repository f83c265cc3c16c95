"""The ``lucid`` commands the user guide shows in console blocks run and succeed."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[2] / "docs"

# The plugin guide's commands need the example plugin installed; its test
# (test_example_plugin.py) runs them against an installed copy.
PAGES = ["guide/models.rst"]


def console_commands(page: str) -> list[str]:
    """The ``$ lucid ...`` lines of the page's ``console`` code blocks."""
    text = (DOCS / page).read_text(encoding="utf-8")
    blocks = re.findall(r"\.\. code-block:: console\n\n((?:    .*\n|\n)+)", text)
    return [
        line.strip()[2:]
        for block in blocks
        for line in block.splitlines()
        if line.strip().startswith("$ lucid ")
    ]


@pytest.mark.slow
@pytest.mark.parametrize(
    "command", [c for page in PAGES for c in console_commands(page)], ids=lambda c: c
)
def test_console_command_runs(command: str) -> None:
    # `python -m lucid` is the `lucid` console script without relying on PATH.
    argv = [sys.executable, "-m", *shlex.split(command)]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.strip(), f"{command!r} printed nothing"


def test_the_guide_shows_commands() -> None:
    assert len(console_commands("guide/models.rst")) >= 3
