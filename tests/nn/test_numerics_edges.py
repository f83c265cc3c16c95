"""nn numerics at the edges against PyTorch 2.13: infinities, NaN, masked rows, empty batches.

Each case compares lucid's values and gradients with torch's on the same
input, NaN for NaN and infinity for infinity, and checks that NumPy raises
no warnings on the way (torch raises none).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pytest

import lucid
import lucid.nn.functional as F
from lucid import _kernels

torch = pytest.importorskip("torch")
TF = torch.nn.functional

INF, NAN = np.inf, np.nan


def _compare(
    lucid_fn: Callable[..., Any],
    torch_fn: Callable[..., Any],
    arrays: Sequence[np.ndarray],
    *,
    grad_of: Sequence[int] | None = None,
    atol: float = 1e-6,
    rtol: float = 1e-5,
) -> np.ndarray:
    """Run both functions on ``arrays``; outputs and input gradients must agree. Returns lucid's.

    ``grad_of`` lists the arrays that require a gradient (default: the float ones).
    The output gradient is all ones (the backward of ``out.sum()``).
    """
    if grad_of is None:
        grad_of = [i for i, a in enumerate(arrays) if a.dtype.kind == "f"]
    xs = [lucid.tensor(a, requires_grad=i in grad_of) for i, a in enumerate(arrays)]
    ts = [torch.tensor(a, requires_grad=i in grad_of) for i, a in enumerate(arrays)]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = lucid_fn(*xs)
        if grad_of:
            out.backward(lucid.ones(*out.shape))
    tout = torch_fn(*ts)
    if grad_of:
        tout.backward(torch.ones(tout.shape))
    assert out.shape == tuple(tout.shape)
    np.testing.assert_allclose(out.numpy(), tout.detach().numpy(), atol=atol, rtol=rtol)
    for i in grad_of:
        np.testing.assert_allclose(
            xs[i].grad.numpy(), ts[i].grad.numpy(), atol=atol, rtol=rtol, err_msg=f"grad #{i}"
        )
    return out.numpy()


# ---------------------------------------------------------------- GELU ---

EDGE_VALUES = [INF, -INF, NAN, 0.0, 1.0, -1.0, 3.0, -3.0, -10.0, 30.0, 1e10, -1e10]


@pytest.mark.parametrize("approximate", ["none", "tanh"])
@pytest.mark.parametrize(
    ("path", "size", "dtype"),
    [
        ("numpy", len(EDGE_VALUES), np.float32),
        ("numpy", len(EDGE_VALUES), np.float64),
        ("numpy", 1 << 15, np.float32),
        ("compiled", 1 << 15, np.float32),
    ],
)
def test_gelu_at_infinity_and_nan_whatever_the_size(approximate, path, size, dtype, rng):
    # torch in float64 is the reference: x Phi(x) evaluated as IEEE arithmetic
    # (+inf -> +inf, -inf -> NaN, NaN -> NaN; derivative NaN at both
    # infinities). torch's float32 exact kernel gives NaN for +inf on arrays
    # of 2+ elements and +inf on 1: lucid never depends on the size.
    x = rng.standard_normal(size).astype(dtype) * 3
    x[: len(EDGE_VALUES)] = EDGE_VALUES
    if path == "compiled":
        pytest.importorskip("numba")
        assert _kernels.compiled(x) is not None
    xt = lucid.tensor(x, dtype=x.dtype, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        if path == "numpy":
            with _kernels.numpy_only():
                out = F.gelu(xt, approximate=approximate)
        else:
            out = F.gelu(xt, approximate=approximate)
        out.sum().backward()
    assert out.dtype == dtype
    t = torch.tensor(x.astype(np.float64), requires_grad=True)
    expected = TF.gelu(t, approximate=approximate)
    expected.backward(torch.ones(size, dtype=torch.float64))
    tol = dict(rtol=1e-5, atol=2e-6) if dtype == np.float32 else dict(rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(out.numpy(), expected.detach().numpy(), **tol)
    np.testing.assert_allclose(xt.grad.numpy(), t.grad.numpy(), **tol)
    assert out.numpy()[0] == INF and np.isnan(out.numpy()[1:3]).all()


@pytest.mark.parametrize("rows", [2, 1 << 13])
def test_linear_gelu_at_infinity(rows, rng):
    # The fused op (bias and GELU in one pass on the compiled path) agrees.
    x = rng.standard_normal((rows, 4)).astype(np.float32)
    w = np.eye(4, dtype=np.float32)
    b = np.array([INF, -INF, NAN, 0.0], np.float32)
    with lucid.no_grad():
        out = F.linear_gelu(*(lucid.tensor(a) for a in (x, w, b))).numpy()
    assert (out[:, 0] == INF).all() and np.isnan(out[:, 1:3]).all()
    expected = TF.gelu(torch.tensor(x[:, 3].astype(np.float64))).numpy()
    np.testing.assert_allclose(out[:, 3], expected, rtol=1e-5, atol=2e-6)


# ------------------------------------------------------- class losses ---

N100 = -100  # the default ignore_index

# (name, input, target, weight, label_smoothing)
LOSS_CASES = {
    "masked class": ("cross_entropy", [[1, -INF, 2], [0, 1, 2]], [0, 2], None, 0.0),
    "masked class, weights, smoothing": (
        "cross_entropy",
        [[1, -INF, 2], [0, 1, 2]],
        [0, 2],
        [0.5, 1, 2],
        0.1,
    ),
    "target logit -inf": ("cross_entropy", [[-INF, 0, 1], [0, 1, 2]], [0, 1], None, 0.0),
    "padded row of NaN and -inf": (
        "cross_entropy",
        [[NAN, -INF, 2], [-INF, -INF, -INF], [0, 1, 2]],
        [N100, N100, 2],
        None,
        0.0,
    ),
    "padded row, weights, smoothing": (
        "cross_entropy",
        [[NAN, -INF, 2], [0, 1, 2]],
        [N100, 2],
        [0.5, 1, 2],
        0.2,
    ),
    "every target ignored": ("cross_entropy", [[1, 0, 2], [0, 1, 2]], [N100, N100], None, 0.0),
    "every target ignored, smoothing": (
        "cross_entropy",
        [[1, 0, 2], [0, 1, 2]],
        [N100, N100],
        None,
        0.1,
    ),
    "every target of weight 0": ("cross_entropy", [[1, 0, 2], [0, 1, 2]], [0, 0], [0, 1, 1], 0.0),
    "every target of weight 0, smoothing": (
        "cross_entropy",
        [[1, 0, 2], [0, 1, 2]],
        [0, 0],
        [0, 1, 1],
        0.2,
    ),
    "nll with log(0)": ("nll_loss", [[-0.1, -INF, -2], [-INF, -1, -2]], [0, 1], None, 0.0),
    "nll padded row": ("nll_loss", [[NAN, -INF, -2], [-INF, -1, -2]], [N100, 1], [0.5, 1, 2], 0.0),
    "nll every target ignored": (
        "nll_loss",
        [[NAN, -1, -2], [-1, -1, -2]],
        [N100, N100],
        None,
        0.0,
    ),
    "nll every target of weight 0": (
        "nll_loss",
        [[-1, -1, -2], [-1, -1, -2]],
        [0, 0],
        [0, 1, 1],
        0.0,
    ),
}


# Where the issue saw NaN and PyTorch gives a finite loss. (With label
# smoothing a masked class adds -inf to the smoothed term: inf, in both.)
FINITE_LOSSES = {
    "masked class",
    "padded row of NaN and -inf",
    "padded row, weights, smoothing",
    "nll with log(0)",
    "nll padded row",
}


@pytest.mark.parametrize("reduction", ["none", "sum", "mean"])
@pytest.mark.parametrize("case", LOSS_CASES)
def test_class_losses_at_the_edges(case, reduction):
    name, x, target, weight, smoothing = LOSS_CASES[case]
    arrays = [np.array(x, np.float32), np.array(target, np.int64)]
    kw: dict[str, Any] = dict(reduction=reduction)
    if smoothing:
        kw["label_smoothing"] = smoothing
    w = None if weight is None else np.array(weight, np.float32)

    def run(module: Any, tensor: Callable[[np.ndarray], Any]):
        def fn(inp, tgt):
            extra = {} if w is None else {"weight": tensor(w)}
            return getattr(module, name)(inp, tgt, **kw, **extra)

        return fn

    loss = _compare(run(F, lucid.tensor), run(TF, torch.tensor), arrays)
    if case in FINITE_LOSSES:
        assert np.isfinite(loss).all(), "PyTorch's loss is finite here"


def test_class_losses_mask_and_pad_spatial_targets():
    # (N, C, d) logits: the class axis is not the last one.
    x = np.array([[[1, NAN], [-INF, NAN], [2, 0]], [[0, 3], [1, -INF], [2, 1]]], np.float32)
    target = np.array([[0, N100], [2, 0]], np.int64)
    for reduction in ("none", "sum", "mean"):
        _compare(
            lambda a, t, r=reduction: F.cross_entropy(a, t, reduction=r),
            lambda a, t, r=reduction: TF.cross_entropy(a, t, reduction=r),
            [x, target],
        )


def test_a_step_on_a_batch_of_ignored_targets_leaves_the_weights_alone(rng):
    # PyTorch: loss NaN (0/0), gradient 0, so the step changes nothing.
    x = rng.standard_normal((4, 3)).astype(np.float32)
    target = np.full(4, N100, np.int64)
    model = lucid.nn.Linear(3, 5)
    before = {k: v.numpy().copy() for k, v in model.state_dict().items()}
    opt = lucid.optim.SGD(model.parameters(), lr=0.1)
    loss = F.cross_entropy(model(lucid.tensor(x)), lucid.tensor(target))
    loss.backward()
    opt.step()
    tmodel = torch.nn.Linear(3, 5)
    tloss = TF.cross_entropy(tmodel(torch.tensor(x)), torch.tensor(target))
    tloss.backward()
    assert np.isnan(float(loss)) and np.isnan(tloss.item())
    for name, p in model.named_parameters():
        assert (p.grad.numpy() == 0).all(), name
        np.testing.assert_array_equal(p.numpy(), before[name])
    assert all((p.grad == 0).all() for p in tmodel.parameters())


# ------------------------------------------------------------- pooling ---


def _with_nans(rng, shape, count, *, inf=0):
    x = rng.standard_normal(shape).astype(np.float32)
    x.ravel()[rng.choice(x.size, count + inf, replace=False)] = [NAN] * count + [INF] * inf
    return x


@pytest.mark.parametrize(
    "kw",
    [
        dict(kernel_size=2),
        dict(kernel_size=3, stride=1, padding=1),
        dict(kernel_size=(2, 3), stride=(1, 2), dilation=(2, 1)),
        dict(kernel_size=3, stride=2, ceil_mode=True),
    ],
)
def test_max_pool2d_propagates_nan_from_any_tap(kw, rng):
    # NaN at every position of a 2x2 window, one at a time, then at random places
    # (several per window: PyTorch's gradient goes to the last NaN).
    for tap in range(4):
        x = np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4)
        x[0, 0, tap // 2, tap % 2] = NAN
        out = _compare(lambda t: F.max_pool2d(t, 2), lambda t: TF.max_pool2d(t, 2), [x])
        assert np.isnan(out[0, 0, 0, 0]) and not np.isnan(out.ravel()[1:]).any()
    x = _with_nans(rng, (2, 3, 7, 9), 12)
    x[0, 0, :2, :2] = 5.0  # a tie: the first one wins
    _compare(lambda t: F.max_pool2d(t, **kw), lambda t: TF.max_pool2d(t, **kw), [x])


@pytest.mark.parametrize(
    ("lucid_fn", "torch_fn"),
    [
        (lambda t: F.avg_pool2d(t, 2), lambda t: TF.avg_pool2d(t, 2)),
        (
            lambda t: F.avg_pool2d(t, 3, stride=2, padding=1),
            lambda t: TF.avg_pool2d(t, 3, stride=2, padding=1),
        ),
        (lambda t: F.adaptive_avg_pool2d(t, 1), lambda t: TF.adaptive_avg_pool2d(t, 1)),
        (lambda t: F.adaptive_avg_pool2d(t, 3), lambda t: TF.adaptive_avg_pool2d(t, 3)),
        (
            lambda t: F.adaptive_avg_pool2d(t, (2, 4)),
            lambda t: TF.adaptive_avg_pool2d(t, (2, 4)),
        ),
        (
            lambda t: F.interpolate(t, scale_factor=2, mode="bilinear"),
            lambda t: TF.interpolate(t, scale_factor=2, mode="bilinear"),
        ),
        (
            lambda t: F.interpolate(t, size=(5, 3), mode="nearest"),
            lambda t: TF.interpolate(t, size=(5, 3), mode="nearest"),
        ),
    ],
)
def test_average_pools_keep_nan_and_inf_in_their_own_windows(lucid_fn, torch_fn, rng):
    # A product with the pooling matrix would spread 0 * NaN to every output.
    x = _with_nans(rng, (2, 3, 6, 6), 2, inf=1)
    out = _compare(lucid_fn, torch_fn, [x], atol=1e-5)
    assert np.isfinite(out).any()


def test_adaptive_avg_pool2d_of_no_pixels():
    # PyTorch: the global average (output 1) of nothing is NaN; other sizes are an error.
    x = np.zeros((2, 3, 0, 4), np.float32)
    out = _compare(
        lambda t: F.adaptive_avg_pool2d(t, 1), lambda t: TF.adaptive_avg_pool2d(t, 1), [x]
    )
    assert out.shape == (2, 3, 1, 1) and np.isnan(out).all()
    with pytest.raises(RuntimeError, match="non-zero size"):
        TF.adaptive_avg_pool2d(torch.tensor(x), 2)
    with pytest.raises(ValueError, match=r"\(2, 3, 0, 4\) has no pixels to pool into \(2, 2\)"):
        F.adaptive_avg_pool2d(lucid.tensor(x), 2)


# ----------------------------------------------------------- attention ---


def _attention_inputs(rng, length=3, source=5):
    return [
        rng.standard_normal(s).astype(np.float32)
        for s in [(2, 2, length, 4), (2, 2, source, 4), (2, 2, source, 4)]
    ]


@pytest.mark.parametrize("kind", ["bool", "additive"])
def test_attention_on_a_fully_masked_row_gives_zeros(kind, rng):
    allowed = np.ones((3, 5), bool)
    allowed[1] = False
    allowed[2, :3] = False
    mask = allowed if kind == "bool" else np.where(allowed, 0, -INF).astype(np.float32)
    out = _compare(
        F.scaled_dot_product_attention,
        TF.scaled_dot_product_attention,
        [*_attention_inputs(rng), mask],
        grad_of=[0, 1, 2] if kind == "bool" else [0, 1, 2, 3],
        atol=1e-5,
    )
    assert (out[:, :, 1] == 0).all() and np.isfinite(out).all()


def test_attention_with_no_keys_gives_zeros(rng):
    out = _compare(
        F.scaled_dot_product_attention,
        TF.scaled_dot_product_attention,
        _attention_inputs(rng, source=0),
    )
    assert out.shape == (2, 2, 3, 4) and (out == 0).all()


# --------------------------------------------------------------- empty ---


@pytest.mark.parametrize(
    ("shape", "normalized"), [((2, 0), (0,)), ((0, 4), (4,)), ((0, 3, 4), (3, 4))]
)
def test_layer_norm_of_empty_input(shape, normalized, rng):
    x = np.zeros(shape, np.float32)
    w, b = rng.standard_normal((2, *normalized)).astype(np.float32)
    _compare(
        lambda t, w, b: F.layer_norm(t, normalized, w, b),
        lambda t, w, b: TF.layer_norm(t, normalized, w, b),
        [x, w, b],
    )


@pytest.mark.parametrize("shape", [(0, 4, 3, 3), (2, 4, 0, 3)])
def test_group_norm_of_empty_input(shape, rng):
    # The weight's gradient is left out: torch gives NaN for it when there
    # are samples but no pixels, lucid the sum over nothing, 0.
    x = np.zeros(shape, np.float32)
    w, b = rng.standard_normal((2, 4)).astype(np.float32)
    _compare(
        lambda t, w, b: F.group_norm(t, 2, w, b),
        lambda t, w, b: TF.group_norm(t, 2, w, b),
        [x, w, b],
        grad_of=[0, 2],
    )


@pytest.mark.parametrize("training", [True, False])
def test_batch_norm_of_an_empty_batch_keeps_the_running_statistics(training, rng):
    x = np.zeros((0, 4, 3, 3), np.float32)
    mean, var = rng.standard_normal((2, 4)).astype(np.float32)
    var = np.abs(var)
    running = [lucid.tensor(mean), lucid.tensor(var)]
    out = F.batch_norm(lucid.tensor(x), *running, training=training)
    trunning = [torch.tensor(mean), torch.tensor(var)]
    tout = TF.batch_norm(torch.tensor(x), *trunning, training=training)
    assert out.shape == tuple(tout.shape) == x.shape
    for r, t, before in zip(running, trunning, (mean, var), strict=True):
        np.testing.assert_array_equal(r.numpy(), before)
        np.testing.assert_array_equal(t.numpy(), before)


def test_batch_norm_needs_more_than_one_value_per_channel_in_training():
    with pytest.raises(ValueError, match=r"more than one value per channel.*\(1, 4\)"):
        F.batch_norm(lucid.zeros(1, 4), None, None, training=True)


@pytest.mark.parametrize(
    "kw",
    [
        dict(in_channels=3, out_channels=4, kernel_size=3),
        dict(in_channels=3, out_channels=4, kernel_size=4, stride=4),
        dict(in_channels=4, out_channels=6, kernel_size=3, groups=2, padding=1),
        dict(in_channels=4, out_channels=4, kernel_size=3, groups=4, padding=1),
    ],
)
def test_conv2d_on_a_batch_of_zero(kw, rng):
    conv, tconv = lucid.nn.Conv2d(**kw), torch.nn.Conv2d(**kw)
    conv.load_state_dict({k: v.detach().numpy() for k, v in tconv.state_dict().items()})
    x = np.zeros((0, kw["in_channels"], 8, 8), np.float32)
    _compare(conv, tconv, [x])
    for p, tp in zip(conv.parameters(), tconv.parameters(), strict=True):
        np.testing.assert_array_equal(p.grad.numpy(), tp.grad.numpy())


def _small_net(nn: Any) -> Any:
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1),
        nn.BatchNorm2d(8),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(8, 8, 3, padding=1, groups=8),
        nn.GELU(),
        nn.AvgPool2d(2),
        nn.AdaptiveAvgPool2d(2),
        nn.Flatten(),
        nn.LayerNorm(32),
        nn.Linear(32, 5),
    )


@pytest.mark.parametrize("training", [True, False])
def test_a_batch_of_zero_images_through_a_model(training):
    net, tnet = _small_net(lucid.nn), _small_net(torch.nn)
    net.load_state_dict({k: v.detach().numpy() for k, v in tnet.state_dict().items()})
    net.train(training)
    tnet.train(training)
    x = np.zeros((0, 3, 16, 16), np.float32)
    out = _compare(net, tnet, [x])
    assert out.shape == (0, 5)
    tparams = dict(tnet.named_parameters())
    for name, p in net.named_parameters():
        np.testing.assert_array_equal(p.grad.numpy(), tparams[name].grad.numpy(), err_msg=name)
    tbuffers = dict(tnet.named_buffers())
    for name, b in net.named_buffers():
        np.testing.assert_array_equal(b.numpy(), tbuffers[name].numpy(), err_msg=name)
