"""Indexing (basic, advanced, assignment) and the errors bad input gets."""

from __future__ import annotations

import numpy as np
import pytest

import lucid

# ------------------------------------------------------------------ indexing ---


def test_repeated_indices_scatter_add() -> None:
    x = lucid.tensor([1.0, 2.0, 3.0], requires_grad=True)
    x[[2, 0, 2, 2]].sum().backward()
    assert x.grad.tolist() == [1.0, 0.0, 3.0]


def test_bool_mask_from_a_comparison() -> None:
    x = lucid.tensor([[-1.0, 2.0], [3.0, -4.0]], requires_grad=True)
    picked = x[x > 0]
    assert picked.tolist() == [2.0, 3.0]
    (picked * 2).sum().backward()
    assert x.grad.tolist() == [[0.0, 2.0], [2.0, 0.0]]


def test_mixed_slices_and_index_arrays() -> None:
    torch = pytest.importorskip("torch")
    data = np.arange(24.0).reshape(2, 3, 4)
    x = lucid.tensor(data, requires_grad=True)
    t = torch.tensor(data, requires_grad=True)
    idx = [[0, 1], [2, 2]]
    y = x[:, idx, 1:3]
    ty = t[:, idx, 1:3]
    assert y.shape == tuple(ty.shape)
    g = np.random.default_rng(0).standard_normal(y.shape)
    y.backward(g)
    ty.backward(torch.from_numpy(g))
    np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), rtol=1e-6)


def test_scalar_tensor_and_negative_indices() -> None:
    x = lucid.arange(12).reshape(3, 4)
    assert x[lucid.tensor(1)].tolist() == [4, 5, 6, 7]
    assert x[-1, -1].item() == 11
    assert x[..., ::-2].tolist()[0] == [3, 1]
    assert x[lucid.tensor(0) : lucid.tensor(2)].shape == (2, 4)


def test_basic_index_is_a_view_advanced_is_a_copy() -> None:
    x = lucid.zeros(3, 2)
    x[1:][0, 0] = 5.0
    assert x[1, 0].item() == 5.0
    x[[0]][0, 0] = 7.0
    assert x[0, 0].item() == 0.0


def test_setitem_with_tensor_index_and_value() -> None:
    x = lucid.zeros(4)
    x[lucid.tensor([0, 2])] = lucid.tensor([1.0, 2.0])
    x[x == 0] = -1.0
    assert x.tolist() == [1.0, -1.0, 2.0, -1.0]


def test_float_indices_are_refused() -> None:
    x = lucid.zeros(3)
    with pytest.raises(TypeError, match=r"cannot index with 1\.0"):
        x[1.0]
    with pytest.raises(TypeError, match="integer or bool, got dtype float32"):
        x[lucid.tensor([0.0, 1.0])]
    with pytest.raises(TypeError, match="integer or bool, got dtype float64"):
        x[np.array([0.5])]
    with pytest.raises(TypeError, match=r"cannot index with 0\.5"):
        x[[0, 0.5]]
    with pytest.raises(TypeError, match="integer or bool"):
        x[lucid.tensor([1.0])] = 2.0


def test_out_of_range_index_names_the_shape() -> None:
    with pytest.raises(IndexError, match=r"shape \(3, 2\)"):
        lucid.zeros(3, 2)[5]


# ------------------------------------------------------------------- errors ---


@pytest.mark.parametrize(
    ("op", "name"),
    [
        (lambda a, b: a + b, "add"),
        (lambda a, b: a - b, "sub"),
        (lambda a, b: a * b, "mul"),
        (lambda a, b: a / b, "div"),
        (lambda a, b: a**b, "pow"),
        (lucid.maximum, "maximum"),
        (lambda a, b: a < b, "less"),
    ],
)
def test_broadcast_errors_name_both_shapes(op, name) -> None:
    with pytest.raises(
        ValueError, match=rf"{name}: shapes \(2, 3\) and \(4,\) cannot be broadcast"
    ):
        op(lucid.ones(2, 3), lucid.ones(4))


A = lucid.ones(2, 3)
SHAPE_ERRORS = {
    "matmul": (lambda: A @ lucid.ones(4, 2), r"matmul shape mismatch: \(2, 3\) @ \(4, 2\)"),
    "matmul_batch": (
        lambda: lucid.ones(2, 2, 3) @ lucid.ones(3, 3, 1),
        r"batch dimensions of \(2, 2, 3\)",
    ),
    "matmul_scalar": (lambda: A @ lucid.tensor(2.0), "at least 1-D"),
    "reshape": (lambda: A.reshape(4, 2), r"shape \(2, 3\) \(6 elements\) into \(4, 2\)"),
    "cat": (lambda: lucid.cat([A, lucid.ones(2, 4)]), r"shapes \[\(2, 3\), \(2, 4\)\]"),
    "stack": (lambda: lucid.stack([A, lucid.ones(3, 2)]), r"got \[\(2, 3\), \(3, 2\)\]"),
    "expand": (lambda: A.expand(4, 3), r"cannot expand shape \(2, 3\) to \(4, 3\)"),
    "permute": (lambda: A.permute(0, 0), r"each of the 2 axes once, got \(0, 0\)"),
    "axis": (lambda: A.sum(axis=2), "dim 2 is out of range for a tensor with 2 dimensions"),
    "dim": (lambda: A.sum(dim=-3), "dim -3 is out of range for a tensor with 2 dimensions"),
    "axis_twice": (lambda: A.sum(axis=(1, -1)), "names the same dimension twice"),
    "split": (lambda: A.split([1, 2]), r"add up to 2"),
    "flatten": (lambda: A.flatten(1, 0), "start_dim 1 comes after end_dim 0"),
    "pad_pairs": (lambda: lucid.pad(A, ((1, 1),) * 3), "does not fit a tensor with 2 dim"),
    "pad_negative": (lambda: lucid.pad(A, -1), "non-negative"),
    "where": (lambda: lucid.where(A, A, A), "bool condition, got dtype float32"),
    "max_empty": (lambda: lucid.zeros(0).max(), r"max\(\) of an empty tensor \(shape \(0,\)\)"),
    "argmax_empty": (lambda: lucid.zeros(0).argmax(), r"argmax\(\) of an empty tensor"),
    "max_empty_dim": (lambda: lucid.zeros(4, 0).max(1), r"max\(\): expected reduction dim 1"),
}


@pytest.mark.parametrize("name", list(SHAPE_ERRORS))
def test_shape_errors_name_shapes(name: str) -> None:
    fn, pattern = SHAPE_ERRORS[name]
    with pytest.raises((ValueError, TypeError, IndexError, RuntimeError), match=pattern):
        fn()


def test_unsupported_settings_say_what_is_supported() -> None:
    x = lucid.ones(2)
    with pytest.raises(ValueError, match='"none" or "tanh"'):
        x.gelu("fast")
    with pytest.raises(ValueError, match='mode="constant"'):
        lucid.pad(x, 1, mode="reflect")
    with pytest.raises(ValueError, match="min and max"):
        x.clip()
    with pytest.raises(TypeError, match="list or tuple of tensors"):
        lucid.cat(x)
    with pytest.raises(TypeError, match="bool or integer"):
        lucid.logical_not(x)


def test_var_without_degrees_of_freedom_warns() -> None:
    with pytest.warns(RuntimeWarning, match="degrees of freedom"):
        v = lucid.ones(1).var()
    assert np.isnan(v.item())
