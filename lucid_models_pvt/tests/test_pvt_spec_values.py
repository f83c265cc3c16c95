"""Issue 19: the values on our user's pvt_medium page work as written, for every PVT builder.

The values are parsed from the page, never retyped: from our user's page
itself (``shared/spec/pvt_medium.rst`` beside the repository) where it is
present, as in CI; else from ``spec/pvt_medium.rst.txt``, its verbatim copy
for checkouts without it, which a test keeps identical to the original.
"""

from __future__ import annotations

import ast
import os
import re
from pathlib import Path

import pytest

import lucid.models
from lucid_models_pvt import pvt, pvt_v2

COPY = Path(__file__).parent / "spec" / "pvt_medium.rst.txt"
ORIGINAL = Path(__file__).resolve().parents[3] / "shared" / "spec" / "pvt_medium.rst"
SPEC = ORIGINAL if ORIGINAL.exists() else COPY
# "- **name** (*type*, optional):" then its text, up to the next item.
_ITEM = re.compile(r"^\s*- \*\*(\w+)\*\* \(\*([^*]+)\*[^)]*\):(.*?)(?=^\s*- \*\*|\Z)", re.M | re.S)


def spec_parameters() -> dict[str, tuple[str, object]]:
    """Each documented parameter's type and default value, as the page writes them."""
    found = {}
    for name, type_text, text in _ITEM.findall(SPEC.read_text(encoding="utf-8")):
        literals = re.findall(r"`([^`]+)`", text)
        if name != "kwargs":
            found[name] = (type_text, ast.literal_eval(literals[-1]))
    return found


# CI always has the page beside the checkout: there a missing page fails.
@pytest.mark.skipif(
    not ORIGINAL.exists() and not os.environ.get("CI"),
    reason="our user's page (shared/spec/pvt_medium.rst) is not beside this checkout",
)
def test_the_copy_is_our_users_page_verbatim():
    assert COPY.read_bytes() == ORIGINAL.read_bytes()


def test_the_page_is_parsed():
    params = spec_parameters()
    assert list(params) == [
        "img_size",
        "num_classes",
        "embed_dims",
        "depths",
        "num_heads",
        "mlp_ratios",
        "sr_ratios",
    ]
    assert params["sr_ratios"] == ("list[float]", [8.0, 4.0, 2.0, 1.0])


def test_pvt_medium_built_from_the_page_is_the_default_model():
    kwargs = {name: value for name, (_, value) in spec_parameters().items()}
    model = lucid.models.pvt_medium(**kwargs)
    default = lucid.models.pvt_medium()
    assert model.config == default.config
    assert {k: type(v) for k, v in model.config.items()} == {
        k: type(v) for k, v in default.config.items()
    }
    assert sum(p.numel() for p in model.parameters()) == 41_492_648
    # The values the model was built with, as the page writes them.
    for name, value in kwargs.items():
        assert model.config[name] == value and repr(model.config[name]) == repr(value), name


BUILDERS = sorted(pvt.VARIANTS) + sorted(pvt_v2.VARIANTS)


@pytest.mark.parametrize("name", BUILDERS)
@pytest.mark.parametrize("kind", [list, tuple])
def test_every_builder_takes_the_pages_kinds_of_values(name, kind):
    """Integral floats for sr_ratios, floats for mlp_ratios, as lists or tuples."""
    # A shallow, narrow copy of each variant keeps this fast; the ratios are the point.
    settings = {
        "depths": kind([1, 1, 1, 1]),
        "sr_ratios": kind([8.0, 4.0, 2.0, 1.0]),
        "mlp_ratios": kind([8.0, 8.0, 4.0, 4.0]),
        "embed_dims": kind([16, 32, 48, 64]),
        "num_heads": kind([1, 2, 3, 4]),
    }
    model = getattr(lucid.models, name)(img_size=32, **settings)
    assert model.config["sr_ratios"] == [8.0, 4.0, 2.0, 1.0]
    assert model.config["mlp_ratios"] == [8.0, 8.0, 4.0, 4.0]
    assert model.config["depths"] == [1, 1, 1, 1]
    if not model.config.get("linear"):
        conv = model.block1[0].attn.sr
        assert conv.weight.shape[2:] == (8, 8)
        assert conv.stride == (8, 8)


@pytest.mark.parametrize("builder", [lucid.models.pvt_tiny, lucid.models.pvt_v2_b0])
def test_a_fractional_sr_ratio_says_why(builder):
    with pytest.raises(ValueError, match=r"sr_ratios\[1\]=2.5 is not a whole number") as caught:
        builder(sr_ratios=[8.0, 2.5, 2.0, 1.0])
    assert "kernel size and stride" in str(caught.value)
