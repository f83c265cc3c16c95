"""Every layer against its PyTorch twin: weights copied via load_state_dict, same outputs, grads."""

from __future__ import annotations

import numpy as np
import pytest

import lucid
from lucid import nn

torch = pytest.importorskip("torch")

# torch notes that it copies the input for padding="same" with even kernels.
pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same':UserWarning")


def randn(rng: np.random.Generator, *shape: int) -> np.ndarray:
    return rng.standard_normal(shape).astype(np.float32)


# ------------------------------------------------------------- linear ---


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("shape", [(5, 4), (2, 3, 4), (4,)])
def test_linear(rng, bias, shape, assert_parity):
    assert_parity(nn.Linear(4, 3, bias=bias), torch.nn.Linear(4, 3, bias=bias), randn(rng, *shape))


def test_linear_on_a_transposed_input(rng, assert_parity):
    x = randn(rng, 4, 6)
    assert_parity(
        lambda t: nn.functional.linear(t.T, lucid.tensor(np.ones((2, 4), np.float32))),
        lambda t: torch.nn.functional.linear(t.T, torch.ones(2, 4)),
        x,
    )


def test_identity_passes_the_input_through(rng):
    x = lucid.tensor(randn(rng, 3))
    assert nn.Identity(7, key="ignored")(x) is x


# --------------------------------------------------------------- conv ---

CONV2D_CASES = [
    dict(in_channels=3, out_channels=4, kernel_size=3),
    dict(in_channels=3, out_channels=4, kernel_size=3, stride=2, padding=1),
    dict(in_channels=2, out_channels=3, kernel_size=(2, 3), stride=(1, 2), padding=(1, 0)),
    dict(in_channels=2, out_channels=4, kernel_size=4, padding="same"),
    dict(in_channels=2, out_channels=4, kernel_size=3, padding="same", dilation=2),
    dict(in_channels=2, out_channels=2, kernel_size=3, padding="valid", bias=False),
    dict(in_channels=3, out_channels=4, kernel_size=3, dilation=2, stride=2, padding=2),
    dict(in_channels=4, out_channels=6, kernel_size=3, groups=2, padding=1),
    dict(in_channels=4, out_channels=4, kernel_size=3, groups=4, padding=1),
    dict(in_channels=4, out_channels=8, kernel_size=3, groups=4, stride=2, padding=1),
    dict(in_channels=4, out_channels=4, kernel_size=(3, 5), groups=4, dilation=(2, 1)),
    dict(in_channels=3, out_channels=5, kernel_size=4, stride=4),
    dict(in_channels=3, out_channels=5, kernel_size=3, stride=3),
    dict(in_channels=4, out_channels=4, kernel_size=2, stride=2, groups=2),
    dict(in_channels=3, out_channels=5, kernel_size=1),
]


@pytest.mark.parametrize("kwargs", CONV2D_CASES, ids=lambda k: str(sorted(k.items())))
def test_conv2d(rng, kwargs, assert_parity):
    x = randn(rng, 2, kwargs["in_channels"], 10, 11)
    assert_parity(nn.Conv2d(**kwargs), torch.nn.Conv2d(**kwargs), x, atol=1e-4)


def test_conv2d_unbatched_input(rng, assert_parity):
    assert_parity(nn.Conv2d(2, 3, 3), torch.nn.Conv2d(2, 3, 3), randn(rng, 2, 6, 6), atol=1e-4)


CONV1D_CASES = [
    dict(in_channels=3, out_channels=4, kernel_size=3),
    dict(in_channels=3, out_channels=4, kernel_size=4, stride=2, padding=1),
    dict(in_channels=2, out_channels=4, kernel_size=4, padding="same", dilation=2),
    dict(in_channels=4, out_channels=6, kernel_size=3, groups=2, bias=False),
    dict(in_channels=4, out_channels=4, kernel_size=5, groups=4, padding=2),
]


