"""The model-pages extension's own pieces: MAC formatting and reading a plugin's docstrings."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

import pytest

EXTENSION = Path(__file__).resolve().parents[2] / "docs" / "_ext" / "lucid_model_pages.py"


@pytest.fixture(scope="module")
def pages() -> ModuleType:
    """The extension, imported as Sphinx imports it (from docs/_ext)."""
    spec = importlib.util.spec_from_file_location("lucid_model_pages", EXTENSION)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    # Its dataclasses look their module up while being defined.
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    ("macs", "shown"),
    [
        (6_170_000_000, "6.17 GMACs"),
        (1_000_000_000, "1.00 GMACs"),
        (999_990_000, "999.99 MMACs"),
        (566_070_000, "566.07 MMACs"),
        (2_359_296, "2.36 MMACs"),
    ],
)
def test_macs_below_one_gmac_read_in_mmacs(pages: ModuleType, macs: int, shown: str) -> None:
    assert pages.format_macs(macs) == shown
    # In a table cell the figure and its unit stay on one line.
    assert pages.macs_cell(macs) == shown.replace(" ", "\N{NO-BREAK SPACE}")


class _Model:
    """A model whose docstring documents two settings together and one on its own.

    Parameters
    ----------
    width, depth : int
        Shared description.
    ratio : list[float]
        The ratio of each stage.
    """

    def __init__(self, width: int = 1, depth: int = 1, ratio: tuple[float, ...] = (1.0,)) -> None:
        """Build it.

        Parameters
        ----------
        ratio : tuple
            Not used: the class docstring documents ratio first.
        extra : int
            Documented by ``__init__`` only.
        """


def _builder(width: int = 2, **kwargs: object) -> _Model:
    """Build a model.

    Parameters
    ----------
    width : int
        The builder's own words win.
    **kwargs
        Any setting of the model.
    """
    return _Model(width)


def test_each_name_gets_its_entry_and_the_first_source_wins(pages: ModuleType) -> None:
    found = pages.documented_parameters(_builder, _Model, _Model.__init__)
    assert found["width"].desc == ["The builder's own words win."]
    assert found["depth"].desc == ["Shared description."]  # split from "width, depth"
    assert (found["ratio"].type, found["ratio"].desc) == (
        "list[float]",
        ["The ratio of each stage."],
    )
    assert found["extra"].desc == ["Documented by ``__init__`` only."]
    assert found["kwargs"].desc == ["Any setting of the model."]
    assert set(found) == {"width", "depth", "ratio", "extra", "kwargs"}


def test_annotations_read_as_users_write_them(pages: ModuleType) -> None:
    # No module paths: "Sequence[int]", not "collections.abc.Sequence[int]".
    assert pages.short_annotation(Sequence[int]) == "Sequence[int]"
    assert pages.short_annotation(tuple[float, ...]) == "tuple[float, ...]"
    assert pages.short_annotation(_Model) == "_Model"
    assert pages.value_type([8.0, 4.0]) == "list[float]"
    assert pages.value_type((1, 2)) == "tuple[int, ...]"
