"""Fixtures for the nn tests: copy torch weights into lucid, compare with torch, gradcheck."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest

import lucid


def _load_torch_weights(module: lucid.nn.Module, torch_module: Any) -> None:
    """Copy ``torch_module``'s state into ``module`` through ``load_state_dict(strict=True)``.

    Passing strictly proves that lucid's parameter and buffer names are PyTorch's.
    """
    state = {k: v.detach().numpy() for k, v in torch_module.state_dict().items()}
    result = module.load_state_dict(state)
    assert result.missing_keys == [] and result.unexpected_keys == []


def _assert_parity(
    module: Any,
    torch_module: Any,
    *arrays: np.ndarray,
    atol: float = 1e-5,
    rtol: float = 1e-4,
    backward: bool = True,
    seed: int = 0,
) -> None:
    """Same weights, same input: outputs, input gradients and parameter gradients match torch.

    ``module`` and ``torch_module`` are lucid and torch modules (weights are
    copied from torch) or two plain functions of the inputs. Floating input
    arrays require gradients; integer ones (class indices) do not.
    """
    torch = pytest.importorskip("torch")
    if isinstance(module, lucid.nn.Module):
        _load_torch_weights(module, torch_module)
    xs = [lucid.tensor(a, requires_grad=a.dtype.kind == "f" and backward) for a in arrays]
    ts = [torch.tensor(a, requires_grad=a.dtype.kind == "f" and backward) for a in arrays]
    out, tout = module(*xs), torch_module(*ts)
    np.testing.assert_allclose(out.data, tout.detach().numpy(), atol=atol, rtol=rtol)
    assert out.dtype == np.float32
    if not backward:
        return
    grad = np.random.default_rng(seed).standard_normal(out.shape).astype(np.float32)
    out.backward(grad)
    tout.backward(torch.tensor(grad))
    for x, t in zip(xs, ts, strict=True):
        if t.requires_grad:
            np.testing.assert_allclose(x.grad.data, t.grad.numpy(), atol=atol, rtol=rtol)
    if isinstance(module, lucid.nn.Module):
        torch_params = dict(torch_module.named_parameters())
        for name, p in module.named_parameters():
            np.testing.assert_allclose(
                p.grad.data, torch_params[name].grad.numpy(), atol=atol, rtol=rtol, err_msg=name
            )


def _gradcheck(fn: Any, *arrays: np.ndarray, **tensors_kw: Any) -> None:
    """``lucid.autograd.gradcheck`` of ``fn`` on float64 tensors made from ``arrays``."""
    xs: Sequence[Any] = [
        lucid.tensor(a, dtype=lucid.float64, requires_grad=True) if a.dtype.kind == "f" else a
        for a in arrays
    ]
    assert lucid.autograd.gradcheck(fn, xs, **tensors_kw)


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)


@pytest.fixture(autouse=True)
def _seed_lucid() -> None:
    lucid.manual_seed(0)


@pytest.fixture
def load_torch_weights() -> Any:
    return _load_torch_weights


@pytest.fixture
def assert_parity() -> Any:
    return _assert_parity


@pytest.fixture
def gradcheck() -> Any:
    return _gradcheck