@pytest.mark.parametrize("kwargs", CONV1D_CASES, ids=lambda k: str(sorted(k.items())))
def test_conv1d(rng, kwargs, assert_parity):
    x = randn(rng, 2, kwargs["in_channels"], 13)
    assert_parity(nn.Conv1d(**kwargs), torch.nn.Conv1d(**kwargs), x, atol=1e-4)


def test_conv_rejects_bad_channels_and_strided_same():
    with pytest.raises(ValueError, match="divisible by groups"):
        nn.Conv2d(3, 4, 3, groups=2)
    with pytest.raises(ValueError, match="stride 1"):
        nn.Conv2d(3, 4, 3, stride=2, padding="same")
    with pytest.raises(ValueError, match="channels"):
        nn.Conv2d(3, 4, 3)(lucid.zeros(1, 2, 5, 5))


# ------------------------------------------------------ normalization ---


@pytest.mark.parametrize(
    "args, kwargs, shape",
    [
        ((8,), {}, (2, 5, 8)),
        ((8,), {"eps": 1e-3}, (8,)),
        (((4, 6),), {}, (3, 4, 6)),
        ((8,), {"elementwise_affine": False}, (4, 8)),
        ((8,), {"bias": False}, (4, 8)),
    ],
)
def test_layer_norm(rng, args, kwargs, shape, assert_parity):
    x = randn(rng, *shape) * 3 + 1
    assert_parity(nn.LayerNorm(*args, **kwargs), torch.nn.LayerNorm(*args, **kwargs), x, atol=1e-4)


@pytest.mark.parametrize("affine", [True, False])
@pytest.mark.parametrize("shape", [(2, 6, 4, 5), (3, 6, 7)])
def test_group_norm(rng, affine, shape, assert_parity):
    x = randn(rng, *shape) * 2 - 1
    assert_parity(nn.GroupNorm(3, 6, affine=affine), torch.nn.GroupNorm(3, 6, affine=affine), x)


def _randomize_affine(module):
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn_like(p))


@pytest.mark.parametrize("momentum", [0.1, None])
def test_batch_norm_2d_training_updates_running_stats_like_torch(
    rng, momentum, assert_parity, load_torch_weights
):
    tm = torch.nn.BatchNorm2d(3, momentum=momentum)
    _randomize_affine(tm)
    m = nn.BatchNorm2d(3, momentum=momentum)
    load_torch_weights(m, tm)
    for _ in range(3):
        x = randn(rng, 4, 3, 5, 5) * 2 + 1
        assert_parity(m, tm, x, atol=1e-4)
        m.load_state_dict(m.state_dict())  # still loadable after updates
    for name in ("running_mean", "running_var"):
        np.testing.assert_allclose(
            getattr(m, name).data, getattr(tm, name).numpy(), rtol=1e-5, atol=1e-6
        )
    assert int(m.num_batches_tracked) == 3 and m.num_batches_tracked.dtype == np.int64


def test_batch_norm_2d_eval_uses_running_stats(rng, assert_parity):
    tm = torch.nn.BatchNorm2d(3)
    _randomize_affine(tm)
    tm.train()(torch.randn(8, 3, 4, 4) * 3 + 2)
    tm.eval()
    assert_parity(nn.BatchNorm2d(3).eval(), tm, randn(rng, 2, 3, 4, 4), atol=1e-4)


@pytest.mark.parametrize("shape", [(6, 3), (4, 3, 5)])
def test_batch_norm_1d(rng, shape, assert_parity):
    assert_parity(nn.BatchNorm1d(3), torch.nn.BatchNorm1d(3), randn(rng, *shape), atol=1e-4)


def test_batch_norm_without_running_stats(rng, assert_parity):
    kwargs = dict(affine=False, track_running_stats=False)
    m = nn.BatchNorm2d(3, **kwargs).eval()
    assert_parity(m, torch.nn.BatchNorm2d(3, **kwargs).eval(), randn(rng, 4, 3, 2, 2), atol=1e-4)
    assert list(m.state_dict()) == []


