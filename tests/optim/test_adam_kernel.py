"""Adam's compiled update gives the NumPy path's numbers, in every option and memory order."""

from __future__ import annotations

import numpy as np
import pytest

from lucid import _kernels

numba_kernels = pytest.importorskip("lucid._kernels._numba")

OPTIONS = [
    dict(weight_decay=0.0, decoupled=False, maximize=False, amsgrad=False),
    dict(weight_decay=0.1, decoupled=False, maximize=True, amsgrad=True),
    dict(weight_decay=0.3, decoupled=True, maximize=False, amsgrad=True),
    dict(weight_decay=0.01, decoupled=True, maximize=True, amsgrad=False),
]


def run(order: str, options: dict, calls: list[str]) -> list[np.ndarray]:
    """Three steps on a (300, 70) parameter stored in ``order``; the arrays afterwards."""
    rng = np.random.default_rng(0)
    options = dict(options)
    amsgrad = options.pop("amsgrad")
    p = np.asarray(rng.standard_normal((300, 70), dtype=np.float32), order=order)
    m, v, vmax = (np.zeros_like(p) for _ in range(3))
    for step in (1, 2, 3):
        g = np.asarray(rng.standard_normal(p.shape, dtype=np.float32), order=order)
        before = g.copy()
        _kernels.adam_update(
            p,
            g,
            m,
            v,
            vmax if amsgrad else None,
            step=step,
            lr=0.01,
            beta1=0.9,
            beta2=0.99,
            eps=1e-8,
            **options,
        )
        np.testing.assert_array_equal(g, before)  # the gradient is left alone
    return [p, m, v, vmax]


@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("options", OPTIONS, ids=str)
def test_compiled_update_matches_numpy(monkeypatch, order, options):
    calls: list[str] = []
    kernel = numba_kernels.adam

    def spy(*args):
        calls.append("adam")
        kernel(*args)

    monkeypatch.setattr(numba_kernels, "adam", spy)
    fast = run(order, options, calls)
    assert calls == ["adam"] * 3
    with _kernels.numpy_only():
        slow = run(order, options, calls)
    assert calls == ["adam"] * 3
    for a, b in zip(fast, slow, strict=True):
        np.testing.assert_allclose(a, b, rtol=2e-7, atol=1e-9)


def test_mixed_memory_orders_take_numpy_path(monkeypatch):
    monkeypatch.setattr(numba_kernels, "adam", lambda *args: pytest.fail("compiled path taken"))
    p = np.ones((40, 30), np.float32, order="F")
    g = np.ones((40, 30), np.float32)  # C order: no common 1-D view
    m, v = np.zeros_like(p), np.zeros_like(p)
    _kernels.adam_update(
        p,
        g,
        m,
        v,
        None,
        step=1,
        lr=0.1,
        beta1=0.9,
        beta2=0.999,
        eps=1e-8,
        weight_decay=0.0,
        decoupled=True,
        maximize=False,
    )
    np.testing.assert_allclose(p, 0.9, rtol=1e-6)
