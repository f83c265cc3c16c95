"""Issue 13, the PVT plugin's registration: one variant table per family, settings checked."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import numpy as np
import pytest

import lucid.models
from lucid_models_pvt import convert, pvt, pvt_v2

TABLES = {"pvt": pvt.VARIANTS, "pvt_v2": pvt_v2.VARIANTS}
ALL = [(family, name) for family, table in TABLES.items() for name in table]


def test_the_tables_are_the_registered_models():
    assert sorted(name for _, name in ALL) == sorted(lucid.models.list_models(plugin="pvt"))


@pytest.mark.parametrize(("family", "name"), ALL)
def test_the_table_drives_builder_docstring_and_converter(family, name):
    variant = TABLES[family][name]
    builder = getattr(lucid.models, name)
    # A builder is a few lines: the row holds its settings.
    assert len(inspect.getsource(builder).splitlines()) <= 5
    # A shallow copy keeps this fast; every other setting is the row's.
    model = builder(img_size=32, depths=[1, 1, 1, 1])
    for key, value in variant.settings.items():
        if key != "depths":
            assert model.config[key] == value, key
        assert f"- ``{key}``: ``{value!r}``" in builder.__doc__, key
    assert variant.title in builder.__doc__.splitlines()[0]
    # The converter recognises the variant from a checkpoint's keys alone.
    width = variant.settings["embed_dims"][0]
    keys = {"patch_embed1.proj.weight": np.zeros((width, 3, 1, 1))}
    if family == "pvt_v2":
        keys["norm1.weight"] = np.zeros(width)
    for stage, depth in enumerate(variant.settings["depths"]):
        keys.update({f"block{stage + 1}.{j}.norm1.weight": np.zeros(1) for j in range(depth)})
    if variant.settings.get("linear"):
        keys["block4.0.attn.sr.weight"] = np.zeros(1)
    assert convert.infer_model(keys) == name


def test_pvt_v2_imports_no_private_name_from_pvt():
    tree = ast.parse(Path(pvt_v2.__file__).read_text(encoding="utf-8"))
    imports = [node for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)]
    assert all(node.module != "lucid_models_pvt.pvt" for node in imports)
    names = [alias.name for node in imports for alias in node.names]
    assert not [n for n in names if n.startswith("_")], names


SMALL = {"img_size": 32, "depths": [1, 1, 1, 1]}


@pytest.mark.parametrize(
    ("builder", "setting", "value"),
    [
        (lucid.models.pvt_tiny, "attn_proj", "False"),
        (lucid.models.pvt_tiny, "features_only", "False"),
        (lucid.models.pvt_v2_b0, "features_only", "False"),
        (lucid.models.pvt_tiny, "qkv_bias", "no"),
        (lucid.models.pvt_v2_b0, "qkv_bias", 1),
        (lucid.models.pvt_v2_b0, "linear", "yes"),
    ],
)
def test_boolean_settings_must_be_bools(builder, setting, value):
    with pytest.raises(TypeError, match=rf"{setting} must be True or False, got {value!r}"):
        builder(**SMALL, **{setting: value})


@pytest.mark.parametrize("builder", [lucid.models.pvt_tiny, lucid.models.pvt_v2_b0])
def test_rates_are_checked_as_the_user_gave_them(builder):
    with pytest.raises(ValueError) as caught:
        builder(**SMALL, drop_path_rate=2.0)
    assert str(caught.value) == "drop_path_rate must be a probability in [0, 1], got 2.0"
    for name in ("drop_rate", "attn_drop_rate"):
        with pytest.raises(
            ValueError, match=rf"{name} must be a probability in \[0, 1\], got -0.1"
        ):
            builder(**SMALL, **{name: -0.1})


@pytest.mark.parametrize("builder", [lucid.models.pvt_tiny, lucid.models.pvt_v2_b0])
def test_a_zero_mlp_width_is_refused_at_construction(builder):
    with pytest.raises(ValueError, match=r"mlp_ratios\[0\]=0.001 .* hidden width of .* = 0"):
        builder(**SMALL, mlp_ratios=[0.001] * 4)


@pytest.mark.parametrize(("family", "name"), ALL)
def test_summaries_do_not_pair_a_layout_with_an_accuracy_it_was_not_measured_on(family, name):
    # `lucid models info` prints the summary beside the default layout's
    # parameter count: the paper's accuracy has no place in it.
    variant = TABLES[family][name]
    summary = lucid.models.model_info(name, count_params=False).summary
    assert "%" not in summary and "top-1" not in summary, summary
    doc = " ".join(inspect.getdoc(getattr(lucid.models, name)).split())
    if variant.top1 is None:
        assert "The paper reports no ImageNet accuracy for it." in doc
    elif family == "pvt":
        # PVT v1's default leaves out the attention projection the paper has.
        assert f"{variant.top1}% ImageNet-1k top-1 for its layout, ``attn_proj=True``" in doc
        assert "the default layout has no published accuracy" in doc
    else:
        assert f"The paper reports {variant.top1}% ImageNet-1k top-1 for it." in doc