# --------------------------------------------------------- activations ---


@pytest.mark.parametrize(
    "make, make_torch",
    [
        (nn.ReLU, torch.nn.ReLU),
        (nn.SiLU, torch.nn.SiLU),
        (nn.Sigmoid, torch.nn.Sigmoid),
        (nn.Tanh, torch.nn.Tanh),
        (nn.GELU, torch.nn.GELU),
        (lambda: nn.GELU(approximate="tanh"), lambda: torch.nn.GELU(approximate="tanh")),
        (lambda: nn.Softmax(dim=1), lambda: torch.nn.Softmax(dim=1)),
        (lambda: nn.Softmax(dim=-1), lambda: torch.nn.Softmax(dim=-1)),
        (nn.Flatten, torch.nn.Flatten),
        (lambda: nn.Flatten(0, 1), lambda: torch.nn.Flatten(0, 1)),
    ],
)
def test_parameterless_layers(rng, make, make_torch, assert_parity):
    assert_parity(make(), make_torch(), randn(rng, 3, 4, 5))


def test_softmax_needs_a_dim():
    with pytest.raises(ValueError, match="dim"):
        nn.Softmax()(lucid.zeros(2, 2))


# ------------------------------------------------------------ dropout ---


def test_dropout_zeroes_a_fraction_p_and_scales_the_rest():
    lucid.manual_seed(0)
    x = lucid.ones(200, 100, requires_grad=True)
    drop = nn.Dropout(0.3)
    y = drop(x)
    kept = y.data != 0
    assert abs(kept.mean() - 0.7) < 0.01
    np.testing.assert_allclose(y.data[kept], 1 / 0.7, rtol=1e-6)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.data, y.data)
    assert drop.eval()(x) is x


def test_drop_path_drops_whole_samples():
    lucid.manual_seed(1)
    x = lucid.ones(1000, 3, 4)
    y = nn.DropPath(0.25)(x).data
    per_sample = y.reshape(1000, -1)
    assert np.all(per_sample == per_sample[:, :1])
    assert set(np.unique(per_sample)) <= {0.0, np.float32(1 / 0.75)}
    assert abs((per_sample[:, 0] == 0).mean() - 0.25) < 0.05
    assert nn.DropPath(0.25).eval()(x) is x
    unscaled = nn.DropPath(0.5, scale_by_keep=False)(x).data
    assert set(np.unique(unscaled)) == {0.0, 1.0}


def test_dropout_draws_follow_manual_seed():
    lucid.manual_seed(3)
    a = nn.functional.dropout(lucid.ones(50))
    lucid.manual_seed(3)
    b = nn.functional.dropout(lucid.ones(50))
    np.testing.assert_array_equal(a.data, b.data)


# ----------------------------------------------------------- embedding ---


def test_embedding(rng, load_torch_weights):
    idx = np.array([[1, 3, 3], [0, 9, 1]])
    tm = torch.nn.Embedding(10, 4, padding_idx=3)
    m = nn.Embedding(10, 4, padding_idx=3)
    assert np.all(m.weight.data[3] == 0)
    load_torch_weights(m, tm)
    out, tout = m(lucid.tensor(idx)), tm(torch.tensor(idx))
    np.testing.assert_allclose(out.data, tout.detach().numpy())
    g = randn(rng, *out.shape)
    out.backward(g)
    tout.backward(torch.tensor(g))
    np.testing.assert_allclose(m.weight.grad.data, tm.weight.grad.numpy(), atol=1e-6)


# ------------------------------------------------------------- pooling ---

MAXPOOL_CASES = [
    dict(kernel_size=2),
    dict(kernel_size=3, stride=2, padding=1),
    dict(kernel_size=3, stride=2, ceil_mode=True),
    dict(kernel_size=(2, 3), stride=(2, 1), dilation=(1, 2)),
    dict(kernel_size=3, stride=2, padding=1, ceil_mode=True),
]


