"""Matrix products split over lucid's threads: same results as NumPy, BLAS on one thread each."""

from __future__ import annotations

import math
import threading
import time

import numpy as np
import pytest
from threadpoolctl import threadpool_info

import lucid
from lucid._kernels import _matmul


def _blas_threads() -> set[int]:
    return {i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"}


@pytest.fixture
def two_threads(monkeypatch):
    """Two threads, in the regime of large products (a large one was just seen)."""
    before = lucid.get_num_threads()
    lucid.set_num_threads(2)
    monkeypatch.setattr(_matmul, "_last_large", time.monotonic())
    yield
    lucid.set_num_threads(before)


@pytest.fixture
def parts(monkeypatch):
    """Each block's thread and the BLAS thread counts it ran under."""
    seen: list[tuple[int, set[int], tuple[int, ...]]] = []
    original = _matmul._product

    def spy(a, b, out):
        seen.append((threading.get_ident(), _blas_threads(), out.shape))
        original(a, b, out)

    monkeypatch.setattr(_matmul, "_product", spy)
    return seen


CASES = {
    # name: shapes of a and b, and the axis of the result that is cut
    "rows": ((300, 64), (64, 40), 0),
    "columns (fewer rows than columns)": ((100, 256), (256, 512), 1),
    "batch": ((4, 3, 50, 32), (4, 3, 32, 60), 0),
    "broadcast batch": ((1, 3, 70, 32), (5, 1, 32, 60), 0),
    "second batch axis": ((1, 6, 70, 32), (1, 6, 32, 60), 1),
    "shared matrix": ((5, 70, 32), (32, 90), 0),
}


@pytest.mark.parametrize("name", CASES)
def test_split_products_match_numpy(name, rng, two_threads, parts):
    a_shape, b_shape, axis = CASES[name]
    a = rng.standard_normal(a_shape).astype(np.float32)
    b = rng.standard_normal(b_shape).astype(np.float32)
    got = _matmul.matmul(a, b)
    np.testing.assert_allclose(got, np.matmul(a, b), rtol=1e-5, atol=1e-5)
    assert len(parts) == 2 and len({ident for ident, _, _ in parts}) == 2
    assert all(blas == {1} for _, blas, _ in parts), "BLAS started threads of its own"
    assert sum(shape[axis] for _, _, shape in parts) == got.shape[axis]


def test_transposed_operands_and_strided_out(rng, two_threads, parts):
    a = rng.standard_normal((64, 300)).astype(np.float32).T  # (300, 64), Fortran order
    b = rng.standard_normal((40, 64)).astype(np.float32).T
    out = np.zeros((40, 300), np.float32).T
    _matmul.matmul(a, b, out=out)
    np.testing.assert_allclose(out, a @ b, rtol=1e-5, atol=1e-5)
    assert len(parts) == 2


def test_small_products_stay_on_the_calling_thread(rng, two_threads, parts):
    a = rng.standard_normal((8, 16)).astype(np.float32)
    b = rng.standard_normal((16, 8)).astype(np.float32)
    np.testing.assert_allclose(_matmul.matmul(a, b), a @ b, rtol=1e-6)
    assert parts == []


def test_one_thread_runs_numpy_directly(rng, parts):
    before = lucid.get_num_threads()
    lucid.set_num_threads(1)
    try:
        a = rng.standard_normal((300, 64)).astype(np.float32)
        b = rng.standard_normal((64, 40)).astype(np.float32)
        np.testing.assert_allclose(_matmul.matmul(a, b), a @ b, rtol=1e-6)
    finally:
        lucid.set_num_threads(before)
    assert parts == []


def test_an_error_in_a_block_reaches_the_caller(rng, two_threads, monkeypatch):
    def fail(a, b, out):
        raise FloatingPointError("block failed")

    monkeypatch.setattr(_matmul, "_product", fail)
    a = rng.standard_normal((300, 64)).astype(np.float32)
    with pytest.raises(FloatingPointError, match="block failed"):
        _matmul.matmul(a, a.T)
    # The helper is free again: the next product runs.
    monkeypatch.undo()
    lucid.set_num_threads(2)
    np.testing.assert_allclose(_matmul.matmul(a, a.T), a @ a.T, rtol=1e-4, atol=1e-3)


def test_layers_use_the_split(rng, two_threads, parts):
    """Linear, convolution and attention, forward and backward, all split their products."""
    x = lucid.tensor(rng.standard_normal((2, 8, 16, 16)).astype(np.float32), requires_grad=True)
    conv = lucid.nn.Conv2d(8, 32, 3, padding=1)
    linear = lucid.nn.Linear(32, 64)
    tokens = conv(x).flatten(2).transpose(1, 2)  # (2, 256, 32)
    h = linear(tokens).reshape(2, 256, 4, 16).transpose(1, 2)
    y = lucid.nn.functional.scaled_dot_product_attention(h, h, h)
    y.sum().backward()
    # conv 1 + 2, linear 1 + 2, attention 2 + 4 products, each cut in two
    assert len(parts) == 2 * 12
    assert all(blas == {1} for _, blas, _ in parts)


def test_long_sums_are_shared_out(rng, two_threads, parts):
    """A weight gradient's shape: each thread sums half of the terms into its own result."""
    x = rng.standard_normal((2000, 24)).astype(np.float32)
    g = rng.standard_normal((2000, 40)).astype(np.float32)
    alone = _matmul.matmul(x.T, g)  # a forward product: one block per thread, exact
    assert [shape for _, _, shape in parts] == [(24, 20), (24, 20)]
    parts.clear()
    got = _matmul.matmul(x.T, g, gradient=True)
    np.testing.assert_allclose(got, x.T @ g, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(got, alone, rtol=1e-4, atol=1e-4)
    assert [shape for _, _, shape in parts] == [(24, 40), (24, 40)]
    assert len({ident for ident, _, _ in parts}) == 2


@pytest.mark.parametrize("name", CASES)
@pytest.mark.parametrize("regime", ["large products", "small products only"])
def test_products_do_not_depend_on_the_thread_count(name, regime, rng, monkeypatch):
    a_shape, b_shape, _ = CASES[name]
    a = rng.standard_normal(a_shape).astype(np.float32)
    b = rng.standard_normal(b_shape).astype(np.float32)
    last_large = time.monotonic() if regime == "large products" else -math.inf
    monkeypatch.setattr(_matmul, "_last_large", last_large)
    before = lucid.get_num_threads()
    try:
        lucid.set_num_threads(1)
        one = _matmul.matmul(a, b)
        lucid.set_num_threads(2)
        two = _matmul.matmul(a, b)
    finally:
        lucid.set_num_threads(before)
    np.testing.assert_array_equal(one, two)


def test_small_products_alone_run_on_blas_threads(rng, monkeypatch, parts):
    """With no large product lately (batch 1), BLAS's own threads take the small ones."""
    before = lucid.get_num_threads()
    lucid.set_num_threads(2)
    seen: list[set[int]] = []
    original = np.matmul

    def spy(*args, **kwargs):
        seen.append(_blas_threads())
        return original(*args, **kwargs)

    monkeypatch.setattr(_matmul.np, "matmul", spy)
    a = rng.standard_normal((300, 64)).astype(np.float32)
    b = rng.standard_normal((64, 40)).astype(np.float32)
    try:
        monkeypatch.setattr(_matmul, "_last_large", -math.inf)
        np.testing.assert_allclose(_matmul.matmul(a, b), a @ b, rtol=1e-5, atol=1e-5)
        assert parts == [] and seen == [{2}]
        assert _blas_threads() == {1}, "BLAS was left on its own threads"
        # A large product: from now on the small ones are split too.
        big = rng.standard_normal((2048, 256)).astype(np.float32)
        _matmul.matmul(big, rng.standard_normal((256, 256)).astype(np.float32))
        parts.clear()
        _matmul.matmul(a, b)
        assert len(parts) == 2
    finally:
        lucid.set_num_threads(before)
