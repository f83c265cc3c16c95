"""Initialisers: in-place, float32, reproducible, with the statistics and bounds PyTorch uses."""

from __future__ import annotations

import math

import numpy as np
import pytest

import lucid
from lucid import nn
from lucid.nn import init


def test_initialisers_write_in_place_and_bump_the_version():
    p = nn.Parameter(np.zeros((30, 20), np.float32))
    data, version = p.data, p._version.value
    assert init.normal_(p) is p
    assert p.data is data and p._version.value == version + 1
    assert p.dtype == np.float32 and p.requires_grad and p.grad is None


def test_draws_follow_manual_seed():
    lucid.manual_seed(7)
    a = init.trunc_normal_(lucid.zeros(100), std=0.02).data.copy()
    lucid.manual_seed(7)
    np.testing.assert_array_equal(init.trunc_normal_(lucid.zeros(100), std=0.02).data, a)


def test_constants():
    t = lucid.zeros(2, 3)
    assert init.ones_(t).tolist() == [[1.0] * 3] * 2
    assert init.zeros_(t).tolist() == [[0.0] * 3] * 2
    assert init.constant_(t, -2.5).data.max() == -2.5


def test_uniform_and_normal_statistics():
    u = init.uniform_(lucid.zeros(200_000), -2.0, 3.0).data
    assert u.min() >= -2 and u.max() < 3
    assert abs(u.mean() - 0.5) < 0.02 and abs(u.std() - 5 / math.sqrt(12)) < 0.01
    n = init.normal_(lucid.zeros(200_000), mean=1.0, std=0.5).data
    assert n.dtype == np.float32
    assert abs(n.mean() - 1) < 0.01 and abs(n.std() - 0.5) < 0.01


@pytest.mark.parametrize(
    "mean, std, a, b",
    [(0.0, 0.02, -2.0, 2.0), (0.0, 1.0, -1.0, 1.0), (1.0, 2.0, 0.0, 4.0), (0.0, 1.0, 2.5, 2.6)],
)
def test_trunc_normal_matches_the_truncated_distribution(mean, std, a, b):
    scipy_stats = pytest.importorskip("scipy.stats")
    x = init.trunc_normal_(lucid.zeros(100_000), mean, std, a, b).data
    assert x.min() >= a and x.max() <= b
    dist = scipy_stats.truncnorm((a - mean) / std, (b - mean) / std, loc=mean, scale=std)
    assert abs(x.mean() - dist.mean()) < 0.02 * dist.std() + 1e-6
    assert abs(x.std() - dist.std()) < 0.02 * dist.std()


def test_trunc_normal_refuses_bounds_without_mass():
    with pytest.raises(ValueError, match="too little"):
        init.trunc_normal_(lucid.zeros(3), std=1.0, a=10.0, b=float("inf"))


def test_calculate_gain_matches_torch():
    torch = pytest.importorskip("torch")
    for name in ("linear", "conv2d", "sigmoid", "tanh", "relu", "selu", "leaky_relu"):
        assert init.calculate_gain(name) == pytest.approx(torch.nn.init.calculate_gain(name))
    assert init.calculate_gain("leaky_relu", 0.2) == pytest.approx(
        torch.nn.init.calculate_gain("leaky_relu", 0.2)
    )
    with pytest.raises(ValueError, match="unsupported"):
        init.calculate_gain("swish")


@pytest.mark.parametrize("shape", [(64, 32), (16, 8, 3, 3)])
def test_fan_based_initialisers(shape):
    receptive = int(np.prod(shape[2:]))
    fan_in, fan_out = shape[1] * receptive, shape[0] * receptive
    t = lucid.zeros(*shape)

    bound = math.sqrt(6 / (fan_in + fan_out))
    x = init.xavier_uniform_(t, gain=1.0).data
    assert np.abs(x).max() <= bound and np.abs(x).max() > 0.9 * bound
    x = init.xavier_normal_(t).data
    assert abs(x.std() - math.sqrt(2 / (fan_in + fan_out))) < 0.1 * x.std()

    bound = math.sqrt(2) * math.sqrt(3 / fan_out)
    x = init.kaiming_uniform_(t, mode="fan_out", nonlinearity="relu").data
    assert np.abs(x).max() <= bound and np.abs(x).max() > 0.9 * bound
    x = init.kaiming_normal_(t, a=0.2).data
    expected = math.sqrt(2 / (1 + 0.04)) / math.sqrt(fan_in)
    assert abs(x.std() - expected) < 0.1 * expected
    with pytest.raises(ValueError, match="fan_in"):
        init.kaiming_uniform_(t, mode="in")
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        init.xavier_uniform_(lucid.zeros(3))


@pytest.mark.parametrize(
    "make, bound_of",
    [
        (lambda: nn.Linear(50, 20), lambda m: 1 / math.sqrt(50)),
        (lambda: nn.Conv2d(6, 8, 3, groups=2), lambda m: 1 / math.sqrt(3 * 9)),
        (lambda: nn.Conv1d(4, 4, 5), lambda m: 1 / math.sqrt(4 * 5)),
    ],
)
def test_default_layer_init_uses_torch_bounds(make, bound_of):
    # PyTorch: kaiming_uniform_(a=sqrt(5)) for the weight, U(+-1/sqrt(fan_in)) for the bias.
    m = make()
    bound = bound_of(m)
    assert bound * 0.9 < np.abs(m.weight.data).max() <= bound
    assert np.abs(m.bias.data).max() <= bound
    assert m.weight.dtype == m.bias.dtype == np.float32


def test_default_init_of_norms_and_embeddings():
    for m in (nn.LayerNorm(5), nn.GroupNorm(1, 5), nn.BatchNorm2d(5)):
        assert np.all(m.weight.data == 1) and np.all(m.bias.data == 0)
    emb = nn.Embedding(1000, 64, padding_idx=2).weight.data
    assert abs(emb.std() - 1) < 0.02 and np.all(emb[2] == 0)