@pytest.mark.parametrize("kwargs", MAXPOOL_CASES, ids=lambda k: str(sorted(k.items())))
def test_max_pool2d(rng, kwargs, assert_parity):
    assert_parity(nn.MaxPool2d(**kwargs), torch.nn.MaxPool2d(**kwargs), randn(rng, 2, 3, 9, 8))


AVGPOOL_CASES = [
    dict(kernel_size=2),
    dict(kernel_size=3, stride=2, padding=1),
    dict(kernel_size=3, stride=2, padding=1, count_include_pad=False),
    dict(kernel_size=3, stride=2, ceil_mode=True),
    dict(kernel_size=3, stride=2, padding=1, ceil_mode=True, count_include_pad=False),
    dict(kernel_size=(2, 3), stride=1, divisor_override=4),
]


@pytest.mark.parametrize("kwargs", AVGPOOL_CASES, ids=lambda k: str(sorted(k.items())))
def test_avg_pool2d(rng, kwargs, assert_parity):
    assert_parity(nn.AvgPool2d(**kwargs), torch.nn.AvgPool2d(**kwargs), randn(rng, 2, 3, 9, 8))


@pytest.mark.parametrize("size", [1, (3, 2), (4, None), (5, 3), (9, 8)])
def test_adaptive_avg_pool2d(rng, size, assert_parity):
    x = randn(rng, 2, 3, 9, 8)
    assert_parity(nn.AdaptiveAvgPool2d(size), torch.nn.AdaptiveAvgPool2d(size), x)


# ---------------------------------------------------------- upsampling ---

UPSAMPLE_CASES = [
    dict(scale_factor=2),
    dict(scale_factor=1.5),
    dict(size=(7, 3)),
    dict(scale_factor=2, mode="bilinear"),
    dict(size=(7, 9), mode="bilinear"),
    dict(size=(7, 9), mode="bilinear", align_corners=True),
    dict(scale_factor=0.5, mode="bilinear"),
    dict(scale_factor=2, mode="bicubic"),
    dict(size=(3, 7), mode="bicubic", align_corners=True),
    dict(size=(9, 4), mode="bicubic"),
]


@pytest.mark.parametrize("kwargs", UPSAMPLE_CASES, ids=lambda k: str(sorted(k.items())))
def test_upsample(rng, kwargs, assert_parity):
    x = randn(rng, 2, 3, 5, 6)
    assert_parity(nn.Upsample(**kwargs), torch.nn.Upsample(**kwargs), x)


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(scale_factor=3),
        dict(size=7, mode="linear"),
        dict(size=4, mode="linear", align_corners=True),
    ],
)
def test_interpolate_1d(rng, kwargs, assert_parity):
    f = lambda t: nn.functional.interpolate(t, **kwargs)  # noqa: E731
    tf = lambda t: torch.nn.functional.interpolate(t, **kwargs)  # noqa: E731
    assert_parity(f, tf, randn(rng, 2, 3, 5))


def test_interpolate_rejects_bad_arguments():
    x = lucid.zeros(1, 1, 4, 4)
    with pytest.raises(ValueError, match="exactly one"):
        nn.functional.interpolate(x)
    with pytest.raises(ValueError, match="align_corners"):
        nn.functional.interpolate(x, scale_factor=2, align_corners=True)
    with pytest.raises(ValueError, match="3-D"):
        nn.functional.interpolate(x, scale_factor=2, mode="linear")


