"""PyTorch's conventions: dim/keepdim (with NumPy's aliases), named tuples, Size, device, .to()."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import lucid

torch = pytest.importorskip("torch")

X = np.array([[1.0, 5.0, 2.0], [7.0, 0.0, 3.0]], np.float32)


def _both(data: np.ndarray = X) -> tuple[lucid.Tensor, Any]:
    return lucid.tensor(data, requires_grad=True), torch.tensor(data, requires_grad=True)


# ------------------------------------------------------------ dim / axis ---

# (name, call with PyTorch's spelling, the same with NumPy's spelling)
SPELLINGS = {
    "sum": (lambda x: x.sum(dim=1, keepdim=True), lambda x: x.sum(axis=1, keepdims=True)),
    "mean": (lambda x: x.mean(dim=0), lambda x: x.mean(axis=0)),
    "var": (lambda x: x.var(dim=1, keepdim=True), lambda x: x.var(axis=1, keepdims=True)),
    "std": (lambda x: x.std(dim=(0, 1)), lambda x: x.std(axis=(0, 1))),
    "amax": (lambda x: x.amax(dim=1, keepdim=True), lambda x: x.amax(axis=1, keepdims=True)),
    "amin": (lambda x: lucid.amin(x, dim=0), lambda x: lucid.amin(x, axis=0)),
    "max": (lambda x: x.max(dim=1).values, lambda x: x.max(axis=1).values),
    "min": (lambda x: lucid.min(x, dim=1)[0], lambda x: lucid.min(x, axis=1)[0]),
    "argmax": (lambda x: x.argmax(dim=1, keepdim=True), lambda x: x.argmax(axis=1, keepdims=True)),
    "argmin": (lambda x: lucid.argmin(x, dim=0), lambda x: lucid.argmin(x, axis=0)),
    "logsumexp": (lambda x: x.logsumexp(dim=1), lambda x: x.logsumexp(axis=1)),
    "softmax": (lambda x: lucid.softmax(x, dim=0), lambda x: lucid.softmax(x, axis=0)),
    "log_softmax": (lambda x: x.log_softmax(dim=0), lambda x: x.log_softmax(axis=0)),
    "cumsum": (lambda x: x.cumsum(dim=1), lambda x: x.cumsum(axis=1)),
    "norm": (lambda x: x.norm(dim=1), lambda x: x.norm(axis=1)),
    "sort": (lambda x: x.sort(dim=0).values, lambda x: x.sort(axis=0).values),
    "topk": (lambda x: x.topk(2, dim=1).values, lambda x: x.topk(2, axis=1).values),
    "all": (lambda x: (x > 0).all(dim=1), lambda x: (x > 0).all(axis=1)),
    "any": (lambda x: lucid.any(x > 4, dim=0), lambda x: lucid.any(x > 4, axis=0)),
    "squeeze": (lambda x: x[None].squeeze(dim=0), lambda x: x[None].squeeze(axis=0)),
    "unsqueeze": (lambda x: lucid.unsqueeze(x, dim=1), lambda x: lucid.unsqueeze(x, axis=1)),
    "cat": (lambda x: lucid.cat([x, x], dim=1), lambda x: lucid.concatenate([x, x], axis=1)),
    "stack": (lambda x: lucid.stack([x, x], dim=2), lambda x: lucid.stack([x, x], axis=2)),
    "split": (lambda x: x.split(1, dim=1)[2], lambda x: lucid.split(x, 1, axis=1)[2]),
    "chunk": (lambda x: x.chunk(2, dim=0)[1], lambda x: lucid.chunk(x, 2, axis=0)[1]),
}


@pytest.mark.parametrize("name", list(SPELLINGS))
def test_pytorch_and_numpy_spellings_agree_with_torch(name: str) -> None:
    torch_style, numpy_style = SPELLINGS[name]
    x = lucid.tensor(X)
    expected = torch_style(torch.tensor(X))
    for got in (torch_style(x), numpy_style(x)):
        assert got.shape == tuple(expected.shape)
        assert got.dtype == np.dtype(str(expected.dtype).removeprefix("torch."))
        np.testing.assert_allclose(got.numpy(), expected.numpy(), rtol=1e-6)


@pytest.mark.parametrize(
    "call",
    [
        lambda x: x.sum(dim=0, axis=1),
        lambda x: lucid.mean(x, keepdim=True, keepdims=True),
        lambda x: lucid.cat([x], dim=0, axis=0),
        lambda x: x.softmax(dim=0, axis=0),
    ],
)
def test_both_spellings_at_once_is_an_error_naming_both(call: Any) -> None:
    with pytest.raises(
        TypeError, match=r"both (dim|keepdim)= and its NumPy spelling (axis|keepdims)="
    ):
        call(lucid.tensor(X))


def test_dim_out_of_range_is_an_index_error_as_in_torch() -> None:
    with pytest.raises(IndexError, match="dim 2 is out of range for a tensor with 2 dimensions"):
        lucid.tensor(X).sum(dim=2)
    with pytest.raises(IndexError):
        torch.tensor(X).sum(dim=2)


# ------------------------------------------------------- values, indices ---


def test_the_issue_example_max_dim_returns_values_and_indices() -> None:
    values, idx = lucid.tensor(X).max(1)
    assert values.tolist() == [5.0, 7.0] and idx.tolist() == [1, 0]
    assert idx.dtype == lucid.int64
    result = lucid.tensor(X).max(1)
    assert isinstance(result, lucid.return_types.max) and isinstance(result, tuple)
    assert repr(result).startswith("lucid.return_types.max(values=tensor([5., 7.]")


@pytest.mark.parametrize("op", ["max", "min"])
@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("dim", [0, 1, -1])
def test_max_min_dim_match_torch_with_ties(op: str, dim: int, keepdim: bool) -> None:
    data = np.array([[3.0, 1.0, 3.0], [2.0, 2.0, 0.0]], np.float32)
    x, t = _both(data)
    got, expected = getattr(x, op)(dim, keepdim), getattr(t, op)(dim, keepdim)
    np.testing.assert_array_equal(got.values.numpy(), expected.values.detach().numpy())
    np.testing.assert_array_equal(got.indices.numpy(), expected.indices.numpy())
    seed = np.arange(1, got.values.numel() + 1, dtype=np.float32).reshape(got.values.shape)
    got.values.backward(seed)
    expected.values.backward(torch.from_numpy(seed))
    # The gradient goes to the selected index only (ties: the first).
    np.testing.assert_array_equal(x.grad.numpy(), t.grad.numpy())


def test_max_without_dim_is_0d_and_max_with_a_tensor_is_maximum() -> None:
    x, t = _both()
    assert x.max().shape == () and x.max().item() == t.max().item()
    y = lucid.tensor([[4.0, 4.0, 4.0]])
    np.testing.assert_array_equal(
        lucid.max(x, y).numpy(), torch.max(t, torch.tensor([[4.0] * 3])).detach()
    )
    with pytest.raises(TypeError, match=r"takes one dim, got \(0, 1\); use lucid.amax"):
        x.max((0, 1))


@pytest.mark.parametrize("descending", [False, True])
def test_sort_matches_torch_stable_with_nan_and_ties(descending: bool) -> None:
    data = np.array([[2.0, np.nan, 1.0, 2.0, -1.0], [0.0, 0.0, 5.0, -3.0, 0.0]], np.float32)
    x, t = _both(data)
    got = x.sort(dim=1, descending=descending)
    expected = t.sort(dim=1, descending=descending, stable=True)
    np.testing.assert_array_equal(got.values.numpy(), expected.values.detach().numpy())
    np.testing.assert_array_equal(got.indices.numpy(), expected.indices.numpy())
    assert isinstance(got, lucid.return_types.sort)


@pytest.mark.parametrize("largest", [True, False])
def test_topk_matches_torch(largest: bool) -> None:
    data = np.array([[1.0, 5.0, 3.0, 4.0], [9.0, -1.0, 2.0, 8.0]], np.float32)
    x, t = _both(data)
    got, expected = x.topk(3, dim=1, largest=largest), t.topk(3, dim=1, largest=largest)
    np.testing.assert_array_equal(got.values.numpy(), expected.values.detach().numpy())
    np.testing.assert_array_equal(got.indices.numpy(), expected.indices.numpy())
    got.values.sum().backward()
    expected.values.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), t.grad.numpy())
    with pytest.raises(IndexError, match="k=5 is out of range for dim 1 of size 4"):
        x.topk(5, dim=1)


@pytest.mark.parametrize("dim", [None, 0, 1])
@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("op", ["argmax", "argmin"])
def test_argmax_argmin_match_torch(op: str, dim: int | None, keepdim: bool) -> None:
    data = np.array([[3.0, 7.0, 7.0], [7.0, 0.0, 0.0]], np.float32)
    got = getattr(lucid.tensor(data), op)(dim=dim, keepdim=keepdim)
    expected = getattr(torch.tensor(data), op)(dim=dim, keepdim=keepdim)
    assert got.dtype == lucid.int64 and got.shape == tuple(expected.shape)
    np.testing.assert_array_equal(got.numpy(), expected.numpy())


def test_cumsum_of_integers_is_int64_as_in_torch() -> None:
    data = np.array([[1, 2], [3, 4]], np.int32)
    got, expected = lucid.tensor(data).cumsum(0), torch.tensor(data).cumsum(0)
    assert got.dtype == lucid.int64 and str(expected.dtype) == "torch.int64"
    np.testing.assert_array_equal(got.numpy(), expected.numpy())


# ----------------------------------------------------- size, device, .to ---


def test_size_numel_dim_shape_as_in_torch() -> None:
    x, t = lucid.zeros(2, 3, 4), torch.zeros(2, 3, 4)
    assert isinstance(x.size(), lucid.Size) and isinstance(x.shape, lucid.Size)
    assert x.size() == tuple(t.size()) and x.shape == tuple(t.shape)
    assert x.size(1) == t.size(1) and x.size(-1) == t.size(-1) and isinstance(x.size(0), int)
    assert x.numel() == t.numel() and x.dim() == t.dim() and x.ndim == t.ndim
    assert x.shape[1:] == (3, 4) and isinstance(x.shape[1:], lucid.Size)
    assert x.size().numel() == t.size().numel()
    with pytest.raises(IndexError, match="dim 3 is out of range"):
        x.size(3)


def test_device_and_to() -> None:
    x = lucid.ones(2)
    assert x.device == lucid.device("cpu") == lucid.device(lucid.device("cpu"))
    assert (lucid.device("cpu") == lucid.device("cpu:0")) == (
        torch.device("cpu") == torch.device("cpu:0")
    )
    assert repr(x.device) == repr(torch.device("cpu")) and str(x.device) == "cpu"
    assert lucid.device("cpu:0").index == 0 and str(lucid.device("cpu", 0)) == "cpu:0"
    assert x.to("cpu") is x and x.to(lucid.device("cpu")) is x and x.cpu() is x
    assert x.to(lucid.float32) is x and x.to(lucid.float32, copy=True) is not x
    y = x.to("cpu", lucid.float64)
    assert y.dtype == lucid.float64 and x.dtype == lucid.float32
    assert x.to(dtype=lucid.int64, device="cpu").dtype == lucid.int64
    assert x.to(lucid.zeros(1, dtype=lucid.float16)).dtype == lucid.float16
    with pytest.raises(RuntimeError, match="lucid runs on the CPU only, got device 'cuda'"):
        x.to("cuda")
    with pytest.raises(RuntimeError, match="CPU only"):
        x.cuda()


def test_to_is_differentiable_between_floating_dtypes() -> None:
    x = lucid.ones(2, requires_grad=True)
    (x.to(lucid.float64) * 3).sum().backward()
    assert x.grad.dtype == lucid.float32 and x.grad.tolist() == [3.0, 3.0]


def test_conversions() -> None:
    x = lucid.tensor([[1.5, 2.0]], requires_grad=True)
    assert x.tolist() == [[1.5, 2.0]] and x.sum().item() == 3.5
    assert isinstance(x.numpy(), np.ndarray) and x.detach().numpy() is x.data
    with pytest.raises(RuntimeError, match="a Tensor with 2 elements cannot be converted"):
        x.item()
    with pytest.raises(RuntimeError, match="a Tensor with 2 elements cannot be converted"):
        torch.ones(2).item()


def test_module_to_takes_devices_dtypes_and_tensors_like_torch() -> None:
    layer = lucid.nn.Linear(2, 2)
    assert layer.to(lucid.device("cpu")) is layer and layer.to(device="cpu") is layer
    assert layer.weight.dtype == lucid.float32
    layer.to("cpu", dtype=lucid.float64)
    assert layer.weight.dtype == lucid.float64 and layer.bias.dtype == lucid.float64
    layer.to(lucid.zeros(1))
    assert layer.weight.dtype == lucid.float32
    with pytest.raises(RuntimeError, match="CPU only, got device 'cuda:0'"):
        layer.to("cuda:0")
    assert layer.weight.dtype == lucid.float32


def test_split_and_chunk_return_tuples_as_in_torch() -> None:
    x, t = lucid.tensor(X), torch.tensor(X)
    for got, expected in ((x.split(2, dim=1), t.split(2, dim=1)), (x.chunk(2), t.chunk(2))):
        assert isinstance(got, tuple) and isinstance(expected, tuple)
        assert [p.shape for p in got] == [tuple(p.shape) for p in expected]
