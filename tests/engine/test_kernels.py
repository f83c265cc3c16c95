"""The numba kernels against the NumPy path they replace: same results, forward and backward."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Callable

import numpy as np
import pytest

import lucid
import lucid.nn.functional as F
from lucid import _kernels

pytest.importorskip("numba")

# Rows x features: above MIN_SIZE (serial kernels) and above PARALLEL_MIN (parallel ones).
SHAPES = {"serial": (96, 320), "parallel": (2048, 320)}


def _run(fn: Callable[..., lucid.Tensor], arrays: list[np.ndarray], seed: np.ndarray):
    """Output and input gradients of ``fn`` for ``arrays`` and output gradient ``seed``."""
    xs = [lucid.tensor(a, requires_grad=True) for a in arrays]
    out = fn(*xs)
    out.backward(lucid.tensor(seed))
    return [out.numpy(), *(x.grad.numpy() for x in xs)]


def _both_paths(fn, arrays, rng, atol=2e-6, rtol=1e-5) -> None:
    """``fn`` forward and backward with the compiled kernels and with NumPy alone agree."""
    out_shape = fn(*(lucid.tensor(a) for a in arrays)).shape
    assert _kernels.compiled(np.empty(out_shape, np.float32)) is not None, "too small to compile"
    seed = rng.standard_normal(out_shape).astype(np.float32)
    fast = _run(fn, arrays, seed)
    with _kernels.numpy_only():
        slow = _run(fn, arrays, seed)
    for i, (a, b) in enumerate(zip(fast, slow, strict=True)):
        assert a.dtype == np.float32
        np.testing.assert_allclose(a, b, atol=atol * np.abs(b).max(), rtol=rtol, err_msg=f"#{i}")


def _arrays(rng, *shapes, scale=1.0):
    return [(rng.standard_normal(s) * scale).astype(np.float32) for s in shapes]


@pytest.mark.parametrize("size", SHAPES)
def test_gelu(size, rng):
    _both_paths(F.gelu, _arrays(rng, SHAPES[size], scale=3.0), rng)


@pytest.mark.parametrize("size", SHAPES)
def test_layer_norm(size, rng):
    rows, d = SHAPES[size]
    arrays = _arrays(rng, (rows, d), (d,), (d,))
    arrays[0] += 2.0

    def fn(x, w, b):
        return F.layer_norm(x, (d,), w, b, eps=1e-6)

    _both_paths(fn, arrays, rng)


@pytest.mark.parametrize("size", SHAPES)
def test_linear(size, rng):
    rows, d = SHAPES[size]
    _both_paths(F.linear, _arrays(rng, (rows, 64), (d, 64), (d,)), rng, atol=1e-5)


@pytest.mark.parametrize("size", SHAPES)
def test_linear_gelu(size, rng):
    rows, d = SHAPES[size]
    arrays = _arrays(rng, (rows, 64), (d, 64), (d,))
    _both_paths(F.linear_gelu, arrays, rng, atol=1e-5)
    with lucid.no_grad():
        x, w, b = (lucid.tensor(a) for a in arrays)
        np.testing.assert_allclose(
            F.linear_gelu(x, w, b).numpy(), F.gelu(F.linear(x, w, b)).numpy(), atol=1e-6
        )


@pytest.mark.parametrize("size", SHAPES)
def test_attention(size, rng):
    rows = SHAPES[size][0]
    q, k, v = _arrays(rng, (4, 4, rows, 16), (4, 4, 49, 16), (4, 4, 49, 16), scale=2.0)
    _both_paths(F.scaled_dot_product_attention, [q, k, v], rng, atol=1e-5)


def test_nan_propagates(rng):
    x = rng.standard_normal(SHAPES["serial"]).astype(np.float32)
    x[3, 5] = np.nan
    with lucid.no_grad():
        t = lucid.tensor(x)
        assert np.isnan(F.gelu(t).numpy()[3, 5])
        assert np.isnan(F.layer_norm(t, (x.shape[1],)).numpy()[3]).all()
        assert np.isnan(F.softmax(t, dim=-1).numpy()[3]).all()


def test_threads_share_the_kernels(rng):
    """Calls from several Python threads at once each get their own, right, result."""
    arrays = [rng.standard_normal(SHAPES["parallel"]).astype(np.float32) for _ in range(4)]
    with _kernels.numpy_only():
        expected = [F.gelu(lucid.tensor(a)).numpy() for a in arrays]
    results: list[np.ndarray | None] = [None] * len(arrays)

    def work(i: int) -> None:
        for _ in range(5):
            results[i] = F.gelu(lucid.tensor(arrays[i])).numpy()

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(arrays))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for got, want in zip(results, expected, strict=True):
        np.testing.assert_allclose(got, want, atol=2e-6)


def test_no_graph_under_no_grad(rng):
    x = lucid.tensor(rng.standard_normal((256, 320)).astype(np.float32), requires_grad=True)
    with lucid.no_grad():
        out = F.layer_norm(F.gelu(x), (320,))
    assert out._ctx is None and not out.requires_grad


def _subprocess(code: str, **env: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, **env},
    )
    return done.stdout.strip()


def test_numba_is_imported_lazily():
    code = (
        "import sys, lucid, lucid.models; lucid.models.list_models(); print('numba' in sys.modules)"
    )
    assert _subprocess(code) == "False"


def test_disabled_by_environment():
    code = (
        "import sys, lucid; from lucid import _kernels; x = lucid.ones(256, 256); "
        "lucid.gelu(x); print('numba' in sys.modules, _kernels.compiled(x.data))"
    )
    assert _subprocess(code, LUCID_DISABLE_NUMBA="1") == "False None"
