"""Type promotion as PyTorch's: the result dtype of mixed operands, and where it refuses."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pytest

import lucid
import lucid.nn as nn
import lucid.nn.functional as F

torch = pytest.importorskip("torch")

DTYPES = ["bool", "uint8", "int8", "int32", "int64", "float16", "float32", "float64"]


def _lucid(dtype: str, ndim: int) -> lucid.Tensor:
    return lucid.ones(*(2,) * ndim, dtype=np.dtype(dtype))


def _torch(dtype: str, ndim: int) -> Any:
    return torch.ones((2,) * ndim, dtype=getattr(torch, dtype))


def _name(t: Any) -> str:
    return str(t.dtype).removeprefix("torch.")


# Dimensioned tensor with a dimensioned or a 0-d tensor, every pair of dtypes.
PAIRS = [(a, b, nb) for a, b in itertools.product(DTYPES, DTYPES) for nb in (1, 0)]


@pytest.mark.parametrize(("a", "b", "b_ndim"), PAIRS)
def test_tensor_tensor_promotion_matches_torch(a: str, b: str, b_ndim: int) -> None:
    x, y = _lucid(a, 1), _lucid(b, b_ndim)
    t, u = _torch(a, 1), _torch(b, b_ndim)
    assert lucid.result_type(x, y) == np.dtype(str(torch.result_type(t, u)).removeprefix("torch."))
    assert (x * y).dtype == np.dtype(_name(t * u))
    assert lucid.cat([x, y.reshape(-1)]).dtype == np.dtype(_name(torch.cat([t, u.reshape(-1)])))


@pytest.mark.parametrize("a", DTYPES)
@pytest.mark.parametrize("scalar", [True, 3, 2.5])
def test_python_scalars_never_upcast_a_tensor(a: str, scalar: Any) -> None:
    x, t = _lucid(a, 1), _torch(a, 1)
    assert (x * scalar).dtype == np.dtype(_name(t * scalar))
    assert (scalar * x).dtype == np.dtype(_name(scalar * t))
    assert lucid.where(x > 0, x, scalar).dtype == np.dtype(_name(torch.where(t > 0, t, scalar)))


@pytest.mark.parametrize(
    ("a", "b"),
    list(itertools.product(["bool", "int32", "int64", "float16", "float32", "float64"], repeat=2)),
)
def test_true_division_matches_torch(a: str, b: str) -> None:
    x, y, t, u = _lucid(a, 1), _lucid(b, 1), _torch(a, 1), _torch(b, 1)
    assert (x / y).dtype == np.dtype(_name(t / u))
    assert (x / 2).dtype == np.dtype(_name(t / 2))


def test_the_issue_examples() -> None:
    assert (lucid.tensor([7]) / lucid.tensor([2])).dtype == lucid.float32
    assert (lucid.tensor([7]) / lucid.tensor([2])).tolist() == [3.5]
    assert lucid.cat([lucid.tensor([1]), lucid.tensor([1.0])]).dtype == lucid.float32
    assert (lucid.ones(2) * lucid.tensor(2.0, dtype=lucid.float64)).dtype == lucid.float32


def test_promotion_keeps_gradients_flowing() -> None:
    x = lucid.ones(2, requires_grad=True)
    y = lucid.tensor(3.0, dtype=lucid.float64, requires_grad=True)
    (x * y).sum().backward()
    assert x.grad.dtype == lucid.float32 and y.grad.dtype == lucid.float64
    assert x.grad.tolist() == [3.0, 3.0] and y.grad.item() == 2.0


def test_float64_input_into_a_float32_model_is_an_error_as_in_torch() -> None:
    x = np.zeros((1, 2))
    with pytest.raises(RuntimeError, match="same dtype"):
        torch.nn.Linear(2, 2)(torch.tensor(x))
    with pytest.raises(
        RuntimeError,
        match=r"linear: expected all operands to have the same dtype, got float64 and "
        r"float32.*x\.float\(\)",
    ):
        nn.Linear(2, 2)(lucid.tensor(x, dtype=lucid.float64))
    with pytest.raises(RuntimeError, match="conv2d: expected all operands to have the same dtype"):
        nn.Conv2d(1, 1, 1)(lucid.zeros(1, 1, 2, 2, dtype=lucid.float64))
    with pytest.raises(RuntimeError, match="matmul: expected all operands to have the same dtype"):
        lucid.zeros(2, 2, dtype=lucid.float64) @ lucid.zeros(2, 2)
    with pytest.raises(RuntimeError, match="same dtype"):
        torch.zeros(2, 2, dtype=torch.float64) @ torch.zeros(2, 2)
    # The documented ways out: convert the input, or the model.
    assert nn.Linear(2, 2)(lucid.tensor(x, dtype=lucid.float64).float()).dtype == lucid.float32
    assert nn.Linear(2, 2).double()(lucid.tensor(x, dtype=lucid.float64)).dtype == lucid.float64
    assert F.linear(lucid.ones(1, 2), lucid.ones(3, 2)).dtype == lucid.float32
