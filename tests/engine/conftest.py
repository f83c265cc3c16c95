"""Shared helpers for the engine tests: seeded inputs and the PyTorch parity check."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pytest

import lucid


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)


@pytest.fixture(autouse=True)
def _seed_lucid() -> None:
    lucid.manual_seed(0)


def _make_inputs(
    rng: np.random.Generator, shapes: Sequence[tuple[int, ...]], domain: str
) -> list[np.ndarray]:
    """float64 arrays for the given shapes: ``real`` (normal), ``pos`` (in [0.5, 2])."""
    if domain == "pos":
        return [rng.uniform(0.5, 2.0, s) for s in shapes]
    return [rng.standard_normal(s) for s in shapes]


@pytest.fixture
def make_inputs() -> Callable[..., list[np.ndarray]]:
    return _make_inputs


def _torch_parity(
    lucid_fn: Callable[..., Any],
    torch_fn: Callable[..., Any],
    arrays: Sequence[np.ndarray],
    rng: np.random.Generator,
    atol: float = 1e-5,
    rtol: float = 1e-4,
) -> None:
    """Forward in float32 and one backward with a random output gradient must match PyTorch."""
    torch = pytest.importorskip("torch")
    xs = [lucid.tensor(a, dtype=lucid.float32, requires_grad=True) for a in arrays]
    ts = [torch.tensor(a, dtype=torch.float32, requires_grad=True) for a in arrays]
    out, tout = lucid_fn(*xs), torch_fn(*ts)
    assert out.dtype == lucid.float32
    assert out.shape == tuple(tout.shape)
    np.testing.assert_allclose(out.numpy(), tout.detach().numpy(), atol=atol, rtol=rtol)
    seed = rng.standard_normal(out.shape).astype(np.float32)
    out.backward(seed)
    tout.backward(torch.from_numpy(seed))
    for i, (x, t) in enumerate(zip(xs, ts, strict=True)):
        expected = np.zeros(x.shape, np.float32) if t.grad is None else t.grad.numpy()
        got = np.zeros(x.shape, np.float32) if x.grad is None else x.grad.numpy()
        assert got.dtype == np.float32, f"gradient of input {i} is {got.dtype}"
        np.testing.assert_allclose(got, expected, atol=atol, rtol=rtol, err_msg=f"input {i}")


@pytest.fixture
def torch_parity() -> Callable[..., None]:
    """``torch_parity(lucid_fn, torch_fn, arrays, rng)``: see ``_torch_parity``."""
    return _torch_parity
