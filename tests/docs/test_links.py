"""Every internal link of the built site resolves: its file exists, its #fragment is an id there."""

from __future__ import annotations

import html.parser
import re
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest


class _Page(html.parser.HTMLParser):
    """The anchors a page offers (``id``, ``<a name>``) and the addresses it refers to."""

    def __init__(self) -> None:
        super().__init__()
        self.anchors: set[str] = set()
        self.references: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if values.get("id"):
            self.anchors.add(values["id"])  # type: ignore[arg-type]
        if tag == "a" and values.get("name"):
            self.anchors.add(values["name"])  # type: ignore[arg-type]
        for attribute in ("href", "src"):
            if values.get(attribute) is not None:
                self.references.append(values[attribute])  # type: ignore[arg-type]


def broken_links(site: Path) -> list[str]:
    """``page -> address (why)`` for each internal address of ``site``'s pages that leads nowhere.

    Internal means without a scheme or host (``http:``, ``mailto:``, ``data:``
    and ``//host`` are left alone). The path is relative to the page (a folder
    means its ``index.html``); a ``#fragment`` must be an ``id`` (or an
    ``<a name>``) of the target page, or of the page itself when the path is empty.
    """
    site = site.resolve()
    pages = {}
    for path in sorted(site.rglob("*.html")):
        page = _Page()
        page.feed(path.read_text(encoding="utf-8"))
        pages[path] = page
    broken = []
    for path, page in pages.items():
        for address in page.references:
            parts = urlsplit(address)
            if parts.scheme or parts.netloc:
                continue
            target = (path.parent / unquote(parts.path)).resolve() if parts.path else path
            if target.is_dir():
                target = target / "index.html"
            name = f"{path.relative_to(site)} -> {address}"
            if not target.is_file():
                broken.append(f"{name} (no such file)")
            elif (
                parts.fragment
                and target in pages
                and unquote(parts.fragment) not in pages[target].anchors
            ):
                broken.append(f"{name} (no such id in {target.relative_to(site)})")
    return broken


def test_the_checker_finds_planted_broken_links(tmp_path: Path) -> None:
    (tmp_path / "api").mkdir()
    (tmp_path / "_static").mkdir()
    (tmp_path / "_static" / "style.css").write_text("body {}")
    (tmp_path / "api" / "lucid.html").write_text(
        '<dt id="lucid.abs"><span id="lucid._ops.elementwise.abs"></span></dt>'
        '<a name="legacy"></a><a href="../index.html#top">up</a><a href="#">top</a>'
    )
    (tmp_path / "index.html").write_text(
        '<link rel="stylesheet" href="_static/style.css"><h1 id="top">lucid</h1>'
        '<a href="api/lucid.html#lucid.abs">fine</a>'
        '<a href="api/lucid.html#lucid._ops.elementwise.abs">fine, second id</a>'
        '<a href="api/lucid.html#legacy">fine, a name</a>'
        '<a href="api/">fine, a folder</a>'
        '<a href="#top">fine, same page</a>'
        '<a href="https://example.org/missing.html#nowhere">external, not checked</a>'
        '<a href="mailto:someone@example.org">not a page</a>'
        '<a href="api/lucid.html#lucid.nn.functional.abs">planted: no such id</a>'
        '<a href="api/missing.html">planted: no such file</a>'
        '<a href="#bottom">planted: no such id here</a>'
        '<img src="_images/figure.svg" alt="planted: no such image">'
    )
    (tmp_path / "api" / "index.html").write_text("<p>the API</p>")

    assert broken_links(tmp_path) == [
        "index.html -> api/lucid.html#lucid.nn.functional.abs (no such id in api/lucid.html)",
        "index.html -> api/missing.html (no such file)",
        "index.html -> #bottom (no such id in index.html)",
        "index.html -> _images/figure.svg (no such file)",
    ]


@pytest.mark.slow
def test_every_internal_link_of_the_site_resolves(built_docs) -> None:
    pages = list(built_docs.html.rglob("*.html"))
    # The source pages of sphinx.ext.viewcode link back to the documentation
    # under names that must match its anchors: they are the pages most at risk.
    assert any(path.parts[-3:-1] == ("_modules", "lucid") for path in pages)
    broken = broken_links(built_docs.html)
    assert not broken, f"{len(broken)} broken internal links:\n" + "\n".join(broken)


@pytest.mark.slow
def test_source_pages_link_back_to_the_documented_names(built_docs) -> None:
    # Issue 17's examples: the builder's source links to its model page, at the
    # signature of lucid.models.pvt_medium; lucid.abs's source to lucid.abs.
    source = built_docs.page("_modules/lucid_models_pvt/pvt")
    assert 'href="../../models/generated/pvt_medium.html#lucid_models_pvt.pvt.pvt_medium"' in source
    page = built_docs.page("models/generated/pvt_medium")
    assert re.search(
        r'<dt[^>]*id="lucid\.models\.pvt_medium">\s*<span id="lucid_models_pvt\.pvt\.pvt_medium">',
        page,
    )
    source = built_docs.page("_modules/lucid/_ops/elementwise")
    assert 'href="../../../api/lucid.html#lucid._ops.elementwise.abs"' in source
    assert re.search(
        r'<dt[^>]*id="lucid\.abs">\s*<span id="lucid\._ops\.elementwise\.abs">',
        built_docs.page("api/lucid"),
    )
