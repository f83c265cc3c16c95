"""A real browser (headless Chromium) reads the built site: the pvt_medium page and the search."""

from __future__ import annotations

import contextlib
import functools
import http.server
import os
import re
import shutil
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.browser]

CHROMIUM_NAMES = ("chromium", "chromium-browser")
INSTALL_HINT = "install it with: apt-get install -y chromium (Debian) to run this test"


def find_chromium() -> str:
    """The Chromium executable; skip the test loudly without one (fail in CI)."""
    for name in CHROMIUM_NAMES:
        path = shutil.which(name)
        if path:
            return path
    message = f"the browser test did not run: no Chromium found on PATH ({INSTALL_HINT})"
    if os.environ.get("CI"):
        pytest.fail(f"{message}; CI must run it (.ci/run installs chromium)", pytrace=False)
    pytest.skip(message)


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@contextlib.contextmanager
def serve(folder: Path) -> Iterator[str]:
    """Serve ``folder`` on 127.0.0.1 at a free port, for the duration of the block."""
    handler = functools.partial(_QuietHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def dump_dom(chromium: str, url: str, profile: Path, budget_ms: int = 10_000) -> str:
    """The DOM after the page's scripts ran, as headless Chromium serialises it."""
    command = [
        chromium,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-extensions",
        "--no-first-run",
        "--no-default-browser-check",
        f"--user-data-dir={profile}",
        f"--virtual-time-budget={budget_ms}",
        "--dump-dom",
        url,
    ]
    proc = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, f"chromium exited with {proc.returncode}: {proc.stderr[-2000:]}"
    return proc.stdout


@pytest.fixture(scope="module")
def site(built_docs) -> Iterator[str]:
    with serve(built_docs.html) as url:
        yield url


@pytest.fixture(scope="session")
def chromium() -> str:
    # Session-scoped so that it is looked for before the docs are built.
    return find_chromium()


def test_browser_shows_the_parameter_count(chromium: str, site: str, tmp_path: Path) -> None:
    dom = dump_dom(chromium, f"{site}/models/generated/pvt_medium.html", tmp_path / "profile")
    assert "<h1>pvt_medium" in dom
    assert re.search(r"<strong>Total Parameters</strong>:\s*41,492,648", dom), dom[:3000]


def test_browser_search_finds_pvt_medium(chromium: str, site: str, tmp_path: Path) -> None:
    dom = dump_dom(chromium, f"{site}/search.html?q=pvt_medium", tmp_path / "profile", 20_000)
    # The result list is filled in by the site's JavaScript search.
    results = re.search(r'<ul[^>]*class="search"[^>]*>(.*?)</ul>', dom, re.DOTALL)
    assert results, "the search produced no result list: " + dom[-2000:]
    links = re.findall(r'href="([^"]+)"', results.group(1))
    assert links and links[0].startswith("models/generated/pvt_medium.html"), links
