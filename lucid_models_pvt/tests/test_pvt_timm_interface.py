"""Issue 16: timm's model interface on every PVT model (v1 and v2).

Every registered model is checked on a shallow copy (one block per stage, small
images), so the largest variants cost no more than the smallest.
"""

from __future__ import annotations

import numpy as np
import pytest

import lucid
import lucid.models
from lucid_models_pvt import pvt, pvt_v2

V1 = sorted(pvt.VARIANTS)
V2 = sorted(pvt_v2.VARIANTS)
SHALLOW = {"depths": [1, 1, 1, 1]}


def build(name: str, **settings):
    """A shallow copy of ``name`` at 64x64 (PVT v1 needs ``img_size`` for its embeddings)."""
    size = {"img_size": 64} if name in V1 else {}
    return getattr(lucid.models, name)(**size, **SHALLOW, **settings).eval()


def images(channels: int = 3, side: int = 64, seed: int = 0, batch: int = 2) -> lucid.Tensor:
    rng = np.random.default_rng(seed)
    return lucid.Tensor(rng.standard_normal((batch, channels, side, side)).astype(np.float32))


@pytest.mark.parametrize("name", V1 + V2)
def test_forward_is_forward_head_of_forward_features(name):
    model = build(name, num_classes=7)
    widths = pvt.VARIANTS.get(name, pvt_v2.VARIANTS.get(name)).settings["embed_dims"]
    assert model.num_features == widths[-1]
    x = images(batch=1)
    with lucid.no_grad():
        features = model.forward_features(x)
        logits = model(x)
        pooled = model.forward_head(features, pre_logits=True)
        np.testing.assert_array_equal(model.forward_head(features).data, logits.data)
        final, maps = model.forward_intermediates(x)
    # timm's final feature map: v1's normalised tokens (class token first), v2's map.
    want = (1, 1 + 2 * 2, widths[-1]) if name in V1 else (1, widths[-1], 2, 2)
    assert features.shape == want
    assert pooled.shape == (1, widths[-1])
    assert logits.shape == (1, 7)
    np.testing.assert_array_equal(final.data, features.data)
    assert [m.shape[1:] for m in maps] == [
        (c, 16 // 2**i, 16 // 2**i) for i, c in enumerate(widths)
    ]
    assert model.get_classifier() is model.head


@pytest.mark.parametrize("name", ["pvt_tiny", "pvt_v2_b0", "pvt_v2_b2_li"])
def test_forward_intermediates_as_in_timm(name):
    model = build(name, num_classes=7)
    widths = model.config["embed_dims"]
    x = images()
    with lucid.no_grad():
        final, maps = model.forward_intermediates(x)
        np.testing.assert_array_equal(final.data, model.forward_features(x).data)
        assert [tuple(m.shape) for m in maps] == [
            (2, c, 16 // 2**i, 16 // 2**i) for i, c in enumerate(widths)
        ]
        last_two = model.forward_intermediates(x, indices=2, intermediates_only=True)
        chosen = model.forward_intermediates(x, indices=[-1, 0], intermediates_only=True)
        early, (first,) = model.forward_intermediates(x, indices=[1], stop_early=True)
    for got, want in zip(last_two, maps[2:], strict=True):
        np.testing.assert_array_equal(got.data, want.data)
    # In the order asked for, negative indices counting from the end.
    np.testing.assert_array_equal(chosen[0].data, maps[3].data)
    np.testing.assert_array_equal(chosen[1].data, maps[0].data)
    # Stopping early, the final features are the deepest stage's map.
    np.testing.assert_array_equal(early.data, maps[1].data)
    np.testing.assert_array_equal(first.data, maps[1].data)


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"indices": 5}, ValueError, "last 5 stages; PVT has 1 to 4"),
        ({"indices": [0, 4]}, ValueError, r"in -4..3 .* got \[0, 4\]"),
        ({"indices": [1, 1]}, ValueError, "distinct"),
        ({"indices": "all"}, TypeError, "got 'all'"),
        ({"output_fmt": "NHWC"}, ValueError, "output_fmt must be 'NCHW'"),
        ({"norm": "yes"}, TypeError, "norm must be True or False"),
    ],
)
def test_forward_intermediates_rejects_bad_arguments(kwargs, error, message):
    with pytest.raises(error, match=message):
        build("pvt_v2_b0").forward_intermediates(images(), **kwargs)


def test_v1_stage_four_norm_is_optional_in_intermediates():
    model = build("pvt_tiny")
    x = images(seed=1)
    with lucid.no_grad():
        tokens, plain = model.forward_intermediates(x, indices=[3])
        _, normed = model.forward_intermediates(x, indices=[3], norm=True)
    # forward_features' tokens are normalised; the map with norm=True is theirs.
    b, c = tokens.shape[0], tokens.shape[-1]
    grid = tokens.data[:, 1:].reshape(b, 2, 2, c).transpose(0, 3, 1, 2)
    np.testing.assert_allclose(normed[0].data, grid, rtol=1e-6, atol=1e-6)
    assert not np.allclose(plain[0].data, grid, atol=1e-3)


