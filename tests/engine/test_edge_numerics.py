"""Numerics at the edges, op by op, against PyTorch: 0-d tensors, empty dims, flat gradients."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pytest

import lucid
import lucid.nn.functional as F

torch = pytest.importorskip("torch")


def _compare(got: lucid.Tensor, expected: Any) -> None:
    assert got.shape == tuple(expected.shape)
    np.testing.assert_allclose(got.detach().numpy(), expected.detach().numpy(), rtol=1e-6)


# (lucid, torch) pairs applied to a 0-d tensor; forward and backward must agree.
ZERO_D = {
    "sigmoid": (lucid.sigmoid, torch.sigmoid),
    "rsqrt": (lucid.rsqrt, torch.rsqrt),
    "softmax": (lambda x: lucid.softmax(x, 0), lambda t: torch.softmax(t, 0)),
    "log_softmax": (lambda x: x.log_softmax(-1), lambda t: t.log_softmax(-1)),
    "logsumexp": (lambda x: lucid.logsumexp(x, 0), lambda t: torch.logsumexp(t, 0)),
    "silu": (F.silu, torch.nn.functional.silu),
    "tanh": (lucid.tanh, torch.tanh),
    "cos": (lucid.cos, torch.cos),
    "sin": (lucid.sin, torch.sin),
    "exp": (lucid.exp, torch.exp),
    "sqrt": (lucid.sqrt, torch.sqrt),
    "erf": (lucid.erf, torch.erf),
    "gelu": (lucid.gelu, torch.nn.functional.gelu),
    "max": (lambda x: x.max(0).values, lambda t: t.max(0).values),
    "sort": (lambda x: x.sort().values, lambda t: t.sort().values),
    "cumsum": (lambda x: x.cumsum(0), lambda t: t.cumsum(0)),
    "std": (lambda x: (x * lucid.ones(3)).std(), lambda t: (t * torch.ones(3)).std()),
}


@pytest.mark.parametrize("name", list(ZERO_D))
def test_zero_d_tensors_forward_and_backward_like_torch(name: str) -> None:
    fn, ref = ZERO_D[name]
    x = lucid.tensor(0.7, requires_grad=True)
    t = torch.tensor(0.7, requires_grad=True)
    y, u = fn(x), ref(t)
    _compare(y, u)
    y.backward()
    u.backward()
    _compare(x.grad, t.grad)


def test_pow_zero_has_gradient_zero_at_zero() -> None:
    for exponent in (0, 0.0, "tensor"):
        x = lucid.tensor([0.0, 2.0, -1.0], requires_grad=True)
        t = torch.tensor([0.0, 2.0, -1.0], requires_grad=True)
        if exponent == "tensor":
            y, u = x ** lucid.zeros(3), t ** torch.zeros(3)
        else:
            y, u = x**exponent, t**exponent
        y.sum().backward()
        u.sum().backward()
        _compare(x.grad, t.grad)
        assert x.grad.tolist() == [0.0, 0.0, 0.0]


@pytest.mark.parametrize("op", ["std", "var"])
def test_std_and_var_of_a_constant_have_gradient_zero(op: str) -> None:
    x = lucid.full((2, 3), 2.5, requires_grad=True)
    t = torch.full((2, 3), 2.5, requires_grad=True)
    y, u = getattr(x, op)(dim=1), getattr(t, op)(dim=1)
    _compare(y, u)
    y.sum().backward()
    u.sum().backward()
    _compare(x.grad, t.grad)
    assert not np.isnan(x.grad.numpy()).any()


# op, lucid call, torch call, for shapes (0, 4) and (4, 0) reduced over dim 1.
EMPTY = {
    "logsumexp": (lambda x: x.logsumexp(1), lambda t: t.logsumexp(1)),
    "softmax": (lambda x: x.softmax(1), lambda t: t.softmax(1)),
    "log_softmax": (lambda x: x.log_softmax(1), lambda t: t.log_softmax(1)),
    "sum": (lambda x: x.sum(1), lambda t: t.sum(1)),
    "mean": (lambda x: x.mean(1), lambda t: t.mean(1)),
    "var": (lambda x: x.var(1), lambda t: t.var(1)),
    "std": (lambda x: x.std(1), lambda t: t.std(1)),
    "amax": (lambda x: x.amax(1), lambda t: t.amax(1)),
    "amin": (lambda x: x.amin(1), lambda t: t.amin(1)),
    "max": (lambda x: x.max(1).values, lambda t: t.max(1).values),
    "argmax": (lambda x: x.argmax(1), lambda t: t.argmax(1)),
    "cumsum": (lambda x: x.cumsum(1), lambda t: t.cumsum(1)),
    "sort": (lambda x: x.sort(1).values, lambda t: t.sort(1).values),
    "norm": (lambda x: x.norm(dim=1), lambda t: t.norm(dim=1)),
}


@pytest.mark.parametrize("shape", [(0, 4), (4, 0)])
@pytest.mark.parametrize("name", list(EMPTY))
def test_reductions_over_empty_dims_match_torch(name: str, shape: tuple[int, int]) -> None:
    fn, ref = EMPTY[name]
    x = lucid.zeros(*shape, requires_grad=True)
    t = torch.zeros(shape, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # both warn about var's degrees of freedom
        try:
            u = ref(t)
        except IndexError as e:
            # PyTorch refuses (max of an empty slice): lucid too, with a message.
            assert "non-zero size" in str(e)
            with pytest.raises(IndexError, match=r"expected reduction dim 1 to have non-zero size"):
                fn(x)
            return
        y = fn(x)
    _compare(y, u)
    assert y.dtype == np.dtype(str(u.dtype).removeprefix("torch."))
    if u.requires_grad:
        y.sum().backward()
        u.sum().backward()
        _compare(x.grad, t.grad)


def test_full_reduction_of_an_empty_tensor_says_to_pass_a_dim() -> None:
    with pytest.raises(RuntimeError, match=r"max\(\) of an empty tensor \(shape \(0, 4\)\)"):
        lucid.zeros(0, 4).max()
    with pytest.raises(RuntimeError):
        torch.zeros(0, 4).max()
    assert lucid.zeros(0, 4).sum().item() == 0.0


class _ReturnsText(lucid.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        return "not an array"

    @staticmethod
    def backward(ctx, grad):
        return grad


class _ReturnsObjects(_ReturnsText):
    @staticmethod
    def forward(ctx, x):
        return np.array([None, 1], dtype=object)


class _ReturnsScalar(_ReturnsText):
    @staticmethod
    def forward(ctx, x):
        return np.float32(x.sum())


def test_a_custom_function_must_return_an_array_of_numbers() -> None:
    x = lucid.ones(2, requires_grad=True)
    with pytest.raises(TypeError, match=r"_ReturnsText.forward returned str; it must return"):
        _ReturnsText.apply(x)
    with pytest.raises(TypeError, match=r"_ReturnsObjects.forward returned ndarray object"):
        _ReturnsObjects.apply(x)
    # NumPy scalars (what a full reduction of an array gives) are fine.
    y = _ReturnsScalar.apply(x)
    assert y.shape == () and y.item() == 2.0
