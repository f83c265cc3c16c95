"""Fixtures of the documentation tests: one build of the site per test session."""

from __future__ import annotations

import dataclasses
import html
import json
import re
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"


@dataclasses.dataclass(frozen=True)
class Build:
    """A finished build of the documentation."""

    html: Path
    seconds: float
    output: str

    def page(self, name: str) -> str:
        """The HTML of page ``name`` (e.g. ``"models/generated/pvt_medium"``)."""
        return (self.html / f"{name}.html").read_text(encoding="utf-8")

    def text(self, name: str) -> str:
        """The visible text of the page's main content, tags removed, whitespace collapsed."""
        return visible_text(self.page(name))

    def tables(self, name: str) -> list[list[list[str]]]:
        """Each table of the page as rows of cell texts, the header row first."""
        return [
            [
                [visible_text(cell) for cell in re.findall(r"<t[hd]\b.*?</t[hd]>", row, re.DOTALL)]
                for row in re.findall(r"<tr\b.*?</tr>", table, re.DOTALL)
            ]
            for table in re.findall(r"<table\b.*?</table>", self.page(name), re.DOTALL)
        ]


def visible_text(page: str) -> str:
    """Text a reader sees in ``page`` (its main part, if it has one)."""
    body = page.split('role="main"', 1)[-1]
    body = re.sub(r"<(script|style)\b.*?</\1>", " ", body, flags=re.DOTALL)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", "", body)).split())


@pytest.fixture(scope="session")
def page_text() -> Callable[[Path], str]:
    """The visible text of a built HTML file of any site (see :func:`visible_text`)."""
    return lambda path: visible_text(path.read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def built_docs(tmp_path_factory: pytest.TempPathFactory) -> Build:
    """Build the site once, as the test command does, with warnings as errors."""
    out = tmp_path_factory.mktemp("docs")
    command = [
        sys.executable,
        "-m",
        "sphinx",
        "-W",
        "-n",
        "--keep-going",
        "-b",
        "html",
        "-d",
        str(out / "doctrees"),
        str(DOCS),
        str(out / "html"),
    ]
    start = time.perf_counter()
    # A separate process: the build loads every plugin into a registry of its
    # own, untouched by models that this test session registers.
    proc = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
    seconds = time.perf_counter() - start
    output = proc.stdout + proc.stderr
    if proc.returncode != 0:
        pytest.fail(
            f"the documentation build failed (exit {proc.returncode}) with warnings treated "
            f"as errors; its last output:\n{output[-8000:]}",
            pytrace=False,
        )
    return Build(html=out / "html", seconds=seconds, output=output)


@pytest.fixture(scope="session")
def registered_models() -> list[str]:
    """The models a fresh process sees, i.e. those the documentation build documents."""
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            "import json, lucid.models; print(json.dumps(lucid.models.list_models()))",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(proc.stdout)
