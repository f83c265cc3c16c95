"""The example plugin of "Writing a model plugin" installs, registers its models and runs."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest
from numpydoc.docscrape import NumpyDocString

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
PLUGIN = ROOT / "examples" / "lucid-models-tinynet"


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The plugin installed, entry point and all, into a folder of its own."""
    target = tmp_path_factory.mktemp("tinynet-site")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "--target",
            str(target),
            str(PLUGIN),
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    assert list(target.glob("lucid_models_tinynet-*.dist-info/entry_points.txt"))
    return target


def run_python(code: str, site: Path, cwd: Path) -> str:
    """Run ``code`` in a new interpreter that sees the installed plugin; return its output."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), str(ROOT / "docs" / "_ext")])}
    env.pop("LUCID_PLUGINS", None)
    env.pop("LUCID_DISABLE_PLUGIN_AUTOLOAD", None)
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def test_plugin_models_are_found_through_the_entry_point(installed: Path, tmp_path: Path) -> None:
    run_python(
        """
        import lucid, lucid.models
        names = lucid.models.list_models()
        assert {"tinynet_s", "tinynet_m"} <= set(names), names
        assert "pvt_medium" in names, names  # the other plugin still loads
        info = lucid.models.model_info("tinynet_s")
        assert (info.plugin, info.distribution, info.family) == (
            "tinynet", "lucid-models-tinynet", "tinynet"), info
        assert info.module == "lucid_models_tinynet.tinynet", info
        plugins = {p.name: p for p in lucid.models.list_plugins()}
        assert not plugins["tinynet"].errors, plugins["tinynet"]
        model = lucid.models.create_model("tinynet_m", num_classes=4)
        out = model(lucid.randn(2, 3, 32, 32))
        assert out.shape == (2, 4), out.shape
        out.sum().backward()
        assert all(p.grad is not None for p in model.parameters())
        """,
        installed,
        tmp_path,
    )


def test_usage_script_prints_what_the_guide_says(installed: Path, tmp_path: Path) -> None:
    out = run_python((PLUGIN / "usage.py").read_text(), installed, tmp_path)
    assert out.splitlines() == ["['tinynet_m', 'tinynet_s']", "(2, 5)"]


def test_docstring_examples_pass(installed: Path, tmp_path: Path) -> None:
    out = run_python(
        """
        import doctest
        from lucid_models_tinynet import tinynet
        result = doctest.testmod(tinynet)
        assert result.attempted >= 4 and not result.failed, result
        print(result.attempted)
        """,
        installed,
        tmp_path,
    )
    assert int(out) >= 4


def test_generated_page_for_a_second_family(installed: Path, tmp_path: Path) -> None:
    # The page generator knows nothing of PVT: a TinyNet page has the same parts.
    out = run_python(
        """
        import lucid.models
        import lucid_model_pages as pages
        info = pages.registry_entry("tinynet_s")
        facts = pages.ModelFacts(info, pages.measure(info, {}, 224))
        print(pages.render_model_page(facts))
        print("PARAMS", sum(p.numel() for p in lucid.models.tinynet_s().parameters()))
        """,
        installed,
        tmp_path,
    )
    page, _, params = out.rpartition("PARAMS ")
    assert f"**Total Parameters**: {int(params):,}" in page
    assert "def tinynet_s(img_size: int = 32, num_classes: int = 10, **kwargs) -> TinyNet" in page
    assert ".. py:function:: tinynet_s(img_size: int = 32" in page
    for setting, default in [("widths", "[16, 32]"), ("depths", "[1, 1]"), ("in_channels", "3")]:
        assert f"**{setting}**" in page and f"Default is ``{default}``." in page, setting
    assert "Channels of each stage" in page  # quoted from the TinyNet docstring
    assert "``lucid-models-tinynet`` 0.1.0 (plugin ``tinynet``)" in page
    assert ">>> images = lucid.randn(1, 3, 32, 32)" in page
    assert "(1, 10)" in page
    # A small model's compute reads in MMACs, not "0.00 GMACs".
    assert re.search(r"\*\*MACs\*\*: \d+\.\d\d MMACs for one 32x32 image", page), page


SITE_INDEX = """\
Example site
============

.. lucid-model-index::
"""


def test_example_plugin_gets_its_pages_without_any_change_to_lucid(
    installed: Path, tmp_path: Path, page_text: Callable[[Path], str]
) -> None:
    # A site of its own with lucid's model-pages extension, only the example
    # plugin loaded, built with warnings as errors: every setting of every
    # TinyNet model is documented in the plugin's own words.
    source = tmp_path / "site"
    source.mkdir()
    (source / "conf.py").write_text(
        'extensions = ["sphinx.ext.autodoc", "sphinx.ext.napoleon", "lucid_model_pages"]\n'
        "# The pages link into lucid's own site (guides, API), which this one lacks.\n"
        'suppress_warnings = ["ref.doc"]\n'
    )
    (source / "index.rst").write_text(SITE_INDEX)
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(installed), str(ROOT / "docs" / "_ext")]),
        "LUCID_PLUGINS": "tinynet",
    }
    env.pop("LUCID_DISABLE_PLUGIN_AUTOLOAD", None)
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "sphinx",
            "-W",
            "-q",
            "-b",
            "html",
            str(source),
            str(tmp_path / "html"),
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    generated = tmp_path / "html" / "models" / "generated"
    assert sorted(p.name for p in generated.glob("*.html")) == [
        "family-tinynet.html",
        "tinynet_m.html",
        "tinynet_s.html",
    ]
    # Each setting's description on the model page is the class docstring's entry.
    model_class_doc = run_python(
        """
        import inspect
        from lucid_models_tinynet.tinynet import TinyNet
        print(inspect.getdoc(TinyNet))
        """,
        installed,
        tmp_path,
    )
    parsed = NumpyDocString(model_class_doc)  # as the model pages parse it
    entries = {p.name: " ".join(p.desc) for p in parsed["Parameters"]}
    text = page_text(generated / "tinynet_m.html")
    for setting, default in [("widths", "[32, 64, 128]"), ("depths", "[2, 2, 2]")]:
        assert re.search(
            rf"{setting} \(sequence of int\): {re.escape(entries[setting])} "
            rf"Default is {re.escape(default)}\.",
            text,
        ), (setting, text)
    assert "in_channels (int): The number of channels of the input images. Default is 3." in text
    # The family page: the module docstring, the table, and the class, each parameter its own.
    family = page_text(generated / "family-tinynet.html")
    assert "TinyNet: small convolutional image classifiers" in family
    for name, description in entries.items():
        assert f"{name} (" in family and description in family, name
    index = page_text(tmp_path / "html" / "index.html")
    assert re.search(r"tinynet_m tinynet [\d,]+ \d+\.\d\d MMACs 32x32 — —", index), index