@pytest.mark.parametrize("name", V1 + V2)
def test_features_only_returns_the_chosen_stages(name):
    model = build(name, features_only=True, out_indices=(1, 3))
    widths = model.config["embed_dims"]
    assert not any(k.startswith("head.") for k in model.state_dict())
    info = model.feature_info
    assert info.channels() == [widths[1], widths[3]]
    assert info.reduction() == [8, 32]
    assert info.channels(0) == widths[0] and len(info) == 4
    modules = dict(model.named_modules())
    assert all(n in modules for n in info.module_name())
    with lucid.no_grad():
        maps = model(images(batch=1))
    assert [tuple(m.shape) for m in maps] == [(1, widths[1], 8, 8), (1, widths[3], 2, 2)]
    with pytest.raises(ValueError, match="features_only=True"):
        model.forward_features(images())
    with pytest.raises(ValueError, match="features_only=True"):
        model.reset_classifier(10)


def test_feature_info_module_names_produce_the_maps():
    """A hook on ``module_name()`` sees the tokens each map is made of (v2: the stage norms)."""
    model = build("pvt_v2_b0", features_only=True)
    seen = {}
    modules = dict(model.named_modules())
    for name in model.feature_info.module_name():
        modules[name].register_forward_hook(lambda m, a, out, name=name: seen.update({name: out}))
    with lucid.no_grad():
        maps = model(images())
    for name, fmap in zip(model.feature_info.module_name(), maps, strict=True):
        b, c, h, w = fmap.shape
        np.testing.assert_array_equal(
            seen[name].data, fmap.data.transpose(0, 2, 3, 1).reshape(b, h * w, c)
        )


def test_v1_features_only_is_the_official_detection_backbone():
    """No class token, no final norm; stage 4 attends over its grid with pos_embed4[:, 1:]."""
    classifier = build("pvt_tiny", num_classes=0)
    backbone = build("pvt_tiny", features_only=True)
    state = classifier.state_dict()
    official_detection_keys = {
        k for k in state if k != "cls_token" and not k.startswith(("norm.", "head."))
    }
    assert set(backbone.state_dict()) == official_detection_keys
    result = backbone.load_state_dict(state, strict=False)
    assert sorted(result.unexpected_keys) == ["cls_token", "norm.bias", "norm.weight"]
    x = images(seed=2)
    with lucid.no_grad():
        maps = backbone(x)
        # The detection forward (whai362/PVT detection/pvt.py), written out.
        h = maps[2]
        tokens, size = backbone.patch_embed4(h)
        tokens = tokens + backbone.pos_embed4[:, 1:]
        for block in backbone.block4:
            tokens = block(tokens, size)
        want = tokens.data.reshape(2, *size, -1).transpose(0, 3, 1, 2)
        _, stages = classifier.forward_intermediates(x)
    np.testing.assert_allclose(maps[3].data, want, rtol=1e-5, atol=1e-6)
    # Stages 1-3 are the classifier's; stage 4 is not (the class token joins its attention).
    for got, same in zip(maps[:3], stages[:3], strict=True):
        np.testing.assert_allclose(got.data, same.data, rtol=1e-5, atol=1e-6)
    assert not np.allclose(maps[3].data, stages[3].data, atol=1e-3)


@pytest.mark.parametrize("name", ["pvt_tiny", "pvt_v2_b0"])
def test_reset_classifier_and_global_pool(name):
    model = build(name, num_classes=0)
    width = model.num_features
    x = images()
    with lucid.no_grad():
        assert model(x).shape == (2, width)
        model.reset_classifier(5)
        assert model(x).shape == (2, 5)
        assert model.get_classifier().weight.shape == (5, width)
        assert model.config["num_classes"] == model.num_classes == 5
        model.reset_classifier(0, global_pool="")
        unpooled = model(x)
    assert unpooled.shape == model.forward_features(x).shape
    with pytest.raises(ValueError, match="global_pool='' leaves the features unpooled"):
        model.reset_classifier(3)
    with pytest.raises(ValueError, match="global_pool must be one of"):
        model.reset_classifier(3, global_pool="max")
    model.reset_classifier(3, global_pool=model.default_global_pool)
    assert model(x).shape == (2, 3)


@pytest.mark.parametrize("name", ["pvt_tiny", "pvt_v2_b0"])
@pytest.mark.parametrize("alias", ["in_chans", "in_channels"])
def test_in_chans_builds_the_first_convolution(name, alias):
    model = build(name, num_classes=4, **{alias: 1})
    assert model.patch_embed1.proj.weight.shape[1] == 1
    assert model.config["in_chans"] == 1
    with lucid.no_grad():
        assert model(images(channels=1)).shape == (2, 4)
    with pytest.raises(ValueError, match=r"with 3 channels; .* in_chans=3"):
        model(images())


def test_in_chans_and_its_alias_must_agree():
    with pytest.raises(ValueError, match="in_chans=1 and in_channels=4 disagree"):
        build("pvt_v2_b0", in_chans=1, in_channels=4)
