"""Finite-difference gradient checks (float64) of every fused function in lucid.nn.functional."""

from __future__ import annotations

import numpy as np
import pytest

import lucid
import lucid.nn.functional as F


def test_linear(rng, gradcheck):
    gradcheck(
        F.linear,
        rng.standard_normal((2, 3, 4)),
        rng.standard_normal((5, 4)),
        rng.standard_normal(5),
    )


def test_layer_norm(rng, gradcheck):
    x = rng.standard_normal((3, 2, 4)) * 2
    gradcheck(
        lambda x, w, b: F.layer_norm(x, (2, 4), w, b),
        x,
        rng.standard_normal((2, 4)),
        rng.standard_normal((2, 4)),
    )
    gradcheck(lambda x: F.layer_norm(x, 4), x)


def test_group_norm(rng, gradcheck):
    x = rng.standard_normal((2, 4, 3))
    gradcheck(
        lambda x, w, b: F.group_norm(x, 2, w, b), x, rng.standard_normal(4), rng.standard_normal(4)
    )
    gradcheck(lambda x: F.group_norm(x, 4), x)


@pytest.mark.parametrize("training", [True, False])
def test_batch_norm(rng, gradcheck, training):
    mean, var = lucid.zeros(3, dtype=lucid.float64), lucid.ones(3, dtype=lucid.float64) * 2

    def f(x, w, b):
        return F.batch_norm(x, mean, var, w, b, training=training)

    gradcheck(f, rng.standard_normal((4, 3, 2, 2)), rng.standard_normal(3), rng.standard_normal(3))


CONV_CASES = [
    dict(),
    dict(stride=2, padding=1),
    dict(padding="same", dilation=2),
    dict(stride=(2, 1), dilation=(1, 2), padding=(0, 2)),
    dict(groups=2),
    dict(groups=4, padding=1),
    dict(groups=4, stride=2, out_mult=2),
    dict(stride=3),
]


@pytest.mark.parametrize("case", CONV_CASES, ids=str)
def test_conv2d(rng, gradcheck, case):
    case = dict(case)
    groups, mult = case.get("groups", 1), case.pop("out_mult", 1)
    out = 4 * mult if groups == 4 else 4
    x = rng.standard_normal((2, 4, 6, 7))
    w = rng.standard_normal((out, 4 // groups, 3, 3))
    gradcheck(lambda x, w, b: F.conv2d(x, w, b, **case), x, w, rng.standard_normal(out))


def test_conv1d(rng, gradcheck):
    x, w = rng.standard_normal((2, 4, 7)), rng.standard_normal((6, 2, 3))
    gradcheck(lambda x, w: F.conv1d(x, w, stride=2, padding=1, groups=2), x, w)


@pytest.mark.parametrize(
    "kwargs", [dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1, ceil_mode=True)]
)
def test_max_pool2d(rng, gradcheck, kwargs):
    # Distinct values: max pooling is not differentiable at ties.
    x = rng.permutation(2 * 3 * 7 * 6).reshape(2, 3, 7, 6) / 10.0
    gradcheck(lambda x: F.max_pool2d(x, **kwargs), x)


def test_avg_pool2d(rng, gradcheck):
    x = rng.standard_normal((2, 2, 7, 6))
    gradcheck(lambda x: F.avg_pool2d(x, 3, 2, 1, ceil_mode=True, count_include_pad=False), x)


def test_adaptive_avg_pool2d(rng, gradcheck):
    gradcheck(lambda x: F.adaptive_avg_pool2d(x, (3, 2)), rng.standard_normal((2, 2, 7, 5)))


@pytest.mark.parametrize("mode", ["nearest", "bilinear", "bicubic"])
def test_interpolate(rng, gradcheck, mode):
    gradcheck(lambda x: F.interpolate(x, size=(5, 3), mode=mode), rng.standard_normal((1, 2, 4, 4)))


def test_cross_entropy_with_indices(rng, gradcheck):
    target = lucid.tensor([0, 2, -100, 1])
    weight = lucid.tensor([1.0, 2.0, 0.5], dtype=lucid.float64)

    def f(x):
        return F.cross_entropy(x, target, weight, label_smoothing=0.2)

    gradcheck(f, rng.standard_normal((4, 3)))


def test_cross_entropy_with_probabilities(rng, gradcheck):
    probs = rng.dirichlet(np.ones(3), size=4)
    gradcheck(
        lambda x, p: F.cross_entropy(x, p, label_smoothing=0.1, reduction="sum"),
        rng.standard_normal((4, 3)),
        probs,
    )


def test_nll_loss(rng, gradcheck):
    target = lucid.tensor([[0, 1], [2, 2]])
    gradcheck(lambda x: F.nll_loss(x, target, reduction="none"), rng.standard_normal((2, 3, 2)))


def test_attention(rng, gradcheck):
    q, k, v = (rng.standard_normal((2, 3, 4)) for _ in range(3))
    gradcheck(F.scaled_dot_product_attention, q, k, v, rng.standard_normal((3, 3)))
    gradcheck(lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True), q, k, v)


def test_attention_with_dropout(rng, gradcheck):
    def f(q, k, v):
        lucid.manual_seed(0)  # the same dropout mask on every evaluation
        return F.scaled_dot_product_attention(q, k, v, dropout_p=0.3)

    gradcheck(f, *(rng.standard_normal((2, 3, 4)) for _ in range(3)))


def test_dropout_and_drop_path(rng, gradcheck):
    def f(x):
        lucid.manual_seed(0)
        return F.drop_path(F.dropout(x, 0.4), 0.5, training=True)

    gradcheck(f, rng.standard_normal((4, 3)))


def test_embedding(rng, gradcheck):
    idx = lucid.tensor([[0, 2], [2, 2]])
    gradcheck(lambda w: F.embedding(idx, w), rng.standard_normal((3, 2)))
