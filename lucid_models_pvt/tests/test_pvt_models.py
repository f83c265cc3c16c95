"""PVT and PVT v2 models: parameter counts, every registered model's forward and backward, API."""

from __future__ import annotations

import re

import numpy as np
import pytest

import lucid
import lucid.models
from lucid_models_pvt.pvt import PVT, pvt_huge, pvt_tiny
from lucid_models_pvt.pvt_v2 import PVTv2, pvt_v2_b0, pvt_v2_b2_li

# Parameter counts at 224 with 1000 classes: (default, attn_proj=True) for v1.
V1_COUNTS = {
    "pvt_tiny": (12_457_192, 13_229_288),
    "pvt_small": (23_003_048, 24_485_864),
    "pvt_medium": (41_492_648, 44_208_104),
    "pvt_large": (57_663_336, 61_369_320),
    "pvt_huge": (286_706_920, 304_945_512),
}
V2_COUNTS = {
    "pvt_v2_b0": 3_666_760,
    "pvt_v2_b1": 14_009_000,
    "pvt_v2_b2": 25_362_856,
    "pvt_v2_b2_li": 22_553_512,
    "pvt_v2_b3": 45_238_696,
    "pvt_v2_b4": 62_556_072,
    "pvt_v2_b5": 81_956_008,
}
# The PVT v2 paper's Table (millions); its b0 figure, 3.4M, leaves out the head.
V2_PAPER_MILLIONS = {
    "pvt_v2_b1": 14.0,
    "pvt_v2_b2": 25.4,
    "pvt_v2_b2_li": 22.6,
    "pvt_v2_b3": 45.2,
    "pvt_v2_b4": 62.6,
    "pvt_v2_b5": 82.0,
}
# Building these takes a few seconds (or, for pvt_huge, 1.2 GB and longer).
BIG = {"pvt_medium", "pvt_large", "pvt_huge", "pvt_v2_b3", "pvt_v2_b4", "pvt_v2_b5"}
ALL_MODELS = sorted([*V1_COUNTS, *V2_COUNTS])


