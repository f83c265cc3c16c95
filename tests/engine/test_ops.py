"""Every differentiable op: a float64 gradient check and float32 parity with PyTorch."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest

import lucid

try:
    import torch
    import torch.nn.functional as F
except ImportError:  # the gradient checks still run; parity tests skip
    torch = F = None


@dataclass
class Case:
    id: str
    fn: Callable[..., Any]
    ref: Callable[..., Any]
    shapes: list[tuple[int, ...]]
    domain: str = "real"


COND = np.array([[True, False, True, False]])
MASK = np.array([True, False, True])
IDX = np.array([0, 2, 0, 0])


def _t(x: Any) -> Any:
    return torch.from_numpy(np.asarray(x))


def _all_axes(t: Any) -> tuple[int, ...]:
    return tuple(range(t.ndim))


CASES = [
    # arithmetic, with broadcasting and scalars on either side
    Case("add", lambda a, b: a + b, lambda a, b: a + b, [(3, 4), (4,)]),
    Case("add_3d", lambda a, b: a + b, lambda a, b: a + b, [(2, 1, 3), (4, 1)]),
    Case("sub", lambda a, b: a - b, lambda a, b: a - b, [(3, 1), (1, 4)]),
    Case("rsub_scalar", lambda a: 2 - a, lambda a: 2 - a, [(3, 4)]),
    Case("mul", lambda a, b: a * b, lambda a, b: a * b, [(2, 3, 4), (3, 1)]),
    Case("mul_scalar", lambda a: a * 1.5, lambda a: a * 1.5, [(5,)]),
    Case("div", lambda a, b: a / b, lambda a, b: a / b, [(3, 4), (4,)], "pos"),
    Case("rdiv_scalar", lambda a: 2 / a, lambda a: 2 / a, [(3, 4)], "pos"),
    Case("pow", lambda a, b: a**b, lambda a, b: a**b, [(3, 4), (4,)], "pos"),
    Case("pow_scalar", lambda a: a**3, lambda a: a**3, [(3, 4)]),
    Case("rpow_scalar", lambda a: 2.0**a, lambda a: 2.0**a, [(3, 4)]),
    Case("neg", lambda a: -a, lambda a: -a, [(3, 4)]),
    Case("matmul", lambda a, b: a @ b, lambda a, b: a @ b, [(3, 4), (4, 5)]),
    Case("matmul_batched", lambda a, b: a @ b, lambda a, b: a @ b, [(2, 3, 4), (2, 4, 5)]),
    Case("matmul_shared_weight", lambda a, b: a @ b, lambda a, b: a @ b, [(2, 3, 4), (4, 5)]),
    Case("matmul_batch_bcast", lambda a, b: a @ b, lambda a, b: a @ b, [(2, 1, 3, 4), (3, 4, 2)]),
    Case("matmul_vec_mat", lambda a, b: a @ b, lambda a, b: a @ b, [(4,), (2, 4, 5)]),
    Case("matmul_mat_vec", lambda a, b: a @ b, lambda a, b: a @ b, [(2, 3, 4), (4,)]),
    Case("matmul_vec_vec", lambda a, b: a @ b, lambda a, b: a @ b, [(4,), (4,)]),
    # elementwise
    Case("abs", lucid.abs, torch and torch.abs, [(3, 4)]),
    Case("exp", lucid.exp, torch and torch.exp, [(3, 4)]),
    Case("log", lucid.log, torch and torch.log, [(3, 4)], "pos"),
    Case("sqrt", lucid.sqrt, torch and torch.sqrt, [(3, 4)], "pos"),
    Case("rsqrt", lucid.rsqrt, torch and torch.rsqrt, [(3, 4)], "pos"),
    Case("sin", lucid.sin, torch and torch.sin, [(3, 4)]),
    Case("cos", lucid.cos, torch and torch.cos, [(3, 4)]),
    Case("tanh", lucid.tanh, torch and torch.tanh, [(3, 4)]),
    Case("sigmoid", lucid.sigmoid, torch and torch.sigmoid, [(3, 4)]),
    Case("relu", lucid.relu, torch and torch.relu, [(3, 4)]),
    Case("erf", lucid.erf, torch and torch.erf, [(3, 4)]),
    Case("gelu", lucid.gelu, F and F.gelu, [(3, 4)]),
    Case(
        "gelu_tanh",
        lambda a: lucid.gelu(a, approximate="tanh"),
        lambda a: F.gelu(a, approximate="tanh"),
        [(3, 4)],
    ),
    Case("clip", lambda a: a.clip(-0.5, 0.5), lambda a: a.clamp(-0.5, 0.5), [(3, 4)]),
    Case("clip_min", lambda a: lucid.clamp(a, min=0.1), lambda a: a.clamp(min=0.1), [(3, 4)]),
    Case("maximum", lucid.maximum, torch and torch.maximum, [(3, 4), (4,)]),
    Case("minimum", lucid.minimum, torch and torch.minimum, [(3, 1), (1, 4)]),
    Case(
        "where",
        lambda a, b: lucid.where(lucid.tensor(COND), a, b),
        lambda a, b: torch.where(_t(COND), a, b),
        [(3, 4), (3, 1)],
    ),
    # reductions
    Case("sum_all", lambda a: a.sum(), lambda a: a.sum(), [(2, 3, 4)]),
    Case(
        "sum_axes_keepdims",
        lambda a: a.sum(axis=(0, 2), keepdims=True),
        lambda a: a.sum(dim=(0, 2), keepdim=True),
        [(2, 3, 4)],
    ),
    Case("mean_axis", lambda a: a.mean(axis=1), lambda a: a.mean(dim=1), [(2, 3, 4)]),
    Case("var_all", lambda a: a.var(), lambda a: a.var(), [(3, 4)]),
    Case(
        "var_axis_pop",
        lambda a: a.var(axis=-1, correction=0),
        lambda a: a.var(dim=-1, correction=0),
        [(2, 3, 4)],
    ),
    Case(
        "std_keepdims",
        lambda a: a.std(axis=(0, 1), keepdims=True),
        lambda a: a.std(dim=(0, 1), keepdim=True),
        [(2, 3, 4)],
    ),
    Case("amax_axis", lambda a: a.amax(axis=1), lambda a: a.amax(dim=1), [(3, 4)]),
    Case("max_dim_values", lambda a: a.max(1).values, lambda a: a.max(1).values, [(3, 4)]),
    Case(
        "min_dim_keepdim",
        lambda a: lucid.min(a, dim=0, keepdim=True)[0],
        lambda a: torch.min(a, dim=0, keepdim=True)[0],
        [(3, 4)],
    ),
    Case("max_all", lambda a: a.max(), lambda a: a.amax(dim=_all_axes(a)), [(3, 4)]),
    Case(
        "amin_keepdims",
        lambda a: a.amin(axis=0, keepdims=True),
        lambda a: a.amin(dim=0, keepdim=True),
        [(3, 4)],
    ),
    Case("logsumexp", lambda a: a.logsumexp(axis=1), lambda a: a.logsumexp(dim=1), [(2, 3, 4)]),
    Case(
        "logsumexp_all",
        lambda a: lucid.logsumexp(a),
        lambda a: a.logsumexp(dim=_all_axes(a)),
        [(3, 4)],
    ),
    Case("softmax", lucid.softmax, lambda a: a.softmax(-1), [(2, 3, 4)]),
    Case("softmax_axis0", lambda a: a.softmax(0), lambda a: a.softmax(0), [(3, 4)]),
    Case("log_softmax", lucid.log_softmax, lambda a: a.log_softmax(-1), [(2, 3, 4)]),
    Case("log_softmax_axis1", lambda a: a.log_softmax(1), lambda a: a.log_softmax(1), [(2, 3, 4)]),
    # PyTorch's spellings (dim=, keepdim=) and the ops that select by index
    Case("sum_dim", lambda a: a.sum(dim=(0, 2)), lambda a: a.sum(dim=(0, 2)), [(2, 3, 4)]),
    Case("mean_keepdim", lambda a: a.mean(1, keepdim=True), lambda a: a.mean(1, True), [(3, 4)]),
    Case("std_unbiased", lambda a: a.std(1, False), lambda a: a.std(1, False), [(3, 4)]),
    Case("var_dim", lambda a: lucid.var(a, dim=0), lambda a: torch.var(a, dim=0), [(3, 4)]),
    Case("amax_dims", lambda a: a.amax((0, 2)), lambda a: a.amax((0, 2)), [(2, 3, 4)]),
    Case("max_0d", lambda a: a.max(), lambda a: a.max(), [(3, 4)]),
    Case("max_dim", lambda a: a.max(dim=1)[0], lambda a: a.max(dim=1)[0], [(3, 4)]),
    Case("min_dim", lambda a: a.min(0, True).values, lambda a: a.min(0, True).values, [(3, 4)]),
    Case("max_binary", lucid.max, torch and torch.max, [(3, 4), (4,)]),
    Case("sort", lambda a: a.sort(1)[0], lambda a: a.sort(1)[0], [(3, 4)]),
    Case(
        "sort_descending",
        lambda a: lucid.sort(a, dim=0, descending=True).values,
        lambda a: torch.sort(a, dim=0, descending=True).values,
        [(3, 4)],
    ),
    Case("topk", lambda a: a.topk(2).values, lambda a: a.topk(2).values, [(3, 5)]),
    Case(
        "topk_smallest",
        lambda a: lucid.topk(a, 2, dim=0, largest=False)[0],
        lambda a: torch.topk(a, 2, dim=0, largest=False)[0],
        [(4, 3)],
    ),
    Case("cumsum", lambda a: a.cumsum(dim=1), lambda a: a.cumsum(dim=1), [(3, 4)]),
    Case("norm", lambda a: a.norm(), lambda a: a.norm(), [(3, 4)]),
    Case(
        "norm_dim",
        lambda a: a.norm(dim=1, keepdim=True),
        lambda a: a.norm(dim=1, keepdim=True),
        [(3, 4)],
    ),
    Case("norm_p1", lambda a: lucid.norm(a, 1, dim=0), lambda a: torch.norm(a, 1, dim=0), [(3, 4)]),
    Case("norm_p3", lambda a: a.norm(3), lambda a: a.norm(3), [(3, 4)]),
    Case(
        "norm_inf", lambda a: a.norm(float("inf"), 1), lambda a: a.norm(float("inf"), 1), [(3, 4)]
    ),
    # shape
    Case("reshape", lambda a: a.reshape(4, -1), lambda a: a.reshape(4, -1), [(2, 3, 4)]),
    Case("permute", lambda a: a.permute(2, 0, 1), lambda a: a.permute(2, 0, 1), [(2, 3, 4)]),
    Case("transpose", lambda a: a.transpose(0, 2), lambda a: a.transpose(0, 2), [(2, 3, 4)]),
    Case("swapaxes_mT", lambda a: a.mT, lambda a: a.mT, [(2, 3, 4)]),
    Case("T", lambda a: a.T, lambda a: a.permute(1, 0), [(3, 4)]),
    Case("flatten", lambda a: a.flatten(1), lambda a: a.flatten(1), [(2, 3, 4)]),
    Case("squeeze", lambda a: a.squeeze(1), lambda a: a.squeeze(1), [(3, 1, 4)]),
    Case("unsqueeze", lambda a: a.unsqueeze(-1), lambda a: a.unsqueeze(-1), [(3, 4)]),
    Case("expand", lambda a: a.expand(2, -1, 4), lambda a: a.expand(2, -1, 4), [(3, 1)]),
    Case("tile", lambda a: a.repeat(2, 1, 3), lambda a: a.repeat(2, 1, 3), [(2, 3)]),
    Case(
        "cat",
        lambda a, b, c: lucid.cat([a, b, c], axis=1),
        lambda a, b, c: torch.cat([a, b, c], dim=1),
        [(2, 1), (2, 3), (2, 2)],
    ),
    Case(
        "stack",
        lambda a, b: lucid.stack([a, b], axis=1),
        lambda a, b: torch.stack([a, b], dim=1),
        [(2, 3), (2, 3)],
    ),
    Case(
        "split",
        lambda a: lucid.cat([p * (i + 1) for i, p in enumerate(a.split(2, axis=1))], axis=1),
        lambda a: torch.cat([p * (i + 1) for i, p in enumerate(a.split(2, dim=1))], dim=1),
        [(2, 5)],
    ),
    Case(
        "split_sizes",
        lambda a: lucid.cat([p * (i + 1) for i, p in enumerate(lucid.split(a, [1, 3]))]),
        lambda a: torch.cat([p * (i + 1) for i, p in enumerate(torch.split(a, [1, 3]))]),
        [(4, 2)],
    ),
    Case(
        "chunk",
        lambda a: lucid.stack([p.sum() * (i + 1) for i, p in enumerate(a.chunk(3, axis=-1))]),
        lambda a: torch.stack([p.sum() * (i + 1) for i, p in enumerate(a.chunk(3, dim=-1))]),
        [(2, 7)],
    ),
    Case(
        "cat_dim",
        lambda a, b: lucid.cat([a, b], dim=-1),
        lambda a, b: torch.cat([a, b], dim=-1),
        [(2, 1), (2, 3)],
    ),
    Case("chunk_dim", lambda a: a.chunk(2, dim=0)[1], lambda a: a.chunk(2, dim=0)[1], [(4, 3)]),
    Case("squeeze_dim", lambda a: a.squeeze(dim=1), lambda a: a.squeeze(dim=1), [(3, 1, 4)]),
    Case("swapdims", lambda a: a.swapdims(0, 1), lambda a: a.swapdims(0, 1), [(3, 4)]),
    Case(
        "pad",
        lambda a: lucid.pad(a, ((1, 0), (2, 1)), value=0.5),
        lambda a: F.pad(a, (2, 1, 1, 0), value=0.5),
        [(2, 3)],
    ),
    Case("clone", lambda a: a.clone() * a, lambda a: a.clone() * a, [(3, 4)]),
    # indexing
    Case("index_basic", lambda a: a[1:, ::2], lambda a: a[1:, ::2], [(3, 4)]),
    Case("index_int_none", lambda a: a[None, ..., 0], lambda a: a[None, ..., 0], [(3, 4)]),
    Case("index_repeated", lambda a: a[[0, 0, 2]], lambda a: a[[0, 0, 2]], [(3, 4)]),
    Case(
        "index_tensor",
        lambda a: a[:, lucid.tensor(IDX)],
        lambda a: a[:, _t(IDX)],
        [(3, 4)],
    ),
    Case("index_mask", lambda a: a[lucid.tensor(MASK)], lambda a: a[_t(MASK)], [(3, 4)]),
    Case(
        "index_pairs",
        lambda a: a[[0, 1, 1], [1, 1, 3]],
        lambda a: a[[0, 1, 1], [1, 1, 3]],
        [(3, 4)],
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_gradcheck(case: Case, rng: np.random.Generator, make_inputs: Any) -> None:
    arrays = make_inputs(rng, case.shapes, case.domain)
    inputs = [lucid.tensor(a, dtype=lucid.float64, requires_grad=True) for a in arrays]
    assert lucid.autograd.gradcheck(case.fn, inputs)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_torch_parity(
    case: Case, rng: np.random.Generator, make_inputs: Any, torch_parity: Any
) -> None:
    pytest.importorskip("torch")
    torch_parity(case.fn, case.ref, make_inputs(rng, case.shapes, case.domain), rng)


def test_amax_ties_share_the_gradient_like_torch() -> None:
    torch = pytest.importorskip("torch")
    data = np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]], np.float32)
    x = lucid.tensor(data, requires_grad=True)
    t = torch.tensor(data, requires_grad=True)
    x.amax(axis=1).sum().backward()
    t.amax(dim=1).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy())
    np.testing.assert_allclose(x.grad.numpy(), [[0, 0.5, 0.5], [1 / 3, 1 / 3, 1 / 3]])


def test_maximum_ties_split_evenly() -> None:
    a = lucid.tensor([1.0, 2.0], requires_grad=True)
    b = lucid.tensor([1.0, 3.0], requires_grad=True)
    lucid.maximum(a, b).sum().backward()
    assert a.grad.tolist() == [0.5, 0.0]
    assert b.grad.tolist() == [0.5, 1.0]


def test_argmax_argmin() -> None:
    x = lucid.tensor([[1.0, 5.0, 2.0], [7.0, 0.0, 3.0]])
    assert x.argmax().item() == 3
    assert x.argmax(axis=1).tolist() == [1, 0]
    assert x.argmin(axis=0, keepdims=True).tolist() == [[0, 1, 0]]
    assert x.argmax(axis=-1).dtype == lucid.int64


def test_softmax_and_log_softmax_are_stable() -> None:
    x = lucid.tensor([[1000.0, 1000.0, -1000.0], [-1e4, 0.0, 1e4]], requires_grad=True)
    s = x.softmax()
    ls = x.log_softmax()
    assert np.isfinite(s.numpy()).all() and np.isfinite(ls.numpy()).all()
    np.testing.assert_allclose(s.numpy()[0], [0.5, 0.5, 0.0], atol=1e-7)
    np.testing.assert_allclose(ls.numpy()[0, :2], [np.log(0.5)] * 2, rtol=1e-6)
    (s.sum() + ls[:, :2].sum()).backward()
    assert np.isfinite(x.grad.numpy()).all()


def test_erf_float32_accuracy() -> None:
    x = np.linspace(-6, 6, 200_001, dtype=np.float32)
    exact = np.vectorize(__import__("math").erf)(x.astype(np.float64))
    assert np.abs(lucid.erf(lucid.from_numpy(x)).numpy() - exact).max() < 1e-7


def test_gelu_float32_matches_float64_reference() -> None:
    x = np.linspace(-10, 10, 100_003, dtype=np.float32)
    xt = lucid.tensor(x, requires_grad=True)
    y = lucid.gelu(xt)
    y.backward(np.ones_like(x))
    x64 = lucid.tensor(x, dtype=lucid.float64, requires_grad=True)
    y64 = lucid.gelu(x64)
    y64.backward(np.ones_like(x, dtype=np.float64))
    np.testing.assert_allclose(y.numpy(), y64.numpy(), atol=2e-6)
    np.testing.assert_allclose(xt.grad.numpy(), x64.grad.numpy(), atol=2e-6)
    assert y.dtype == xt.grad.dtype == lucid.float32


def test_float16_erf_and_gelu_keep_their_dtype() -> None:
    x = lucid.tensor([-1.0, 0.5], dtype=lucid.float16)
    assert lucid.erf(x).dtype == lucid.float16
    assert lucid.gelu(x, approximate="tanh").dtype == lucid.float16


def test_pad_forms() -> None:
    x = lucid.ones(2, 3)
    assert lucid.pad(x, 1).shape == (4, 5)
    assert lucid.pad(x, (1, 2)).shape == (5, 6)
    assert lucid.pad(x, ((0, 0), (0, 1))).tolist() == [[1, 1, 1, 0], [1, 1, 1, 0]]


def test_split_chunk_shapes_follow_pytorch() -> None:
    x = lucid.zeros(7, 2)
    assert [p.shape[0] for p in x.split(3)] == [3, 3, 1]
    assert [p.shape[0] for p in x.chunk(3)] == [3, 3, 1]
    assert [p.shape[0] for p in lucid.zeros(6, 1).chunk(4)] == [2, 2, 2]


def test_aliases_are_the_same_functions() -> None:
    assert lucid.concatenate is lucid.cat
    assert lucid.clamp is lucid.clip
    assert lucid.broadcast_to is lucid.expand
    assert lucid.Tensor.clamp is lucid.Tensor.clip


def test_functional_forms_match_methods() -> None:
    x = lucid.randn(2, 3)
    for name in ("exp", "tanh", "sigmoid", "relu", "abs", "erf", "gelu"):
        assert np.array_equal(getattr(lucid, name)(x).numpy(), getattr(x, name)().numpy())
    assert lucid.transpose(x).shape == (3, 2)
    assert lucid.flatten(x).shape == (6,)


def test_comparisons_and_logical_ops_give_bool_without_grad() -> None:
    x = lucid.tensor([1.0, 2.0, 3.0], requires_grad=True)
    for r in (x > 1, x >= 2, x < 2, x <= 1, x == 2, x != 2, lucid.eq(x, 2), lucid.gt(x, 1)):
        assert r.dtype == lucid.bool_ and not r.requires_grad
    assert ((x > 1) & (x < 3)).tolist() == [False, True, False]
    assert ((x < 2) | (x > 2)).tolist() == [True, False, True]
    assert (~(x > 1)).tolist() == [True, False, False]
    assert lucid.logical_xor(x > 1, x > 2).tolist() == [False, True, False]


def test_integer_inputs_to_float_ops_become_float32() -> None:
    i = lucid.tensor([1, 4])
    assert lucid.sqrt(i).dtype == lucid.float32
    assert lucid.mean(i).dtype == lucid.float32
    assert lucid.softmax(i).dtype == lucid.float32
    assert (i / 2).dtype == lucid.float32
    assert lucid.relu(i).dtype == lucid.int64
