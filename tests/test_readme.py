"""The README's quick start runs word for word and the Makefile offers its two commands."""

from __future__ import annotations

import doctest
import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_quick_start_runs_as_written() -> None:
    readme = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```pycon\n(.*?)```", readme, flags=re.S)
    assert blocks, "the README has no ```pycon quick start block"
    parser = doctest.DocTestParser()
    runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE)
    for i, block in enumerate(blocks):
        runner.run(parser.get_doctest(block, {}, f"README block {i}", "README.md", 0))
    result = runner.summarize(verbose=False)
    assert result.attempted > 0
    assert result.failed == 0, "the README quick start does not match what lucid prints"


def test_readme_commands_exist_and_ci_runs_the_test_command() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "make run" in readme and "make test" in readme
    for target in ("run", "test"):
        dry = subprocess.run(["make", "-n", target], cwd=ROOT, capture_output=True, text=True)
        assert dry.returncode == 0, dry.stderr
    assert "make test" in (ROOT / ".ci" / "run").read_text()