def n_params(model: lucid.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def by_size(names):
    return [pytest.param(n, marks=pytest.mark.slow) if n in BIG else n for n in names]


def v1_count_from_shapes(config: dict) -> int:
    """PVT v1's parameter count from its settings alone, without allocating the model."""
    total, channels = 0, config["in_chans"]
    for i in range(4):
        d, sr = config["embed_dims"][i], config["sr_ratios"][i]
        hidden = int(d * config["mlp_ratios"][i])
        patch = 4 if i == 0 else 2
        side = config["img_size"] // 2 ** (i + 2)
        total += channels * d * patch * patch + d + 2 * d  # patch_embed: proj, norm
        total += (side * side + (i == 3)) * d  # pos_embed
        block = 2 * d + (d * d + d) + (2 * d * d + 2 * d) + 2 * d  # norm1, q, kv, norm2
        block += d * hidden + hidden + hidden * d + d  # mlp
        if config["attn_proj"]:
            block += d * d + d
        if sr > 1:
            block += d * d * sr * sr + d + 2 * d  # sr convolution and its norm
        total += config["depths"][i] * block
        channels = d
    d = config["embed_dims"][3]
    return total + 2 * d + d + d * config["num_classes"] + config["num_classes"]


# ------------------------------------------------------- parameter counts ---


def test_registered_models_are_exactly_the_pvt_family():
    assert lucid.models.list_models(plugin="pvt") == sorted(ALL_MODELS, key=_natural)
    assert lucid.models.list_models("pvt_v2_*") == [
        "pvt_v2_b0",
        "pvt_v2_b1",
        "pvt_v2_b2",
        "pvt_v2_b2_li",
        "pvt_v2_b3",
        "pvt_v2_b4",
        "pvt_v2_b5",
    ]


def _natural(name: str) -> list:
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", name)]


_DEPTHS = {
    "pvt_tiny": [2, 2, 2, 2],
    "pvt_small": [3, 4, 6, 3],
    "pvt_medium": [3, 4, 18, 3],
    "pvt_large": [3, 8, 27, 3],
    "pvt_huge": [3, 10, 60, 3],
}


@pytest.mark.parametrize("name", V1_COUNTS)
@pytest.mark.parametrize("attn_proj", [False, True])
def test_v1_counts_from_shapes_match_the_table(name, attn_proj):
    """The table from the paper's settings; built models are checked against it below."""
    huge = name == "pvt_huge"
    config = {
        "img_size": 224,
        "num_classes": 1000,
        "in_chans": 3,
        "embed_dims": [128, 256, 512, 768] if huge else [64, 128, 320, 512],
        "depths": _DEPTHS[name],
        "mlp_ratios": [8, 8, 4, 4],
        "sr_ratios": [8, 4, 2, 1],
        "attn_proj": attn_proj,
    }
    assert v1_count_from_shapes(config) == V1_COUNTS[name][attn_proj]
    # The builder's settings are those (a shallow copy keeps this cheap for pvt_huge).
    built = getattr(lucid.models, name)(img_size=32, depths=[1, 1, 1, 1]).config
    assert all(built[k] == config[k] for k in ("embed_dims", "mlp_ratios", "sr_ratios"))


@pytest.mark.parametrize("name", by_size(n for n in V1_COUNTS if n != "pvt_huge"))
def test_v1_paper_layout_counts(name):
    model = getattr(lucid.models, name)(attn_proj=True)
    assert n_params(model) == V1_COUNTS[name][1]
    assert model.config["attn_proj"] is True


def test_v2_counts_agree_with_the_paper():
    for name, millions in V2_PAPER_MILLIONS.items():
        assert round(V2_COUNTS[name] / 1e6, 1) == millions, name
    head = 256 * 1000 + 1000
    assert round((V2_COUNTS["pvt_v2_b0"] - head) / 1e6, 1) == 3.4


# ------------------------------------------------- every registered model ---


@pytest.mark.parametrize("name", by_size(ALL_MODELS))
def test_registered_model_builds_counts_and_runs(name):
    """Default build: exact parameter count, documented defaults, finite logits at 64x64."""
    builder = getattr(lucid.models, name)
    model = builder()
    expected = V1_COUNTS[name][0] if name in V1_COUNTS else V2_COUNTS[name]
    assert n_params(model) == expected
    # The docstring, written from the variant table, shows the defaults the model has.
    doc = builder.__doc__
    for key in ("embed_dims", "depths", "num_heads", "mlp_ratios", "sr_ratios"):
        assert f"- ``{key}``: ``{model.config[key]!r}``" in doc, (name, key)
    model.eval()
    x = lucid.Tensor(np.random.default_rng(0).standard_normal((2, 3, 64, 64)))
    with lucid.no_grad():
        logits = model(x)
    assert logits.shape == (2, 1000)
    assert np.isfinite(logits.data).all()
    assert logits.dtype == lucid.float32


@pytest.mark.parametrize(
    "builder", [pvt_tiny, pvt_v2_b0, pytest.param(pvt_v2_b2_li, marks=pytest.mark.slow)]
)
def test_backward_reaches_every_parameter(builder):
    model = builder(num_classes=10)
    x = lucid.Tensor(np.random.default_rng(1).standard_normal((2, 3, 64, 64)))
    (model(x) ** 2).mean().backward()
    for name, p in model.named_parameters():
        assert p.grad is not None, name
        assert p.grad.shape == p.shape, name
        assert np.isfinite(p.grad.data).all(), name


# ----------------------------------------------------------- model API ---


def test_config_records_the_settings():
    model = pvt_tiny(img_size=64, num_classes=7, attn_proj=True, mlp_ratios=[4, 4, 4, 4])
    assert model.config == {
        "img_size": 64,
        "num_classes": 7,
        "in_chans": 3,
        "embed_dims": [64, 128, 320, 512],
        "depths": [2, 2, 2, 2],
        "num_heads": [1, 2, 5, 8],
        "mlp_ratios": [4.0, 4.0, 4.0, 4.0],
        "sr_ratios": [8.0, 4.0, 2.0, 1.0],
        "qkv_bias": True,
        "attn_proj": True,
        "drop_rate": 0.0,
        "attn_drop_rate": 0.0,
        "drop_path_rate": 0.0,
        "features_only": False,
        "out_indices": [0, 1, 2, 3],
    }
    # Normalised: ratios are floats and sequences lists, whatever was passed.
    assert all(type(v) is float for k in ("mlp_ratios", "sr_ratios") for v in model.config[k])
    assert pvt_v2_b2_li(depths=[1, 1, 1, 1]).config["linear"] is True


def test_state_dict_uses_official_names():
    v1 = pvt_tiny(img_size=32, attn_proj=True).state_dict()
    for key in [
        "patch_embed1.proj.weight",
        "patch_embed1.norm.weight",
        "pos_embed1",
        "pos_embed4",
        "block1.0.norm1.weight",
        "block1.0.attn.q.weight",
        "block1.0.attn.kv.weight",
        "block1.0.attn.proj.weight",
        "block1.0.attn.sr.weight",
        "block1.0.attn.norm.weight",
        "block1.0.mlp.fc1.weight",
        "block1.0.mlp.fc2.bias",
        "norm.weight",
        "cls_token",
        "head.weight",
    ]:
        assert key in v1, key
    assert v1["pos_embed4"].shape == (1, 2, 512)
    assert "block4.0.attn.sr.weight" not in v1
    assert "block1.0.attn.proj.weight" not in pvt_tiny(img_size=32).state_dict()
    v2 = pvt_v2_b0().state_dict()
    for key in [
        "patch_embed1.proj.weight",
        "patch_embed1.norm.bias",
        "block1.0.attn.sr.weight",
        "block1.0.attn.proj.weight",
        "block1.0.mlp.dwconv.dwconv.weight",
        "norm1.weight",
        "norm4.bias",
        "head.bias",
    ]:
        assert key in v2, key
    assert v2["patch_embed1.proj.weight"].shape == (32, 3, 7, 7)
    assert v2["block1.0.mlp.dwconv.dwconv.weight"].shape == (256, 1, 3, 3)


@pytest.mark.parametrize(
    ("builder", "size", "expected"),
    [
        (pvt_tiny, (64, 96), [(64, 16, 24), (128, 8, 12), (320, 4, 6), (512, 2, 3)]),
        (pvt_v2_b0, (64, 64), [(32, 16, 16), (64, 8, 8), (160, 4, 4), (256, 2, 2)]),
        # Sides round up in PVT v2: its convolutions pad.
        (pvt_v2_b0, (50, 37), [(32, 13, 10), (64, 7, 5), (160, 4, 3), (256, 2, 2)]),
    ],
    ids=["v1", "v2", "v2-odd"],
)
def test_forward_intermediates_gives_four_stage_maps(builder, size, expected):
    maps = builder(img_size=64).forward_intermediates(
        lucid.zeros(2, 3, *size), intermediates_only=True
    )
    assert [tuple(m.shape) for m in maps] == [(2, *e) for e in expected]


def test_drop_path_rates_rise_linearly():
    model = pvt_huge(img_size=32, depths=[1, 1, 1, 2])
    assert model.config["drop_path_rate"] == 0.02
    blocks = [b for i in range(4) for b in getattr(model, f"block{i + 1}")]
    rates = [getattr(b.drop_path, "drop_prob", 0.0) for b in blocks]
    assert rates == pytest.approx([0.0, 0.005, 0.01, 0.015, 0.02])


def test_initialisation_follows_the_reference():
    v2 = dict(pvt_v2_b0(num_classes=10).state_dict())
    std = {k: float(v.data.std()) for k, v in v2.items()}
    assert std["block1.0.attn.q.weight"] == pytest.approx(0.02, rel=0.05)
    assert std["head.weight"] == pytest.approx(0.02, rel=0.1)
    # Convolutions: normal with std sqrt(2 / fan_out), fan_out = k * k * out / groups.
    assert std["patch_embed1.proj.weight"] == pytest.approx((2 / (7 * 7 * 32)) ** 0.5, rel=0.05)
    assert std["block1.0.mlp.dwconv.dwconv.weight"] == pytest.approx((2 / 9) ** 0.5, rel=0.05)
    for key in ["block1.0.attn.q.bias", "block1.0.attn.sr.bias", "patch_embed2.proj.bias"]:
        assert not v2[key].data.any(), key
    assert (v2["norm1.weight"].data == 1).all() and not v2["norm1.bias"].data.any()
    v1 = pvt_tiny(img_size=64).state_dict()
    assert float(v1["pos_embed1"].data.std()) == pytest.approx(0.02, rel=0.1)
    assert float(v1["block3.0.mlp.fc1.weight"].data.std()) == pytest.approx(0.02, rel=0.05)


def test_dropout_and_drop_path_act_only_in_training():
    model = pvt_tiny(img_size=64, drop_rate=0.2, attn_drop_rate=0.2, drop_path_rate=0.2)
    x = lucid.Tensor(np.random.default_rng(2).standard_normal((2, 3, 64, 64)))
    with lucid.no_grad():
        assert not np.allclose(model(x).data, model(x).data)
        model.eval()
        np.testing.assert_array_equal(model(x).data, model(x).data)


def test_repr_shows_the_module_tree():
    text = repr(pvt_tiny(img_size=32, depths=[1, 1, 1, 1]))
    assert text.startswith("PVT(")
    assert "(block1): ModuleList(" in text
    assert "(sr): Conv2d(" in text


# ----------------------------------------------------------------- errors ---


@pytest.fixture(scope="module")
def tiny():
    return pvt_tiny(img_size=64)


@pytest.mark.parametrize(
    ("x", "error", "message"),
    [
        (lucid.zeros(3, 64, 64), ValueError, r"\(B, 3, H, W\), got \(3, 64, 64\); add a batch"),
        (lucid.zeros(1, 1, 64, 64), ValueError, "with 1 channels; convert the images to 3"),
        (lucid.zeros(1, 3, 64, 48), ValueError, "multiples of 32, got 64x48; .* 64x64"),
        (lucid.Tensor(np.zeros((1, 3, 64, 64), np.uint8)), TypeError, "dtype uint8; .*float"),
        (np.zeros((1, 3, 64, 64), np.float32), TypeError, "lucid.Tensor"),
    ],
    ids=["rank", "channels", "side", "integer", "ndarray"],
)
def test_bad_input_is_explained(tiny, x, error, message):
    with pytest.raises(error, match=message):
        tiny(x)


def test_v2_takes_any_side_but_checks_the_rest():
    model = PVTv2(num_classes=3, depths=[1, 1, 1, 1])
    assert model(lucid.zeros(1, 3, 33, 29)).shape == (1, 3)
    with pytest.raises(ValueError, match="at least 29 pixels, got 33x17: stage 1's 9x5 map"):
        model(lucid.zeros(1, 3, 33, 17))
    linear = PVTv2(num_classes=3, depths=[1, 1, 1, 1], linear=True)
    assert linear(lucid.zeros(1, 3, 5, 3)).shape == (1, 3)
    with pytest.raises(ValueError, match="with 4 channels"):
        model(lucid.zeros(1, 4, 32, 32))


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"depths": [2, 2, 2]}, ValueError, r"depths needs one value per stage.*\[2, 2, 2\]"),
        (
            {"embed_dims": [64, 128, 320, 500]},
            ValueError,
            r"embed_dims\[3\]=500 .* num_heads\[3\]=8",
        ),
        (
            {"sr_ratios": [8, 2.5, 2, 1]},
            ValueError,
            r"sr_ratios\[1\]=2.5 is not a whole number: .* kernel size and stride",
        ),
        ({"sr_ratios": [8, 4, 2, 2]}, ValueError, r"sr_ratios\[3\] must be 1"),
        ({"img_size": 100}, ValueError, "multiple of 32.*100"),
        ({"depth": [2, 2, 2, 2]}, TypeError, "unknown setting 'depth'; did you mean 'depths'"),
        ({"num_classes": -1}, ValueError, "num_classes must be a non-negative integer, got -1"),
        ({"in_channels": 0}, ValueError, "in_chans must be a positive integer, got 0"),
        ({"in_chans": 0}, ValueError, "in_chans must be a positive integer, got 0"),
        ({"linear": True}, TypeError, "unknown setting 'linear'"),
    ],
)
def test_inconsistent_settings_are_explained(kwargs, error, message):
    with pytest.raises(error, match=message):
        pvt_tiny(**kwargs)


def test_v2_settings_are_checked():
    with pytest.raises(ValueError, match=r"num_heads needs one value per stage"):
        pvt_v2_b0(num_heads=[1, 2, 5, 8, 8])
    with pytest.raises(TypeError, match="'attn_proj'"):
        pvt_v2_b0(attn_proj=True)
    assert isinstance(pvt_v2_b0(depths=[1, 1, 1, 1]), PVTv2)
    assert isinstance(pvt_tiny(img_size=32), PVT)