# -------------------------------------------------------------- losses ---


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"reduction": "sum"},
        {"reduction": "none"},
        {"label_smoothing": 0.2},
        {"ignore_index": 2},
        {"ignore_index": 2, "label_smoothing": 0.1, "reduction": "none"},
        {"weight": True},
        {"weight": True, "label_smoothing": 0.3, "ignore_index": 1},
        {"weight": True, "reduction": "sum", "label_smoothing": 0.1},
    ],
)
@pytest.mark.parametrize("spatial", [(), (3,)])
def test_cross_entropy_with_class_indices(rng, kwargs, spatial, assert_parity):
    kwargs = dict(kwargs)
    weight = rng.uniform(0.5, 2, 5).astype(np.float32) if kwargs.pop("weight", False) else None
    logits = randn(rng, 6, 5, *spatial) * 2
    target = rng.integers(0, 5, (6, *spatial))
    lw = None if weight is None else lucid.tensor(weight)
    tw = None if weight is None else torch.tensor(weight)
    assert_parity(
        nn.CrossEntropyLoss(weight=lw, **kwargs),
        torch.nn.CrossEntropyLoss(weight=tw, **kwargs),
        logits,
        target,
    )


@pytest.mark.parametrize(
    "kwargs", [{}, {"label_smoothing": 0.25}, {"reduction": "none"}, {"weight": True}]
)
def test_cross_entropy_with_probabilities(rng, kwargs, assert_parity):
    kwargs = dict(kwargs)
    weight = rng.uniform(0.5, 2, 4).astype(np.float32) if kwargs.pop("weight", False) else None
    logits = randn(rng, 3, 4, 2)
    probs = rng.dirichlet(np.ones(4), size=(3, 2)).transpose(0, 2, 1).astype(np.float32)
    f = lambda x, p: nn.functional.cross_entropy(  # noqa: E731
        x, p, None if weight is None else lucid.tensor(weight), **kwargs
    )
    tf = lambda x, p: torch.nn.functional.cross_entropy(  # noqa: E731
        x, p, None if weight is None else torch.tensor(weight), **kwargs
    )
    assert_parity(f, tf, logits, probs)


def test_cross_entropy_unbatched(rng, assert_parity):
    f, tf = nn.functional.cross_entropy, torch.nn.functional.cross_entropy
    assert_parity(f, tf, randn(rng, 5), np.array(3))


def test_cross_entropy_all_ignored_is_nan_like_torch():
    loss = nn.functional.cross_entropy(lucid.zeros(2, 3), lucid.tensor([-100, -100]))
    assert np.isnan(float(loss))


def test_cross_entropy_rejects_out_of_range_targets():
    with pytest.raises(IndexError, match="target class 7"):
        nn.functional.cross_entropy(lucid.zeros(2, 3), lucid.tensor([0, 7]))


@pytest.mark.parametrize("kwargs", [{}, {"reduction": "sum"}, {"ignore_index": 0}, {"weight": 1}])
def test_nll_loss(rng, kwargs, assert_parity):
    kwargs = dict(kwargs)
    weight = rng.uniform(0.5, 2, 4).astype(np.float32) if kwargs.pop("weight", None) else None
    logp = np.log(rng.dirichlet(np.ones(4), size=5)).astype(np.float32)
    target = rng.integers(0, 4, 5)
    lw = None if weight is None else lucid.tensor(weight)
    tw = None if weight is None else torch.tensor(weight)
    assert_parity(
        nn.NLLLoss(weight=lw, **kwargs), torch.nn.NLLLoss(weight=tw, **kwargs), logp, target
    )


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_mse_loss(rng, reduction, assert_parity):
    assert_parity(
        nn.MSELoss(reduction=reduction),
        torch.nn.MSELoss(reduction=reduction),
        randn(rng, 3, 4),
        randn(rng, 3, 4),
    )


# ------------------------------------------------------------ attention ---


