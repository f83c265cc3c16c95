"""The ``lucid`` commands the user guide shows in console blocks run and succeed."""

from __future__ import annotations

import doctest
import os
import re
import shlex
import subprocess
import sys
import textwrap
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


def console_sessions(page: str) -> list[tuple[str, str]]:
    """``(command, shown output)`` for each ``$ lucid ...`` line of the page's console blocks."""
    text = (DOCS / page).read_text(encoding="utf-8")
    sessions: list[tuple[str, str]] = []
    for block in re.findall(r"\.\. code-block:: console\n\n((?:[ ]{4,}.*\n|\n)+)", text):
        lines = [line.rstrip() for line in textwrap.dedent(block).strip("\n").splitlines()]
        for line in lines:
            if line.startswith("$ "):
                sessions.append((line[2:], ""))
            elif sessions:
                command, shown = sessions[-1]
                sessions[-1] = (command, shown + line + "\n")
    return sessions


@pytest.mark.parametrize("session", console_sessions("guide/cli.rst"), ids=lambda s: s[0])
def test_cli_reference_shows_what_the_commands_print(session: tuple[str, str]) -> None:
    command, shown = session
    words = shlex.split(command)
    env = {k: v for k, v in os.environ.items() if not k.startswith("LUCID_")}
    while "=" in words[0]:  # VAR=value prefixes
        name, _, value = words.pop(0).partition("=")
        env[name] = value
    assert words[0] == "lucid", command
    proc = subprocess.run(
        [sys.executable, "-m", *words], capture_output=True, text=True, env=env, timeout=120
    )
    printed = "\n".join(line.rstrip() for line in (proc.stdout + proc.stderr).splitlines()) + "\n"
    checker = doctest.OutputChecker()
    assert checker.check_output(shown, printed, doctest.ELLIPSIS), (
        f"{command!r} printed:\n{printed}\nbut docs/guide/cli.rst shows:\n{shown}"
    )


def test_the_cli_reference_shows_commands() -> None:
    assert len(console_sessions("guide/cli.rst")) >= 6
