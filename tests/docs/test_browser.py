"""A real browser (headless Chromium) reads the built site: pvt_medium, the search, the figures."""

from __future__ import annotations

import contextlib
import functools
import html
import http.server
import json
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


# A page of the same origin that opens a site page in a frame and reports its
# images once each has loaded (or failed): what a reader's browser displays.
IMAGE_PROBE = """<!doctype html>
<html><body><pre id="report">waiting</pre>
<iframe id="page" width="1280" height="900"></iframe>
<script>
const frame = document.getElementById("page");
frame.addEventListener("load", async () => {
  const images = [...frame.contentDocument.querySelectorAll("img")];
  await Promise.all(images.map((image) => image.decode().catch(() => null)));
  document.getElementById("report").textContent = JSON.stringify(images.map((image) => ({
    src: image.getAttribute("src"), alt: image.alt, classes: image.className,
    complete: image.complete, width: image.naturalWidth, height: image.naturalHeight,
  })));
});
frame.src = new URLSearchParams(location.search).get("page");
</script></body></html>
"""


@pytest.fixture(scope="module")
def probed_site(built_docs, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The site under ``/site/`` and the image probe at ``/probe.html``, on one server."""
    root = tmp_path_factory.mktemp("probed-site")
    (root / "site").symlink_to(built_docs.html, target_is_directory=True)
    (root / "probe.html").write_text(IMAGE_PROBE, encoding="utf-8")
    with serve(root) as url:
        yield url


def displayed_images(chromium: str, site: str, page: str, profile: Path) -> list[dict]:
    """What the browser reports of each ``<img>`` of ``page`` once it has tried to load it."""
    dom = dump_dom(chromium, f"{site}/probe.html?page=/site/{page}", profile, 20_000)
    report = re.search(r'<pre id="report">(.*?)</pre>', dom, re.DOTALL)
    assert report and report.group(1) != "waiting", "the probe did not report: " + dom[-2000:]
    return json.loads(html.unescape(report.group(1)))


def assert_figures_displayed(images: list[dict], figures: dict[str, int]) -> None:
    """Every image loaded and has a size; the page shows ``figures`` (count by kind)."""
    for image in images:
        assert image["complete"] and image["width"] > 0 and image["height"] > 0, image
    shown = {
        kind: [i for i in images if f"lucid-figure-{kind}" in i["classes"].split()]
        for kind in figures
    }
    assert {kind: len(found) for kind, found in shown.items()} == figures, images
    for found in shown.values():
        for image in found:
            assert len(image["alt"]) > 40, image  # the alt text states the figure's data


def test_browser_displays_the_figures_of_every_family_page(
    chromium: str, probed_site: str, built_docs, tmp_path: Path
) -> None:
    pages = sorted(built_docs.html.glob("models/generated/family-*.html"))
    assert {p.stem for p in pages} >= {"family-pvt", "family-pvt_v2"}
    for page in pages:
        images = displayed_images(
            chromium, probed_site, f"models/generated/{page.name}", tmp_path / page.stem
        )
        # PVT families are pyramids: each page shows the stages and the chart.
        assert_figures_displayed(images, {"pyramid": 1, "family": 1})


def test_browser_displays_the_benchmark_chart(
    chromium: str, probed_site: str, tmp_path: Path
) -> None:
    images = displayed_images(chromium, probed_site, "guide/performance.html", tmp_path / "p")
    assert_figures_displayed(images, {"benchmark": 1})