@pytest.mark.parametrize(
    "mask_kind, causal, scale",
    [(None, False, None), ("bool", False, None), ("float", False, 0.3), (None, True, None)],
)
def test_scaled_dot_product_attention(rng, mask_kind, causal, scale, assert_parity):
    q, k, v = randn(rng, 2, 3, 5, 4), randn(rng, 2, 3, 6, 4), randn(rng, 2, 3, 6, 7)
    if causal:
        k, v = k[:, :, :5], v[:, :, :5]
    arrays = [q, k, v]
    if mask_kind == "bool":
        mask = rng.random((5, 6)) > 0.3
        mask[:, 0] = True  # no fully masked row
        arrays.append(mask)
    elif mask_kind == "float":
        arrays.append(randn(rng, 3, 5, 6))

    def f(*xs):
        return nn.functional.scaled_dot_product_attention(*xs, is_causal=causal, scale=scale)

    def tf(*xs):
        return torch.nn.functional.scaled_dot_product_attention(*xs, is_causal=causal, scale=scale)

    assert_parity(f, tf, *arrays)


def test_attention_broadcasts_key_and_value(rng, assert_parity):
    q, k, v = randn(rng, 2, 3, 5, 4), randn(rng, 1, 1, 6, 4), randn(rng, 1, 3, 6, 4)
    f = nn.functional.scaled_dot_product_attention
    assert_parity(f, torch.nn.functional.scaled_dot_product_attention, q, k, v)


def test_attention_dropout_keeps_rows_unbiased():
    lucid.manual_seed(0)
    q = k = v = lucid.zeros(1, 1, 4, 2)
    v = lucid.tensor(np.ones((1, 1, 400, 1), np.float32))
    k = lucid.zeros(1, 1, 400, 2)
    out = nn.functional.scaled_dot_product_attention(q, k, v, dropout_p=0.5)
    # Uniform attention over 400 ones: dropout keeps the expected value 1.
    assert np.all(np.abs(out.data - 1) < 0.2)


# ------------------------------------------------------ functional extras ---


@pytest.mark.parametrize(
    "widths, value", [((1, 2), 0.0), ((1, 1, 0, 3), -1.5), ((0, 1, 2, 0, 1, 1), 2.0)]
)
def test_pad_takes_torch_pairs_last_axis_first(rng, assert_parity, widths, value):
    assert_parity(
        lambda t: nn.functional.pad(t, widths, value=value),
        lambda t: torch.nn.functional.pad(t, widths, value=value),
        randn(rng, 2, 3, 4),
    )
    with pytest.raises(ValueError, match="pairs"):
        nn.functional.pad(lucid.zeros(2), (1, 1, 1, 1))


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_softmax_functions_take_dim(rng, assert_parity, name):
    ours, theirs = getattr(nn.functional, name), getattr(torch.nn.functional, name)
    assert_parity(lambda t: ours(t, dim=1), lambda t: theirs(t, dim=1), randn(rng, 3, 4, 2))


@pytest.mark.parametrize("cls", ["GroupNorm", "BatchNorm2d"])
def test_norms_without_bias_match_torch(rng, assert_parity, cls):
    args = (2, 4) if cls == "GroupNorm" else (4,)
    ours, theirs = getattr(nn, cls)(*args, bias=False), getattr(torch.nn, cls)(*args, bias=False)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert_parity(ours, theirs, randn(rng, 3, 4, 2, 2), atol=1e-4)


def test_in_place_change_of_a_saved_input_is_caught():
    conv = nn.Conv2d(2, 3, 2, stride=2)
    # An input whose NHWC view is contiguous is saved without a copy.
    x = lucid.tensor(np.zeros((1, 4, 4, 2), np.float32)).permute(0, 3, 1, 2)
    y = conv(x).sum()
    x.data[...] = 1
    x._version.value += 1
    with pytest.raises(RuntimeError, match="modified in place"):
        y.backward()
    bn = nn.BatchNorm2d(2).eval()
    x = lucid.randn(2, 2, 3, 3)
    y = bn(x).sum()
    x += 1
    with pytest.raises(RuntimeError, match="modified in place"):
        y.backward()
